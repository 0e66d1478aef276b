import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, type Page } from 'playwright-core';
import { COLUMNS } from '../../src/catalog/catalog.js';
import { launchBrowser, SCREENSHOT_DIR, type TestBrowser } from '../helpers/browser.js';
import { startReviewServer, type ReviewServer } from '../../src/review/server.js';
import { reviewFixture, type ReviewFixture } from './server-fixture.js';

/**
 * The review app as a daily tool, in Debian's chromium: settling duplicate and leak pairs from the
 * keyboard, the detail view beside the matched copy with the evidence in words, zoom and fit,
 * sort, and the view kept in the address bar (reload and Back).
 */

let fx: ReviewFixture;
let srv: ReviewServer;
let browser: BrowserContext;
let tb: TestBrowser;

before(async () => {
  fx = await reviewFixture();
  srv = await startReviewServer({ workdir: fx.workdir, port: 0, reviewer: 'Kushagra' });
  tb = await launchBrowser({ deviceScaleFactor: 2 });
  browser = tb.context;
});
after(async () => {
  await tb?.close();
  await srv?.close();
  await fx?.cleanup();
});

type ErrPage = Page & { errors: string[] };
async function open(path = '/', before?: (page: Page) => Promise<unknown>): Promise<ErrPage> {
  const page = (await browser.newPage()) as ErrPage;
  // A full `npm test` runs two files at once on two cores, and the server makes thumbnails for
  // every tile on the same thread pool as its queries: allow a minute, not playwright's 30 s.
  page.setDefaultTimeout(60_000);
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
  await before?.(page);
  await page.goto(srv.url.replace(/\/$/, '') + path);
  return page;
}

const decisionOf = async (id: string) =>
  (await srv.catalog.one<{ action: string; reviewer: string }>(`SELECT action, reviewer FROM decisions WHERE sample_id = ?`, [id])) ?? null;

