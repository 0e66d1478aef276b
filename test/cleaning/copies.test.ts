import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Catalog } from '../../src/catalog/catalog.js';
import { build, type BuildResult } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { importIssues, parseFieldMap } from '../../src/review/imports.js';
import { generateImagenetDump, VENDOR_MAP, type ImagenetTruth } from '../../examples/imagenet-cleaning/generate.js';
import { tempDir } from '../helpers/tmp.js';

// Issue 16, points 1: cleaning must never lose every copy of a picture.
const dir = await tempDir();
let truth: ImagenetTruth;
const quiet = { reporter: new Reporter({ mode: 'quiet' }), workers: 2 };

const recipe = (workdir: string, opts: { dedup?: Record<string, unknown>; leaks?: Record<string, unknown>; drop?: unknown[]; split?: boolean } = {}) =>
  recipeFromObject({
    name: 'copies', workdir,
    source: { format: 'imagefolder', path: join(dir, 'data') },
    steps: [
      { probe: {} }, { hash: {} }, { dedup_signals: {} },
      // The imagefolder's train/ and val/ folders give the splits; a split step may keep them.
      ...(opts.split ? [{ split: { keep_source_splits: true, ratios: { train: 1 } } }] : []),
      { dedup: { keep: 'largest', geometric: false, ...opts.dedup } },
      { leaks: { between: ['train', ['val']], methods: ['exact', 'perceptual'], ...opts.leaks } },
      { filter: { drop: opts.drop ?? ['duplicate', 'leak'] } },
    ],
  });

async function dropped(workdir: string, runId: number): Promise<Map<string, string[]>> {
  const c = await Catalog.open(workdir);
  try {
    const rows = await c.all<{ path: string; reasons: string[] }>(
      `SELECT s.path, list(d.reason ORDER BY d.reason) AS reasons FROM drops d JOIN samples s ON s.id = d.sample_id WHERE d.run_id = ? GROUP BY s.path`,
      [runId],
    );
    return new Map(rows.map((r) => [r.path, r.reasons]));
  } finally {
    c.close();
  }
}

before(async () => {
  truth = await generateImagenetDump(join(dir, 'data'), { perClass: 6, valPerClass: 2, leaks: 3, duplicates: 2, mislabels: 2 });
});

test('a train image and its larger val copy: the train copy stays, the val copy goes once, as a leak', async () => {
  const workdir = join(dir, 'w1');
  const r = await build(recipe(workdir, { split: true }), quiet);
  const gone = await dropped(workdir, r.runId);
  for (const l of truth.leaks) {
    assert.equal(gone.has(l.train), false, `train copy ${l.train} is kept`);
    assert.deepEqual(gone.get(l.val), ['leak'], `val copy ${l.val} is dropped as a leak only`);
  }
  for (const d of truth.trainDuplicates) {
    assert.equal([d.original, d.copy].filter((p) => gone.has(p)).length, 1, `one of ${d.original}, ${d.copy} goes`);
  }
  const dedup = r.summary.steps.find((s) => s.name === 'dedup')!.stats;
  assert.equal(dedup['cross-split copies left to leaks'], truth.leaks.length);
  const check = r.summary.steps.find((s) => s.name === 'copy check')!.stats;
  assert.equal(check['groups that lost every copy'], 0);
  assert.equal(r.exitCode, 0, r.summary.attention.join('; '));
});

test('leaks with remove: reference drops the train copy and keeps the val copy', async () => {
  const workdir = join(dir, 'w2');
  const r = await build(recipe(workdir, { leaks: { remove: 'reference' } }), quiet);
  const gone = await dropped(workdir, r.runId);
  for (const l of truth.leaks) {
    assert.deepEqual(gone.get(l.train), ['leak']);
    assert.equal(gone.has(l.val), false);
  }
});

test('without prefer_split, the twin rule keeps the val copy; rules that still lose both are caught by the copy check', async () => {
  // dedup keeps the larger val copy and flags the train copy; the leak on the val copy then has no twin left.
  const w1 = join(dir, 'w3a');
  const r1 = await build(recipe(w1, { dedup: { prefer_split: null } }), quiet);
  const gone1 = await dropped(w1, r1.runId);
  for (const l of truth.leaks) {
    assert.deepEqual(gone1.get(l.train), ['duplicate']);
    assert.equal(gone1.has(l.val), false, `${l.val} stays: its train twin is gone`);
  }
  assert.equal(r1.exitCode, 0);
  // Leaks dropped first (their twins still in), then duplicates: issue 16's loss of both copies.
  const w2 = join(dir, 'w3b');
  const r2 = await build(recipe(w2, { dedup: { prefer_split: null }, drop: ['leak', 'duplicate'] }), quiet);
  const gone2 = await dropped(w2, r2.runId);
  assert.equal(truth.leaks.filter((l) => gone2.has(l.train) && gone2.has(l.val)).length, truth.leaks.length, 'the failure of issue 16 is reproduced');
  assert.equal(r2.exitCode, 1);
  assert.match(r2.summary.attention.join('\n'), /3 group\(s\) of copies lost every member/);
});

test('dedup before split says it cannot know the splits', async () => {
  const workdir = join(dir, 'w4');
  const r = await build(
    recipeFromObject({
      name: 'nosplit', workdir, source: { format: 'folder', path: join(dir, 'data') },
      steps: [{ probe: {} }, { hash: {} }, { dedup_signals: {} }, { dedup: { geometric: false } }],
    }),
    quiet,
  );
  const dedup = r.summary.steps.find((s) => s.name === 'dedup')!.stats;
  assert.match(String(dedup.splits), /put 'split' before 'dedup'/);
});

test("a vendor duplicate flag never drops the copy imgsift kept; filters choose by source", async () => {
  const workdir = join(dir, 'w5');
  const first = await build(recipe(workdir), quiet);
  const catalog = await Catalog.open(workdir);
  try {
    const res = await importIssues({ catalog, file: truth.vendorExport, source: 'visual_layer', map: parseFieldMap(VENDOR_MAP) });
    assert.equal(res.unmatched, 0);
  } finally {
    catalog.close();
  }
  assert.ok(first.runId > 0);
  // Vendor and imgsift duplicates together: imgsift's kept copies stay.
  const r = await build(recipe(workdir, { drop: ['duplicate', 'leak'] }), quiet);
  const gone = await dropped(workdir, r.runId);
  for (const l of truth.leaks) assert.equal(gone.has(l.train), false, `${l.train} (vendor-flagged, kept by imgsift) stays`);
  for (const d of truth.trainDuplicates) assert.equal([d.original, d.copy].filter((p) => gone.has(p)).length, 1);
  const f = r.summary.steps.find((s) => s.name === 'filter')!.stats;
  assert.ok(Number(f["kept despite duplicate: last copy or imgsift's kept copy"]) >= truth.leaks.length);
  // Only imgsift's own duplicate findings.
  const r2 = await build(recipe(workdir, { drop: [{ issue: 'duplicate', source: 'imgsift' }] }), quiet);
  const gone2 = await dropped(workdir, r2.runId);
  assert.equal(gone2.size, truth.trainDuplicates.length);
  for (const reasons of gone2.values()) assert.deepEqual(reasons, ['duplicate (source imgsift)']);
  assert.equal(r2.exitCode, 0);
});
