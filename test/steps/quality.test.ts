import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { Reporter } from '../../src/exec/reporter.js';
import { photoJpeg } from '../../src/demo/synth.js';
import { QualityParams, qualityStep } from '../../src/steps/quality.js';
import type { SampleInput, StepContext } from '../../src/steps/types.js';
import { sha256Hex } from '../../src/util/hash.js';

const input = (bytes: Buffer, name = 'x.jpg'): SampleInput => ({
  id: name, uri: `/data/${name}`, name, bytes, sha256: sha256Hex(bytes), upstream: {}, roles: {}, fields: {},
});

test('params: cleanvision defaults, seed 003 options, precise errors', () => {
  const p = QualityParams.parse({});
  assert.equal(p.dark_threshold, 0.32);
  assert.equal(p.light_threshold, 0.05);
  assert.equal(p.odd_aspect_ratio_threshold, 0.35);
  assert.equal(p.low_information_threshold, 0.3);
  assert.equal(p.blurry_threshold, 0.29);
  assert.equal(p.odd_size_threshold, 10);
  assert.equal(p.min_side, 0);
  assert.equal(p.allowed_formats, null);
  assert.equal(QualityParams.parse({ min_side: 512 }).min_side, 512);
  const bad = QualityParams.safeParse({ dark_threshold: 1.2 });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues[0].path, ['dark_threshold']);
  assert.equal(QualityParams.safeParse({ min_sidee: 5 }).success, false);
  assert.equal(QualityParams.safeParse({ min_side: -1 }).success, false);
});

test('run returns the measures and the per-image issues; seed rules apply through params', async () => {
  const small = await photoJpeg({ seed: 4, width: 400, height: 300 });
  const out = await qualityStep.run(input(small), QualityParams.parse({ min_side: 512, allowed_formats: ['png', 'jpg', 'webp'] }));
  const result = out.result as Record<string, unknown>;
  assert.equal(result.width, 400);
  assert.equal(result.format, 'jpeg');
  const flagged = out.issues!.filter((i) => i.flagged).map((i) => i.type);
  assert.deepEqual(flagged, ['low_resolution']);
  assert.ok(!out.issues!.some((i) => i.type === 'odd_size'), 'odd_size is a whole-dataset issue');
  await assert.rejects(qualityStep.run(input(Buffer.from('nope')), QualityParams.parse({})));
});

test('afterAll writes odd_size for the active samples; stats count flagged images per type', async () => {
  const catalog = await Catalog.open(':memory:');
  try {
    const params = QualityParams.parse({});
    const ph = 'qhash';
    const dims: Array<[string, number, number]> = [
      ['s1', 400, 300], ['s2', 420, 300], ['s3', 380, 310], ['s4', 30, 20], ['s5', 400, 300], ['gone', 10, 10],
    ];
    await catalog.append('samples', COLUMNS.samples, dims.map(([id], i) => ({
      id, source: 'test', path: `${id}.jpg`, ord: i, first_run: 1, seen_run: id === 'gone' ? 0 : 1,
    })));
    await catalog.append('files', COLUMNS.files, dims.map(([id]) => ({ sample_id: id, role: 'image', uri: `/d/${id}.jpg` })));
    await catalog.append('file_status', COLUMNS.file_status, dims.map(([id]) => ({ uri: `/d/${id}.jpg`, sha256: `h-${id}`, run_id: 1 })));
    // s5 was measured with other parameters only: it is not part of this comparison.
    await catalog.append('step_results', COLUMNS.step_results, dims.map(([id, w, h]) => ({
      content_hash: `h-${id}`, step: 'quality', params_hash: id === 's5' ? 'other' : ph, ok: true,
      result: { width: w, height: h }, run_id: 1,
    })));
    // A per-image issue as the executor would store it, and a stale odd_size row to be replaced.
    await catalog.append('issues', COLUMNS.issues, [
      { sample_id: 's2', type: 'dark', score: 0.9, flagged: true, step: 'quality', source: 'imgsift', run_id: 1 },
      { sample_id: 's1', type: 'odd_size', score: 1, flagged: true, step: 'quality', source: 'imgsift', run_id: 0 },
    ]);
    await useRun(catalog, 1);
    const ctx: StepContext = { catalog, runId: 1, workdir: ':memory:', reporter: new Reporter({ mode: 'quiet' }), baseDir: '.' };
    await qualityStep.afterAll!(ctx, params, ph);

    const rows = await catalog.all<{ sample_id: string; flagged: boolean; score: number; run_id: number; evidence: string }>(
      `SELECT sample_id, flagged, score, run_id, evidence FROM issues WHERE type = 'odd_size' ORDER BY sample_id`,
    );
    assert.deepEqual(rows.map((r) => [r.sample_id, r.flagged]), [['s1', false], ['s2', false], ['s3', false], ['s4', true]]);
    for (const r of rows) {
      assert.ok(r.score >= 0 && r.score <= 1);
      assert.equal(r.run_id, 1);
    }
    const ev = JSON.parse(rows[3].evidence);
    assert.equal(ev.threshold, 10);
    assert.ok(Math.abs(ev.dataset_median - (Math.sqrt(400 * 300) + Math.sqrt(380 * 310)) / 2) < 1e-9);

    // Running again replaces rather than duplicates.
    await qualityStep.afterAll!(ctx, params, ph);
    assert.equal(await catalog.scalar(`SELECT count(*) FROM issues WHERE type = 'odd_size'`), 4);
    // A larger threshold lets the small image pass.
    await qualityStep.afterAll!(ctx, QualityParams.parse({ odd_size_threshold: 20 }), ph);
    assert.equal(await catalog.scalar(`SELECT count(*) FROM issues WHERE type = 'odd_size' AND flagged`), 0);
    await qualityStep.afterAll!(ctx, params, ph);

    const stats = await qualityStep.stats!(ctx, params, ph);
    assert.equal(stats['images measured'], 4);
    assert.equal(stats.odd_size, 1);
    assert.equal(stats.dark, 1);
    assert.equal(stats.blurry, 0);
  } finally {
    catalog.close();
  }
});

test('a grey PNG through the step is flagged grayscale only', async () => {
  const grey = await sharp(await photoJpeg({ seed: 8, width: 320, height: 240 })).toColourspace('b-w').png().toBuffer();
  const out = await qualityStep.run(input(grey, 'g.png'), QualityParams.parse({}));
  assert.deepEqual(out.issues!.filter((i) => i.flagged).map((i) => i.type), ['grayscale']);
});
