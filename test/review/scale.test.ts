import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startReviewServer, type ReviewServer } from '../../src/review/server.js';
import { writeSyntheticCatalog } from '../helpers/synthetic-catalog.js';

const N = 100_000;
let srv: ReviewServer;
let browser: BrowserContext;
let tb: TestBrowser;
let workdir: string;

before(async () => {
  // Not tempDir(): its clean-up, registered inside this hook, would run when the hook ends, and the
  // server opens the catalog per request.
  workdir = await mkdtemp(join(tmpdir(), 'imgsift-scale-'));
  await writeSyntheticCatalog(workdir, N);
  srv = await startReviewServer({ workdir, port: 0, reviewer: 'scale' });
  tb = await launchBrowser();
  browser = tb.context;
});
after(async () => {
  await tb?.close();
  await srv?.close();
  if (workdir) await rm(workdir, { recursive: true, force: true });
});

test('100,000 samples: the grid renders only what is visible and scrolls to the end', async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(srv.url);
  await page.waitForSelector('.tile');
  const kept = N - Math.ceil(N / 997); // dropped samples are hidden by default
  // Predicates run in the page (strings: this file is compiled without the DOM's types).
  await page.waitForFunction(`document.getElementById('count').textContent === '${kept.toLocaleString()} samples'`);
  const tiles = async () => page.evaluate<number>(`document.querySelectorAll('#grid .tile').length`);
  assert.ok((await tiles()) < 400, `only visible rows are in the page (${await tiles()} tiles)`);

  // Jump to the end: the last sample is shown within a few seconds, and the page stays small.
  const t0 = Date.now();
  await page.evaluate(`(() => { const g = document.getElementById('grid'); g.scrollTop = g.scrollHeight; })()`);
  await page.waitForSelector('.tile[data-id="img_0099999"]', { timeout: 10_000 });
  const jumpMs = Date.now() - t0;
  assert.ok((await tiles()) < 400);
  // Scroll through the middle in steps, as a person flicking down would.
  for (let k = 1; k <= 10; k++) {
    await page.evaluate(`(() => { const g = document.getElementById('grid'); g.scrollTop = g.scrollHeight * ${k / 11}; })()`);
    await page.waitForFunction(`document.querySelectorAll('#grid .tile').length > 0`);
  }
  assert.deepEqual(errors, []);
  process.stderr.write(`# 100k grid: jump to the end rendered in ${jumpMs} ms\n`);
});
