import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Catalog, COLUMNS, type Row } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { Reporter } from '../../src/exec/reporter.js';
import { bucketStep, BucketParams, type BucketResult } from '../../src/steps/bucket.js';
import { getMapStep } from '../../src/steps/registry.js';
import type { MapOutput, StepContext } from '../../src/steps/types.js';
import { photoJpeg } from '../../src/demo/synth.js';
import { sha256Hex } from '../../src/util/hash.js';

const params = (p: unknown = {}) => BucketParams.parse(p);
const runOn = (bytes: Buffer, p = params()): Promise<MapOutput> =>
  bucketStep.run({ id: 'x', uri: '/d/x.jpg', name: 'x.jpg', bytes, sha256: sha256Hex(bytes), upstream: {}, roles: {}, fields: {} }, p);

test('registered; params: sd-scripts names and defaults, clear errors', () => {
  assert.equal(getMapStep('bucket'), bucketStep);
  const p = params();
  assert.deepEqual(
    [p.resolution, p.enable_bucket, p.min_bucket_reso, p.max_bucket_reso, p.bucket_reso_steps, p.bucket_no_upscale, p.format, p.crop, p.to, p.allow_upscale],
    [512, true, 256, 1024, 64, false, 'png', 'center', 'resized', false],
  );
  assert.deepEqual(params({ resolution: [768, 512] }).resolution, [768, 512]);
  const bad = (x: unknown) => BucketParams.safeParse(x).error!.issues.map((i) => i.path.join('.')).join(',');
  assert.equal(bad({ crop: 'smart' }), 'crop');
  assert.equal(bad({ quality: 0 }), 'quality');
  assert.equal(bad({ to: 'Has Space' }), 'to');
  assert.equal(bad({ bucket_steps: 64 }), '');
  // batch_size only decides the after-run flags, so it stays out of the per-image cache key.
  assert.deepEqual(bucketStep.cacheKey!(params({ batch_size: 4 })), bucketStep.cacheKey!(params()));
  assert.notDeepEqual(bucketStep.cacheKey!(params({ crop: 'entropy' })), bucketStep.cacheKey!(params()));
});

test('run: the sd-scripts plan on the upright size, and the bucket-sized file under role `to`', async () => {
  const src = await photoJpeg({ seed: 11, width: 1600, height: 1200 });
  const out = await runOn(src, params({ resolution: 768, min_bucket_reso: 512, format: 'webp', quality: 80, to: 'bucketed' }));
  const r = out.result as unknown as BucketResult;
  assert.deepEqual([r.original, r.bucket, r.resized, r.crop, r.upscaled, r.written], [[1600, 1200], [896, 640], [896, 672], { left: 0, top: 16 }, false, true]);
  assert.deepEqual(out.issues, []);
  assert.equal(out.files!.length, 1);
  assert.deepEqual([out.files![0].role, out.files![0].ext], ['bucketed', 'webp']);
  const meta = await sharp(out.files![0].bytes).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 896, 640]);
});

test('run: an image that would need upscaling is flagged and gets no file unless allowed', async () => {
  const small = await photoJpeg({ seed: 12, width: 300, height: 200 });
  const refused = await runOn(small);
  const r = refused.result as unknown as BucketResult;
  assert.equal(r.upscaled, true);
  assert.equal(r.written, false);
  assert.equal(refused.files, undefined);
  assert.deepEqual(refused.issues!.map((i) => [i.type, i.flagged]), [['needs_upscale', true]]);
  assert.ok(refused.issues![0].score > 0.5);

  const allowed = await runOn(small, params({ allow_upscale: true }));
  assert.deepEqual(allowed.issues!.map((i) => [i.type, i.flagged]), [['needs_upscale', false]]);
  const meta = await sharp(allowed.files![0].bytes).metadata();
  assert.deepEqual([meta.width, meta.height], (allowed.result as unknown as BucketResult).bucket);

  // bucket_no_upscale never upscales: the small image keeps its size, cut to a multiple of the step.
  const noUp = await runOn(small, params({ bucket_no_upscale: true }));
  assert.deepEqual((noUp.result as unknown as BucketResult).bucket, [256, 192]);
  assert.deepEqual(noUp.issues, []);
});

