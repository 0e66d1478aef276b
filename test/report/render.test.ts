import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { Catalog } from '../../src/catalog/catalog.js';
import { writeReport } from '../../src/report/html.js';
import { tempDir } from '../helpers/tmp.js';
import { buildReportFixture } from './fixture.js';

const CHROMIUM = process.env.IMGSIFT_CHROMIUM ?? '/usr/bin/chromium';

test('the report renders offline in a headless browser: charts drawn, thumbnails decoded, no requests', async () => {
  assert.ok(existsSync(CHROMIUM), `no chromium at ${CHROMIUM}: apt-get install -y chromium (or set IMGSIFT_CHROMIUM)`);
  const dir = await tempDir();
  const fx = await buildReportFixture(dir, 40);
  const catalog = await Catalog.open(fx.workdir, { readOnly: true });
  const file = join(dir, 'report.html');
  try {
    await writeReport(catalog, fx.runId, file);
  } finally {
    catalog.close();
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url()); });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(file).href);
    // Runs in the page; a string, so the test's compiler neither needs DOM types nor rewrites it.
    const facts = (await page.evaluate(`(() => {
      const all = (sel) => Array.from(document.querySelectorAll(sel));
      const imgs = all('img.thumb');
      return {
        charts: all('svg.chart').length,
        wideBars: all('svg.chart rect.bar').filter((r) => r.getBBox().width > 1).length,
        tallBins: all('svg.hist rect.bin').filter((r) => r.getBBox().height > 0).length,
        images: imgs.length,
        decoded: imgs.filter((i) => i.complete && i.naturalWidth > 0).length,
        funnelWidth: document.querySelector('svg.funnel').getBoundingClientRect().width,
      };
    })()`)) as { charts: number; wideBars: number; tallBins: number; images: number; decoded: number; funnelWidth: number };
    assert.ok(facts.charts >= 5, `charts: ${facts.charts}`);
    assert.ok(facts.wideBars >= 10, `drawn bars: ${facts.wideBars}`);
    assert.ok(facts.tallBins >= 3, `histogram bins with height: ${facts.tallBins}`);
    assert.ok(facts.images >= 10);
    assert.equal(facts.decoded, facts.images, 'every thumbnail decodes');
    assert.ok(facts.funnelWidth > 300);
    // Clicking a thumbnail opens the enlarged view; sorting a table reorders it.
    await page.click('img.thumb');
    assert.equal(await page.isVisible('#zoom'), true);
    await page.keyboard.press('Escape');
    assert.equal(await page.isVisible('#zoom'), false);
    await page.screenshot({ path: join('/tmp', 'imgsift-report.png'), fullPage: true });
    assert.deepEqual(requests, []);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
