import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, type Page } from 'playwright-core';
import { launchBrowser, SCREENSHOT_DIR, type TestBrowser } from '../helpers/browser.js';
import { startReviewServer, type ReviewServer } from '../../src/review/server.js';
import { reviewFixture, type ReviewFixture } from './server-fixture.js';


let fx: ReviewFixture;
let srv: ReviewServer;
let browser: BrowserContext;
let tb: TestBrowser;

before(async () => {
  fx = await reviewFixture();
  srv = await startReviewServer({ workdir: fx.workdir, port: 0, reviewer: 'server-default' });
  tb = await launchBrowser();
  browser = tb.context;
});
after(async () => {
  await tb?.close();
  await srv?.close();
  await fx?.cleanup();
});

async function open(): Promise<Page> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  (page as Page & { errors: string[] }).errors = errors;
  await page.goto(srv.url);
  await page.waitForSelector('.tile img');
  return page;
}

test('the grid loads, filters with the sidebar, opens a sample and decides with the keyboard', async () => {
  const page = await open();
  await page.fill('#reviewer', 'kbd-reviewer');
  await page.dispatchEvent('#reviewer', 'change');
  const active = await srv.catalog.scalar(`SELECT count(*) FROM active`);
  await page.waitForFunction(`document.getElementById('count').textContent === '${active} samples'`);
  // Only visible rows are in the DOM.
  const tiles = await page.locator('.tile').count();
  assert.ok(tiles > 0 && tiles <= active);
  // Every visible thumbnail decodes.
  await page.waitForFunction(`[...document.querySelectorAll('.tile img')].slice(0, 8).every((i) => i.complete && i.naturalWidth > 0)`);
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'imgsift-review-grid.png') });

  // Filter: split = test, then label = the first label of that split.
  await page.click('[data-facet=split] [data-value=test]');
  const testCount = await srv.catalog.scalar(`SELECT count(*) FROM active WHERE split = 'test'`);
  await page.waitForFunction(`document.getElementById('count').textContent === '${testCount} samples'`);
  const splits = await page.$$eval('.tile .split', (els) => els.map((e) => e.textContent));
  assert.ok(splits.length > 0 && splits.every((s) => s === 'test'));

  // Move with the arrows, open with Enter, keep with k, tag with 1, relabel with l.
  await page.click('#grid', { position: { x: 5, y: 5 } });
  await page.keyboard.press('ArrowRight');
  const focused = await page.getAttribute('.tile.focus', 'data-id');
  assert.ok(focused);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail .info h2');
  assert.equal(await page.textContent('#detail .info h2'), focused);
  await page.keyboard.press('k');
  await page.waitForSelector(`.tile[data-id="${focused}"][data-decision=keep]`);
  await page.waitForFunction(`document.querySelector('#detail .hist b')?.textContent === 'decide'`);
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'imgsift-review-detail.png') });
  await page.keyboard.press('1');
  await page.waitForFunction(`document.querySelector('.tile[data-id="${focused}"] .chip.tag')?.textContent === 'mislabel_confirmed'`);
  await page.keyboard.press('Escape');
  await page.keyboard.press('ArrowRight');
  const second = await page.getAttribute('.tile.focus', 'data-id');
  await page.keyboard.press('l');
  await page.fill('#prompt-input', 'city');
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.tile[data-id="${second}"][data-decision=relabel]`);

  const d1 = await srv.catalog.one<{ action: string; reviewer: string }>(`SELECT action, reviewer FROM decisions WHERE sample_id = ?`, [focused]);
  assert.deepEqual(d1, { action: 'keep', reviewer: 'kbd-reviewer' });
  assert.equal(await srv.catalog.scalar(`SELECT count(*) FROM tags WHERE sample_id = ? AND tag = 'mislabel_confirmed'`, [focused]), 1);
  const d2 = await srv.catalog.one<{ action: string; new_label: string }>(`SELECT action, new_label FROM decisions WHERE sample_id = ?`, [second]);
  assert.deepEqual(d2, { action: 'relabel', new_label: 'city' });
  const events = await srv.catalog.all<{ action: string; who: string }>(
    `SELECT action, who FROM events WHERE sample_id IN (?, ?) ORDER BY id`, [focused, second]);
  assert.deepEqual(events.map((e) => e.action), ['decide', 'tag', 'decide']);
  assert.ok(events.every((e) => e.who === 'kbd-reviewer'));

  // u undoes the relabel.
  await page.keyboard.press('u');
  await page.waitForSelector(`.tile[data-id="${second}"][data-decision=""]`);
  assert.equal(await srv.catalog.scalar(`SELECT count(*) FROM decisions WHERE sample_id = ?`, [second]), 0);

  // ? lists the shortcuts.
  await page.keyboard.press('?');
  await page.waitForSelector('#help:not(.hidden) kbd');
  assert.match((await page.textContent('#help')) ?? '', /relabel/);
  await page.keyboard.press('Escape');

  // The decision facet follows.
  await page.waitForSelector('[data-facet=decision] [data-value=keep]');
  assert.deepEqual((page as Page & { errors: string[] }).errors, []);
  await page.close();
});

test('the duplicate and leak views show pairs side by side', async () => {
  const page = await open();
  await page.click('[data-view=duplicate]');
  await page.waitForSelector('.pair img');
  assert.equal(await page.locator('.pair').count(), Math.min(50, fx.duplicates.length));
  await page.waitForFunction(`[...document.querySelectorAll('.pair img')].slice(0, 4).every((i) => i.complete && i.naturalWidth > 0)`);
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'imgsift-review-pairs.png') });
  await page.click('[data-view=leak]');
  await page.waitForFunction(`document.querySelectorAll('.pair').length === ${fx.leaks.length}`);
  assert.match((await page.textContent('.pair .mid')) ?? '', /96\.9%/);
  await page.close();
});
