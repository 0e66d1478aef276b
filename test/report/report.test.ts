import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Catalog } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { writeReport } from '../../src/report/html.js';
import { formatReportText } from '../../src/report/text.js';
import { tempDir } from '../helpers/tmp.js';
import { buildReportFixture, type ReportFixture } from './fixture.js';

const dirReady = tempDir();
let fx: ReportFixture;
let html: string;
let text: string;
let file: string;

before(async () => {
  const dir = await dirReady;
  fx = await buildReportFixture(dir);
  const catalog = await Catalog.open(fx.workdir, { readOnly: true });
  try {
    file = join(dir, 'out', 'report.html');
    const r = await writeReport(catalog, fx.runId, file);
    assert.equal(r.file, file);
    text = formatReportText(r.data);
  } finally {
    catalog.close();
  }
  html = await readFile(file, 'utf8');
});

/** The text inside the element that has this id (first match, tags stripped). */
function cells(fragment: string): string[] {
  return [...fragment.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) => m[1].replace(/<[^>]+>/g, '').trim());
}

test('the report is one self-contained file: no network references, inline charts and thumbnails', () => {
  assert.match(html, /^<!doctype html>/);
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, 'nothing is fetched from the network');
  assert.doesNotMatch(html, /<link\b|<script\s+src|@import|url\(\s*["']?https?:/i);
  assert.ok((html.match(/<svg class="chart/g) ?? []).length >= 5, 'funnel, splits, issues, histograms, review');
  for (const cls of ['funnel', 'splits', 'issues', 'hist']) assert.match(html, new RegExp(`<svg class="chart[^"]*${cls}`));
  const thumbs = [...html.matchAll(/src="data:image\/webp;base64,([A-Za-z0-9+/=]+)"/g)];
  assert.ok(thumbs.length >= 10, `thumbnails inline (${thumbs.length})`);
  assert.ok(html.length < 2_000_000, `report stays small (${html.length} bytes)`);
});

test('thumbnails are real small WebP images', async () => {
  const m = /src="data:image\/webp;base64,([A-Za-z0-9+/=]+)"/.exec(html)!;
  const meta = await sharp(Buffer.from(m[1], 'base64')).metadata();
  assert.equal(meta.format, 'webp');
  assert.ok(Math.max(meta.width!, meta.height!) <= 96 && meta.width! > 8);
});

test('the numbers match the catalog', async () => {
  const catalog = await Catalog.open(fx.workdir, { readOnly: true });
  try {
    await useRun(catalog, fx.runId);
    const listed = await catalog.scalar(`SELECT count(*) FROM samples WHERE seen_run = ${fx.runId}`);
    const kept = await catalog.scalar(`SELECT count(*) FROM active`);
    assert.equal(listed, fx.truth.count);
    assert.equal(listed - kept, fx.truth.broken.length, 'the broken files are dropped as corrupt');
    const totals = /<div class="tiles" id="totals">([\s\S]*?)<\/div>\s*<\/section>/.exec(html)![1];
    const nums = [...totals.matchAll(/<div class="num">([\d,]+)<\/div>/g)].map((x) => Number(x[1].replace(/,/g, '')));
    const flagged = await catalog.scalar(`SELECT count(DISTINCT i.sample_id) FROM issues i JOIN samples s ON s.id = i.sample_id WHERE s.seen_run = ${fx.runId} AND i.flagged`);
    const labels = await catalog.scalar(`SELECT count(DISTINCT label) FROM active`);
    assert.deepEqual(nums, [listed, kept, listed - kept, flagged, labels]);

    // Splits table = SQL.
    const splitRows = await catalog.all<{ split: string; n: bigint }>(`SELECT split, count(*) AS n FROM active GROUP BY split ORDER BY n DESC`);
    const table = /<table id="split-table">([\s\S]*?)<\/table>/.exec(html)![1];
    const c = cells(table);
    assert.deepEqual(
      splitRows.map((r) => [r.split, String(Number(r.n))]),
      Array.from({ length: c.length / 3 }, (_, i) => [c[i * 3], c[i * 3 + 1]]),
    );

    // Issue table: flagged count per (type, source) = SQL.
    const issueRows = await catalog.all<{ type: string; source: string; n: bigint }>(
      `SELECT i.type, i.source, count(DISTINCT i.sample_id) AS n FROM issues i JOIN samples s ON s.id = i.sample_id
       WHERE s.seen_run = ${fx.runId} AND i.flagged GROUP BY ALL`,
    );
    assert.ok(issueRows.length >= 6);
    for (const r of issueRows) {
      const row = new RegExp(`<tr data-issue="${r.type}" data-source="${r.source}">([\\s\\S]*?)</tr>`).exec(html);
      assert.ok(row, `issue row ${r.type}/${r.source}`);
      assert.equal(cells(row[1])[2], String(Number(r.n)), `${r.type} count`);
    }

    // Funnel: the filter stage removed exactly the corrupt drops.
    assert.match(text, new RegExp(`filter\\s+${kept}\\s+-${listed - kept} \\(corrupt ${listed - kept}\\)`));
  } finally {
    catalog.close();
  }
});

test('duplicate and leak pairs are shown side by side with their similarity', () => {
  const dupes = fx.truth.exactDuplicates.concat(fx.truth.nearDuplicates).reduce((n, g) => n + g.copies.length, 0);
  const block = /<div class="pairblock" data-pairs="duplicate">([\s\S]*?)<\/div><\/div><\/div>/.exec(html);
  assert.ok(block, 'duplicate block');
  assert.match(html, new RegExp(`<span class="n">${dupes}</span> samples flagged`));
  const leak = /data-pairs="leak">[\s\S]*?<div class="pairs">([\s\S]*?)<\/section>/.exec(html)![1];
  const pairs = leak.split('<div class="pair">').slice(1);
  assert.equal(pairs.length, fx.truth.leaks.length);
  for (const l of fx.truth.leaks) {
    const p = pairs.find((x) => x.includes(`title="${l.test}`));
    assert.ok(p, `leak pair of ${l.test}`);
    assert.ok(p.indexOf(`title="${l.test}`) < p.indexOf(`title="${l.train}`), 'flagged sample left, its match right');
    assert.match(p, l.kind === 'exact' ? /similarity 1[^.]/ : /similarity 0\.\d+/);
  }
  assert.match(html, /test ↔ train: <span class="n">\d+<\/span>/);
});

test('score histograms, review and imports sections, and the text summary', () => {
  assert.match(html, /<div class="card" data-hist="outlier">/, 'imported scores get a histogram');
  assert.doesNotMatch(html, /data-hist="corrupt"/, 'constant scores get none');
  const hist = /data-hist="outlier">[\s\S]*?<\/svg>/.exec(html)![0];
  assert.equal((hist.match(/<rect class="bin"/g) ?? []).length, 20);
  assert.match(html, /<li>visual_layer: <span class="n">\d+<\/span><\/li>/);
  assert.match(text, /Samples listed by the source: \d+/);
  assert.match(text, /mislabel \[visual_layer\]: \d+/);
  assert.match(text, /relabel: \d+/);
  assert.match(text, /leak: \d+ flagged, \d+ paired/);
});
