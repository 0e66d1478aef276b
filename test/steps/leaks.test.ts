import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Catalog } from '../../src/catalog/catalog.js';
import { generateDemoDataset, type DemoTruth } from '../../src/demo/dataset.js';
import { build } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { LeaksParamsSchema, readLeaks, type LeakRecord } from '../../src/steps/leaks.js';
import { tempDir } from '../helpers/tmp.js';
import { installTinyModel } from '../embed/helpers.js';
import { collectReportData } from '../../src/report/data.js';

const dir = await tempDir();
let truth: DemoTruth;
let leaks: LeakRecord[];
let catalog: Catalog;
let runId: number;

const quiet = () => new Reporter({ mode: 'quiet' });
const recipe = (workdir: string, leaksParams: Record<string, unknown>, extra: unknown[] = []) =>
  recipeFromObject({
    name: 'leaks-test', workdir,
    source: { format: 'imagefolder', path: dir },
    steps: [{ hash: {} }, { dedup_signals: {} }, { leaks: leaksParams }, ...extra],
  });

before(async () => {
  truth = await generateDemoDataset(dir, { count: 60, seed: 11 });
  const workdir = join(dir, '.work');
  const r = await build(recipe(workdir, { between: ['train', ['test']], methods: ['exact', 'perceptual'] }, [{ filter: { drop: ['leak'] } }]), {
    reporter: quiet(), workers: 2,
  });
  runId = r.runId;
  catalog = await Catalog.open(workdir);
  leaks = await readLeaks(catalog, runId);
});

test('finds exactly the planted train–test leaks, classified as seed 002 does', () => {
  const got = leaks.map((l) => `${l.train_image} ${l.test_image} ${l.method} ${l.leak_type}`).sort();
  const want = truth.leaks
    .map((l) => `${l.train} ${l.test} ${l.kind === 'exact' ? 'exact exact_duplicate' : 'perceptual near_duplicate'}`)
    .sort();
  assert.deepEqual(got, want);
  for (const l of leaks) {
    if (l.method === 'exact') assert.equal(l.similarity, 1);
    else {
      assert.ok(l.hamming_distance !== null && l.hamming_distance <= 5);
      assert.equal(l.similarity, Math.round((1 - l.hamming_distance! / 64) * 1e4) / 1e4);
    }
  }
});

test('the evaluation-side sample gets a flagged leak issue naming the train sample, and filter drops it', async () => {
  const issues = await catalog.all<{ path: string; evidence: string }>(
    `SELECT s.path, i.evidence FROM issues i JOIN samples s ON s.id = i.sample_id WHERE i.type = 'leak' AND i.flagged ORDER BY s.path`,
  );
  assert.deepEqual(issues.map((i) => i.path), truth.leaks.map((l) => l.test).sort());
  for (const i of issues) {
    const ev = JSON.parse(i.evidence) as { train_path: string; method: string; leak_type: string };
    assert.equal(ev.train_path, truth.leaks.find((l) => l.test === i.path)!.train);
  }
  assert.equal(await catalog.scalar(`SELECT count(*) FROM drops WHERE run_id = ? AND reason = 'leak'`, [runId]), truth.leaks.length);
});

test('the report pairs every leaked test image with its train image (the evidence names it)', async () => {
  const data = await collectReportData(catalog, runId);
  const leak = data.pairs.find((p) => p.type === 'leak')!;
  assert.equal(leak.flagged, truth.leaks.length);
  assert.equal(leak.withPartner, truth.leaks.length);
  assert.deepEqual(leak.bySplits, { 'test ↔ train': truth.leaks.length });
});

test('perceptual alone finds the near leak; exact alone only the exact one', async () => {
  for (const [methods, kinds] of [[['exact'], ['exact']], [['perceptual'], ['exact', 'near']]] as const) {
    const workdir = join(dir, `.work-${methods.join('-')}`);
    const r = await build(recipe(workdir, { methods }), { reporter: quiet(), workers: 2 });
    const cat = await Catalog.open(workdir);
    try {
      const got = (await readLeaks(cat, r.runId)).map((l) => l.test_image).sort();
      assert.deepEqual(got, truth.leaks.filter((l) => (kinds as readonly string[]).includes(l.kind)).map((l) => l.test).sort(), methods.join());
    } finally {
      cat.close();
    }
  }
});

test('semantic says the embed step has not run', async () => {
  await assert.rejects(
    build(recipe(join(dir, '.work-sem'), { methods: ['exact', 'semantic'] }), { reporter: quiet(), workers: 1 }),
    /method 'semantic' compares image embeddings, but the 'embed' step has not run/,
  );
});

test('semantic finds the planted leaks from image embeddings once the embed step has run', async () => {
  process.env.IMGSIFT_MODELS = await installTinyModel(join(dir, '.models'));
  const r = await build(
    recipeFromObject({
      name: 'leaks-sem', workdir: join(dir, '.work-sem2'),
      source: { format: 'imagefolder', path: dir },
      steps: [{ hash: {} }, { dedup_signals: {} }, { embed: { model: 'tiny' } }, { leaks: { methods: ['semantic'], semantic_threshold: 0.98 } }],
    }),
    { reporter: quiet(), workers: 2 },
  );
  const cat = await Catalog.open(join(dir, '.work-sem2'));
  try {
    const found = await readLeaks(cat, r.runId);
    for (const planted of truth.leaks) {
      const hit = found.find((l) => l.train_image === planted.train && l.test_image === planted.test);
      assert.ok(hit, `planted leak ${planted.train} → ${planted.test} found`);
      assert.equal(hit.method, 'semantic');
      assert.equal(hit.leak_type, 'semantic_duplicate');
      assert.equal(hit.hamming_distance, null);
      assert.ok(hit.similarity >= 0.98);
    }
  } finally {
    cat.close();
  }
});

test('between: [a, [b, c]] parses; a split on both sides is refused', () => {
  assert.deepEqual(LeaksParamsSchema.parse({ between: ['train', ['dev', 'test']] }).between, [['train'], ['dev', 'test']]);
  assert.deepEqual(LeaksParamsSchema.parse({}).methods, ['exact', 'perceptual']);
  const bad = LeaksParamsSchema.safeParse({ between: ['train', ['train', 'test']] });
  assert.equal(bad.success, false);
  assert.match(bad.error!.issues[0].message, /train on both sides/);
  assert.equal(LeaksParamsSchema.safeParse({ methods: ['fuzzy'] }).success, false);
});