test('duplicates and leaks: j/k move, 1/2 keep one side, b keeps the best of a group, B the largest, u undoes', async () => {
  // The view comes from the address.
  const page = await open('/?view=duplicate');
  await page.waitForSelector('.pair.focus img');
  assert.equal(await page.getAttribute('[data-view=duplicate]', 'class'), 'tab active');
  const pairs = await page.$$eval('.pair', (els) => els.map((e) => ({ id: e.getAttribute('data-id')!, group: e.getAttribute('data-group')! })));
  assert.equal(pairs.length, fx.duplicates.length);
  // The group of 3 (an original with two exact copies) is listed together.
  const byKept = new Map<string, string[]>();
  for (const [copy, kept] of fx.duplicates) byKept.set(kept, [...(byKept.get(kept) ?? []), copy]);
  const [bigKept, bigCopies] = [...byKept].find(([, c]) => c.length === 2)!;
  const at = pairs.findIndex((p) => p.group === bigKept);
  assert.equal(pairs[at + 1].group, bigKept, 'members of a group are adjacent');

  // j moves to the second pair; 1 keeps its left side (the copy dedup kept) and removes the right.
  await page.keyboard.press('j');
  await page.waitForSelector('.pair.focus[data-index="1"]');
  const second = pairs[1];
  const keptOf2 = fx.duplicates.find(([c]) => c === second.id)![1];
  await page.keyboard.press('1');
  await page.waitForSelector(`.pair[data-index="1"] .side-img[data-side=right][data-decision=remove]`);
  await page.waitForSelector('.pair.focus[data-index="2"]', { timeout: 5000 });
  assert.deepEqual(await decisionOf(second.id), { action: 'remove', reviewer: 'Kushagra' });
  assert.deepEqual(await decisionOf(keptOf2), { action: 'keep', reviewer: 'Kushagra' });
  // k goes back up; 2 keeps the right side instead (one change), u undoes it.
  await page.keyboard.press('k');
  await page.waitForSelector('.pair.focus[data-index="1"]');
  await page.keyboard.press('2');
  await page.waitForSelector(`.pair[data-index="1"] .side-img[data-side=right][data-decision=keep]`);
  assert.equal((await decisionOf(keptOf2))?.action, 'remove');
  await page.keyboard.press('u');
  await page.waitForSelector(`.pair[data-index="1"] .side-img[data-side=right][data-decision=remove]`);
  assert.equal((await decisionOf(keptOf2))?.action, 'keep', 'undo restores the previous choice');

  // b on a pair of the group of 3: keep dedup's choice, remove both copies, focus moves past the group.
  await page.click(`.pair[data-index="${at + 1}"] .summary`);
  await page.waitForSelector(`.pair.focus[data-index="${at + 1}"]`);
  await page.keyboard.press('b');
  await page.waitForFunction(`document.querySelectorAll('.pair[data-group="${bigKept}"] .side-img[data-side=right][data-decision=remove]').length === 2`);
  assert.equal((await decisionOf(bigKept))?.action, 'keep');
  for (const c of bigCopies) assert.equal((await decisionOf(c))?.action, 'remove');
  if (at + 2 < pairs.length) await page.waitForSelector(`.pair.focus[data-index="${at + 2}"]`);
  assert.match((await page.textContent(`.pair[data-index="${at}"]`)) ?? '', /Keep best of 3/);

  // Shift+B keeps the larger picture of a near pair whose sizes differ.
  const sizes = new Map((await srv.catalog.all<{ id: string; px: number }>(
    `SELECT f.sample_id AS id, a.width * a.height AS px FROM files f JOIN file_status fs ON fs.uri = f.uri JOIN assets a ON a.sha256 = fs.sha256 WHERE f.role = 'image'`,
  )).map((r) => [r.id, Number(r.px)]));
  const uneven = pairs.findIndex((p) => { const k = fx.duplicates.find(([c]) => c === p.id)![1]; return sizes.get(p.id) !== sizes.get(k) && byKept.get(k)!.length === 1; });
  assert.ok(uneven >= 0, 'the demo has a resized copy');
  const [ucopy, ukept] = fx.duplicates.find(([c]) => c === pairs[uneven].id)!;
  await page.click(`.pair[data-index="${uneven}"] .summary`);
  await page.keyboard.press('Shift+B');
  const bigger = sizes.get(ucopy)! > sizes.get(ukept)! ? ucopy : ukept;
  await page.waitForSelector(`.pair[data-index="${uneven}"] .side-img[data-id="${bigger}"][data-decision=keep]`);
  assert.equal((await decisionOf(bigger === ucopy ? ukept : ucopy))?.action, 'remove');

  // ? lists the pair keys.
  await page.keyboard.press('?');
  await page.waitForSelector('#help:not(.hidden) kbd');
  assert.match((await page.textContent('#help')) ?? '', /keep the best of the group/);
  await page.keyboard.press('Escape');
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'imgsift-review-daily-pairs.png') });

  // Leaks: 2 keeps the evaluation copy and removes its train twin, recorded for the reviewer.
  await page.click('[data-view=leak]');
  await page.waitForFunction(`document.querySelectorAll('.pair').length === ${fx.leaks.length}`);
  assert.match(page.url(), /view=leak/);
  const leakTest = await page.getAttribute('.pair.focus', 'data-id');
  const leakTrain = fx.leaks.find(([t]) => t === leakTest)![1];
  await page.keyboard.press('2');
  await page.waitForSelector('.pair[data-index="0"] .side-img[data-side=left][data-decision=remove]');
  assert.deepEqual(await decisionOf(leakTest!), { action: 'keep', reviewer: 'Kushagra' });
  assert.deepEqual(await decisionOf(leakTrain), { action: 'remove', reviewer: 'Kushagra' });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('detail: the matched copy beside the sample, the evidence in words, flagged issues first, zoom and fit', async () => {
  const [copy, kept] = fx.duplicates.find((_, i) => i % 2 === 1)!; // a perceptual pair (pHash 3 bits)
  // An unflagged score: hidden until "show all scores".
  await srv.catalog.append('issues', COLUMNS.issues, [
    { sample_id: copy, type: 'blur', score: 0.12, flagged: false, evidence: { laplacian_var: 410 }, step: 'quality', source: 'imgsift', run_id: srv.runId },
  ]);
  const page = await open(`/?issue=duplicate&open=${encodeURIComponent(copy)}`);
  await page.waitForSelector('#detail .pane[data-pane=other] img');
  assert.equal(await page.textContent('#detail .info h2'), copy);
  assert.match((await page.textContent('#detail .pane[data-pane=other] .pane-cap')) ?? '', new RegExp(`matched copy: ${kept.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.equal(await page.textContent('#match-line'), 'duplicate: pHash 3 bits');
  await page.waitForFunction(`[...document.querySelectorAll('#detail .zimg')].every((i) => i.complete && i.naturalWidth > 0)`);
  const flagged = (await srv.catalog.all<{ type: string }>(`SELECT type FROM issues WHERE sample_id = ? AND flagged`, [copy])).map((r) => r.type);
  assert.ok(flagged.includes('duplicate'));
  assert.deepEqual((await page.$$eval('#detail .issue', (els) => els.map((e) => e.getAttribute('data-type')))).sort(), flagged.sort(), 'only flagged issues');
  await page.click('#issues-toggle');
  await page.waitForSelector('#detail .issue[data-type=blur]');
  assert.match((await page.textContent('#detail .issue[data-type=blur]')) ?? '', /score 0\.120/);

  // Fit: the picture lies inside its pane.
  const fits = `[...document.querySelectorAll('#detail .zimg')].every((i) => { const b = i.parentElement.getBoundingClientRect(), r = i.getBoundingClientRect();
    return r.width > 20 && r.left >= b.left - 1 && r.right <= b.right + 1 && r.top >= b.top - 1 && r.bottom <= b.bottom + 1; })`;
  await page.waitForFunction(fits);
  // z: pixel-exact, one image pixel per device pixel.
  await page.keyboard.press('z');
  await page.waitForSelector('#detail .view[data-zoom="1"]');
  // (A string: this file is compiled without the DOM's types.)
  const exact = await page.evaluate<Array<{ css: number; natural: number }>>(
    `[...document.querySelectorAll('#detail .zimg')].map((i) => ({ css: i.getBoundingClientRect().width * devicePixelRatio, natural: i.naturalWidth }))`,
  );
  assert.equal(exact.length, 2);
  for (const e of exact) assert.ok(Math.abs(e.css - e.natural) < 0.5, `1:1 is ${e.css} device px for ${e.natural} image px`);
  // The wheel zooms in further (around the cursor), the button and f fit again.
  const box = (await page.locator('#detail .pane[data-pane=self] .zoomable').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -200);
  await page.waitForFunction(`Number(document.querySelector('#detail .view').getAttribute('data-zoom')) > 1.2`);
  assert.match((await page.textContent('#zoom-level')) ?? '', /^1[0-9]{2}%$/);
  await page.screenshot({ path: join(SCREENSHOT_DIR, 'imgsift-review-daily-detail.png') });
  await page.keyboard.press('f');
  await page.waitForSelector('#detail .view[data-zoom=fit]');
  await page.waitForFunction(fits);
  await page.click('[data-zoom="1"]');
  await page.waitForSelector('#detail .view[data-zoom="1"]');
  await page.click('[data-zoom=fit]');
  await page.waitForSelector('#detail .view[data-zoom=fit]');
  // Settle the pair from here: keep the matched copy, remove this one.
  await page.click('[data-resolve=other]');
  await page.waitForFunction(`document.querySelector('#detail .decision-line .badge')?.textContent === 'remove'`);
  assert.equal((await decisionOf(copy))?.action, 'remove');
  assert.equal((await decisionOf(kept))?.action, 'keep');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('sort by score, filters and the open sample live in the address: reload restores them, Back steps back', async () => {
  // The first facet counts come late (as on a busy machine): the grid is shown, and the reviewer
  // sorts, filters and opens a sample before the restored view has finished loading. The address
  // must follow, and the end of the restore must not close the sample the reviewer opened.
  let held = 0;
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const page = await open('/', (p) => p.route('**/api/facets?*', async (route) => {
    if (held++ === 0) await Promise.race([gate, new Promise((r) => setTimeout(r, 120_000))]);
    await route.continue();
  }));
  await page.waitForSelector('.tile img');
  await page.selectOption('#sort', 'score');
  await page.waitForFunction(`location.search.includes('sort=score')`);
  // The highest-scored samples come first: the duplicates (score 1).
  await page.waitForFunction(`document.querySelector('.tile[data-index="0"] .split')?.textContent.includes('1.00')`).catch(async (err: Error) => {
    // Say what the grid showed instead (this wait once timed out in a full run and never alone).
    const shown = await page.evaluate(`[...document.querySelectorAll('.tile')].slice(0, 4).map((t) => t.getAttribute('data-index') + ' ' + t.getAttribute('data-id') + ' ' + t.querySelector('.split')?.textContent)`);
    throw new Error(`${err.message}\ntiles: ${JSON.stringify(shown)}\ntoast: ${await page.textContent('#toast')}\nurl: ${page.url()}\npage errors: ${JSON.stringify(page.errors)}`);
  });
  const firstId = await page.getAttribute('.tile[data-index="0"]', 'data-id');
  assert.ok(fx.duplicates.some(([c]) => c === firstId));
  await page.click('[data-facet=issue] [data-value=leak]');
  await page.waitForFunction(`location.search.includes('issue=leak') && document.getElementById('count').textContent === '${fx.leaks.length} samples'`);
  await page.click('#grid', { position: { x: 5, y: 5 } });
  await page.keyboard.press('ArrowRight');
  const focused = await page.getAttribute('.tile.focus', 'data-id');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#detail .info h2');
  await page.waitForFunction(`new URLSearchParams(location.search).get('open') === ${JSON.stringify(focused)}`);
  // Now the restore ends: its facet counts arrive, and the page gets a moment to act on them.
  const late = page.waitForResponse((r) => r.url().includes('/api/facets?') && !r.url().includes('issue=leak'));
  release();
  await late;
  await page.evaluate(`new Promise((r) => requestAnimationFrame(() => setTimeout(r, 200)))`);
  assert.ok(await page.isVisible('#detail .info h2'), 'the end of the restore closed the sample the reviewer opened');
  assert.equal(new URLSearchParams(new URL(page.url()).search).get('open'), focused);

  await page.reload();
  await page.waitForSelector('#detail:not(.hidden) .info h2');
  assert.equal(await page.textContent('#detail .info h2'), focused);
  assert.equal(await page.inputValue('#sort'), 'score');
  await page.waitForFunction(`document.getElementById('count').textContent === '${fx.leaks.length} samples'`);
  assert.ok(await page.$('[data-facet=issue] [data-value=leak].on'));

  // Back closes the sample, Back again drops the leak filter, Forward brings it back.
  await page.goBack();
  await page.waitForSelector('#detail.hidden', { state: 'attached' });
  assert.equal(new URL(page.url()).searchParams.get('open'), null);
  await page.goBack();
  const all = await srv.catalog.scalar(`SELECT count(*) FROM active`);
  await page.waitForFunction(`document.getElementById('count').textContent === '${all} samples'`);
  assert.ok(!(await page.$('[data-facet=issue] [data-value=leak].on')));
  assert.equal(await page.inputValue('#sort'), 'score');
  await page.goForward();
  await page.waitForFunction(`document.getElementById('count').textContent === '${fx.leaks.length} samples'`);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('labels typed in the app are limited; a token-named reviewer cannot be changed in the page', async () => {
  await srv.close();
  const token = 'kushagra-token-0123456789';
  srv = await startReviewServer({ workdir: fx.workdir, port: 0, reviewer: 'unused', tokens: new Map([[token, 'Kushagra']]) });
  const page = (await browser.newPage()) as ErrPage;
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`http://127.0.0.1:${srv.port}/?token=${token}&split=test`);
  await page.waitForSelector('.tile img');
  assert.equal(new URL(page.url()).search, '?split=test', 'the token leaves the address, the view stays');
  await page.waitForFunction(`document.getElementById('reviewer').value === 'Kushagra'`);
  assert.equal(await page.isDisabled('#reviewer'), true);
  await page.click('#grid', { position: { x: 5, y: 5 } });
  const id = await page.getAttribute('.tile.focus', 'data-id');
  await page.keyboard.press('l');
  await page.waitForSelector('#prompt-input');
  assert.equal(await page.getAttribute('#prompt-input', 'maxlength'), '200');
  await page.fill('#prompt-input', 'x'.repeat(300));
  assert.equal((await page.inputValue('#prompt-input')).length, 200, 'the input stops at the limit');
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.tile[data-id="${id}"][data-decision=relabel]`);
  const d = await srv.catalog.one<{ reviewer: string; new_label: string }>(`SELECT reviewer, new_label FROM decisions WHERE sample_id = ?`, [id]);
  assert.deepEqual(d, { reviewer: 'Kushagra', new_label: 'x'.repeat(200) });
  assert.deepEqual(page.errors, []);
  await page.close();
});