test('run: a corrupt file fails with an error naming the problem', async () => {
  await assert.rejects(runOn(Buffer.from('not an image at all')), /unsupported image format|Input buffer/);
});

test('afterAll flags buckets under the batch size; stats count images per bucket', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-bucket-step-'));
  const catalog = await Catalog.open(dir);
  try {
    const runId = 1;
    await catalog.run(`INSERT INTO runs (id, started, status) VALUES (1, now(), 'running')`);
    // Three landscape photos share a bucket, one portrait is alone, one is too small (no file).
    const sizes: Array<[string, number, number]> = [['a', 1200, 900], ['b', 1600, 1200], ['c', 800, 600], ['p', 600, 900], ['s', 200, 150]];
    const p = params({ batch_size: 2 });
    const rows: Row[] = [];
    for (const [id, w, h] of sizes) {
      const bytes = await photoJpeg({ seed: w + h, width: w, height: h });
      const out = await runOn(bytes, p);
      rows.push({ content_hash: id, step: 'bucket', params_hash: 'ph', ok: true, result: out.result, issues: out.issues, error: null, elapsed_ms: 1, run_id: runId });
    }
    await catalog.append('samples', COLUMNS.samples, sizes.map(([id], ord): Row => ({ id, source: 'folder', path: `${id}.jpg`, ord, first_run: 1, seen_run: 1 })));
    await catalog.append('files', COLUMNS.files, sizes.map(([id]) => ({ sample_id: id, role: 'image', uri: `/d/${id}.jpg` })));
    await catalog.append('file_status', COLUMNS.file_status, sizes.map(([id]) => ({ uri: `/d/${id}.jpg`, sha256: id, error: null, run_id: runId })));
    await catalog.append('step_results', COLUMNS.step_results, rows);
    await useRun(catalog, runId);
    const ctx: StepContext = { catalog, runId, workdir: dir, baseDir: dir, reporter: new Reporter({ mode: 'quiet' }) };

    await bucketStep.afterAll!(ctx, p, 'ph');
    await bucketStep.afterAll!(ctx, p, 'ph'); // idempotent
    const flagged = await catalog.all<{ sample_id: string; evidence: string }>(`SELECT sample_id, evidence FROM issues WHERE type = 'small_bucket' AND flagged`);
    assert.deepEqual(flagged.map((f) => f.sample_id), ['p']);
    assert.deepEqual(JSON.parse(flagged[0].evidence), { bucket: '384x640', images: 1, batch_size: 2 });

    const stats = await bucketStep.stats!(ctx, p, 'ph');
    assert.deepEqual(stats, {
      'images bucketed': 4,
      buckets: 2,
      'needs upscale (no file)': 1,
      upscaled: 0,
      'buckets under batch size 2': 1,
      'per bucket': '576x448 3, 384x640 1!',
    });
    // Batch size 1: nothing is small any more, and the old flags are replaced.
    await bucketStep.afterAll!(ctx, params({ batch_size: 1 }), 'ph');
    assert.equal(await catalog.scalar(`SELECT count(*) FROM issues WHERE type = 'small_bucket'`), 0);
  } finally {
    catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('settings sd-scripts would reject are a recipe error naming the setting', () => {
  const msg = (x: unknown) => BucketParams.safeParse(x).error!.issues.map((i) => i.message).join('; ');
  assert.match(msg({ resolution: 1280 }), /max_bucket_reso 1024 must be >= the larger side of resolution 1280x1280/);
  assert.match(msg({ resolution: [768, 512], min_bucket_reso: 640 }), /min_bucket_reso 640 must be <= the smaller side/);
  assert.equal(BucketParams.safeParse({ resolution: 1280, max_bucket_reso: 1280 }).success, true);
});

test('run: with bucket_no_upscale, an image narrower than one step has an empty bucket: flagged, no file', async () => {
  const thin = await photoJpeg({ seed: 13, width: 40, height: 300 });
  const out = await runOn(thin, params({ bucket_no_upscale: true }));
  const r = out.result as unknown as BucketResult;
  assert.deepEqual([r.bucket, r.written], [[0, 256], false]);
  assert.deepEqual(out.issues!.map((i) => [i.type, i.flagged]), [['too_small_for_bucket', true]]);
  assert.equal(out.files, undefined);
});
