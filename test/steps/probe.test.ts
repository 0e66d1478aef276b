import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog, COLUMNS, type Row } from '../../src/catalog/catalog.js';
import { syncDrops, useRun } from '../../src/catalog/run-view.js';
import { Reporter } from '../../src/exec/reporter.js';
import { probeStep, ProbeParamsSchema, type ProbeParams } from '../../src/steps/probe.js';
import { DEFAULT_MAX_PIXELS } from '../../src/image/probe.js';
import type { MapOutput, StepContext } from '../../src/steps/types.js';
import { sha256Hex } from '../../src/util/hash.js';
import { photoJpeg } from '../../src/demo/synth.js';
import { makeBadImages } from '../helpers/bad-images.js';

const params = (p: unknown = {}): ProbeParams => ProbeParamsSchema.parse(p);

async function runOn(bytes: Buffer, name: string, p: ProbeParams = params()): Promise<MapOutput> {
  return probeStep.run({ id: name, uri: `/data/${name}`, name, bytes, sha256: sha256Hex(bytes), upstream: {}, roles: {}, fields: {} }, p);
}

test('params: defaults, format aliases, precise errors', () => {
  assert.deepEqual(params(), { max_pixels: DEFAULT_MAX_PIXELS, fail_on: 'warning' });
  assert.deepEqual(params({ allowed_formats: ['JPG', 'png', '.tif'] }).allowed_formats, ['jpeg', 'png', 'tiff']);
  const bad = (p: unknown) => {
    const r = ProbeParamsSchema.safeParse(p);
    assert.equal(r.success, false, JSON.stringify(p));
    return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };
  assert.match(bad({ allowed_formats: ['jpeg', 'docx'] }), /allowed_formats\.1: unknown image format 'docx'; known: .*jpeg/);
  assert.match(bad({ allowed_formats: [] }), /allowed_formats/);
  assert.match(bad({ max_pixels: -1 }), /max_pixels/);
  assert.match(bad({ max_pixels: 2.5 }), /max_pixels/);
  assert.match(bad({ fail_on: 'never' }), /fail_on/);
  assert.match(bad({ max_pixel: 10 }), /max_pixel/);
});

test('run: result is the probe info; issues include disallowed_format only when asked', async () => {
  const f = await makeBadImages(['png-named.jpg', 'truncated.jpg']);
  const png = f.get('png-named.jpg')!;
  const plain = await runOn(png, 'png-named.jpg');
  const result = plain.result as Record<string, unknown>;
  assert.equal(result.format, 'png');
  assert.equal(result.decodes, true);
  assert.equal('issues' in result, false);
  // wrong_extension depends on the name, so it is decided per sample after the run (afterAll), not cached here.
  assert.deepEqual(plain.issues!.map((i) => i.type), []);

  const onlyJpeg = params({ allowed_formats: ['jpg'] });
  const disallowed = await runOn(png, 'png-named.jpg', onlyJpeg);
  assert.deepEqual(disallowed.issues!.map((i) => i.type), ['disallowed_format']);
  assert.deepEqual(disallowed.issues![0].evidence, { format: 'png', allowed: ['jpeg'] });
  const jpg = await photoJpeg({ seed: 30, width: 40, height: 30 });
  assert.deepEqual((await runOn(jpg, 'ok.jpg', onlyJpeg)).issues, []);
  // A truncated JPEG is still a JPEG: corrupt, but not disallowed.
  assert.deepEqual((await runOn(f.get('truncated.jpg')!, 'truncated.jpg', onlyJpeg)).issues!.map((i) => i.type), ['corrupt']);

  // max_pixels reaches the probe.
  assert.deepEqual((await runOn(jpg, 'ok.jpg', params({ max_pixels: 100 }))).issues!.map((i) => i.type), ['decompression_bomb']);
});

interface Fixture {
  catalog: Catalog;
  ctx: StepContext;
  dir: string;
  sha: Record<string, string>;
}

/**
 * A catalog as the executor leaves it after run 2's probe: samples (one dropped, one only seen in
 * run 1, two sharing a content, one unreadable), their files and statuses, and cached probe results
 * for the current params hash 'ph' plus stale results under an older hash 'old'.
 */
async function fixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-probe-step-'));
  const catalog = await Catalog.open(dir);
  const runId = 2;
  await catalog.run(`INSERT INTO runs (id, started, status) VALUES (1, now(), 'finished'), (2, now(), 'running')`);

  const bad = await makeBadImages(['truncated.jpg', 'cmyk.jpg', 'png-named.jpg', 'animated.gif', 'bomb.png']);
  const contents: Record<string, Buffer> = {
    good: await photoJpeg({ seed: 31, width: 64, height: 48 }),
    truncated: bad.get('truncated.jpg')!,
    cmyk: bad.get('cmyk.jpg')!,
    wrong: bad.get('png-named.jpg')!,
    anim: bad.get('animated.gif')!,
    bomb: bad.get('bomb.png')!,
    dropped: await photoJpeg({ seed: 32, width: 40, height: 40 }),
    gone: await photoJpeg({ seed: 33, width: 40, height: 40 }),
  };
  const sha = Object.fromEntries(Object.entries(contents).map(([k, b]) => [k, sha256Hex(b)]));
  // sample id, content key, name, seen_run; `good2` shares `good`'s content; `unreadable` has no content.
  const samples: Array<[string, string | null, string, number]> = [
    ['good', 'good', 'good.jpg', 2], ['good2', 'good', 'copy/good.jpg', 2],
    ['truncated', 'truncated', 'truncated.jpg', 2], ['cmyk', 'cmyk', 'cmyk.jpg', 2],
    ['wrong', 'wrong', 'png-named.jpg', 2], ['anim', 'anim', 'animated.gif', 2], ['bomb', 'bomb', 'bomb.png', 2],
    ['dropped', 'dropped', 'dropped.jpg', 2], ['gone', 'gone', 'gone.jpg', 1], ['unreadable', null, 'missing.jpg', 2],
  ];
  await catalog.append('samples', COLUMNS.samples, samples.map(([id, , path, seen], ord): Row => ({
    id, source: 'folder', path, ord, first_run: 1, seen_run: seen,
  })));
  await catalog.append('files', COLUMNS.files, samples.map(([id, , path]) => ({ sample_id: id, role: 'image', uri: `/data/${path}` })));
  await catalog.append('file_status', COLUMNS.file_status, samples.map(([, key, path, seen]) => ({
    uri: `/data/${path}`, sha256: key ? sha[key] : null, error: key ? null : 'ENOENT: no such file', run_id: seen,
  })));
  await catalog.append('drops', COLUMNS.drops, [{ sample_id: 'dropped', reason: 'test', step: 'filter', run_id: runId }]);

  const rows: Row[] = [];
  for (const [key, bytes] of Object.entries(contents)) {
    const name = samples.find((s) => s[1] === key)![2];
    const out = await runOn(bytes, name);
    rows.push({ content_hash: sha[key], step: 'probe', params_hash: 'ph', ok: true, result: out.result, issues: out.issues, error: null, elapsed_ms: 1, run_id: runId });
    // A stale result under other parameters, which must never reach `assets`.
    rows.push({ content_hash: sha[key], step: 'probe', params_hash: 'old', ok: true, result: { ...(out.result as object), format: 'stale', width: -1 }, issues: [], error: null, elapsed_ms: 1, run_id: 1 });
  }
  await catalog.append('step_results', COLUMNS.step_results, rows);
  await syncDrops(catalog, runId);
  await useRun(catalog, runId);
  const ctx: StepContext = { catalog, runId, workdir: dir, baseDir: dir, reporter: new Reporter({ mode: 'quiet' }) };
  return { catalog, ctx, dir, sha };
}

async function cleanup(f: Fixture): Promise<void> {
  f.catalog.close();
  await rm(f.dir, { recursive: true, force: true });
}

test('afterAll materialises assets for the active samples\' contents, from this params hash only', async () => {
  const f = await fixture();
  try {
    await probeStep.afterAll!(f.ctx, params(), 'ph');
    const assets = await f.catalog.all<Record<string, unknown>>(`SELECT * FROM assets ORDER BY sha256`);
    const bySha = new Map(assets.map((a) => [a.sha256 as string, a]));
    // good (shared by two samples), truncated, cmyk, wrong, anim, bomb; not dropped, not gone.
    assert.deepEqual(new Set(bySha.keys()), new Set(['good', 'truncated', 'cmyk', 'wrong', 'anim', 'bomb'].map((k) => f.sha[k])));

    const good = bySha.get(f.sha.good)!;
    assert.deepEqual(
      { ...good, bytes: Number(good.bytes) },
      {
        sha256: f.sha.good, bytes: Number(good.bytes), format: 'jpeg', width: 64, height: 48, channels: 3, bit_depth: 8,
        color_space: 'srgb', has_alpha: false, orientation: 1, pages: 1, decodes: true, decode_error: null,
      },
    );
    assert.ok(Number(good.bytes) > 0);
    const truncated = bySha.get(f.sha.truncated)!;
    assert.equal(truncated.decodes, false);
    assert.match(truncated.decode_error as string, /premature end of JPEG/);
    assert.equal(bySha.get(f.sha.cmyk)!.color_space, 'cmyk');
    assert.equal(bySha.get(f.sha.cmyk)!.channels, 4);
    assert.equal(bySha.get(f.sha.wrong)!.format, 'png');
    assert.equal(bySha.get(f.sha.anim)!.pages, 3);
    assert.deepEqual([bySha.get(f.sha.bomb)!.width, bySha.get(f.sha.bomb)!.decodes], [20000, false]);

    // Idempotent: a second call replaces rows instead of failing on the primary key.
    await probeStep.afterAll!(f.ctx, params(), 'ph');
    assert.equal(await f.catalog.scalar(`SELECT count(*) FROM assets`), 6);
    // Another params hash replaces the values with that hash's results.
    await probeStep.afterAll!(f.ctx, params(), 'old');
    assert.equal(await f.catalog.scalar(`SELECT count(*) FROM assets WHERE format = 'stale' AND width = -1`), 6);
  } finally {
    await cleanup(f);
  }
});

test('stats counts the active samples by outcome and issue', async () => {
  const f = await fixture();
  try {
    await probeStep.afterAll!(f.ctx, params(), 'ph');
    const stats = await probeStep.stats!(f.ctx, params(), 'ph');
    assert.deepEqual(stats, {
      'samples probed': 7, // good, good2, truncated, cmyk, wrong, anim, bomb (not dropped, gone, unreadable)
      'decoded ok': 5, // all but truncated and bomb
      corrupt: 1,
      'decompression bombs': 1,
      cmyk: 1,
      'wrong extension': 1,
      'animated / multi-page': 1,
      'high bit depth (info)': 0,
      'exif rotated (info)': 0,
      formats: 'jpeg 4, png 2, gif 1',
    });
    const withAllowed = await probeStep.stats!(f.ctx, params({ allowed_formats: ['jpeg'] }), 'ph');
    assert.equal(withAllowed['disallowed format'], 0, 'counted from stored issues, which had no allow-list');
  } finally {
    await cleanup(f);
  }
});

test('wrong_extension follows the name, not the cached content: the same bytes as a.png and b.jpg', async () => {
  const { build } = await import('../../src/exec/build.js');
  const { recipeFromObject } = await import('../../src/recipe/load.js');
  const { Reporter } = await import('../../src/exec/reporter.js');
  const { Catalog } = await import('../../src/catalog/catalog.js');
  const { tempDir } = await import('../helpers/tmp.js');
  const { mkdir, writeFile: write, rename } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const sharp = (await import('sharp')).default;
  const dir = await tempDir();
  await mkdir(join(dir, 'images'));
  const png = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#3a7' } }).png().toBuffer();
  await write(join(dir, 'images', 'a.png'), png);
  await write(join(dir, 'images', 'b.jpg'), png);
  const recipe = recipeFromObject({ name: 'w', workdir: join(dir, 'w'), source: { format: 'folder', path: join(dir, 'images') }, steps: [{ probe: {} }] }, dir);
  const flagged = async () => {
    await build(recipe, { reporter: new Reporter({ mode: 'quiet' }), workers: 1 });
    const c = await Catalog.open(join(dir, 'w'));
    try {
      return (await c.all<{ sample_id: string }>(`SELECT sample_id FROM issues WHERE type = 'wrong_extension' ORDER BY 1`)).map((r) => r.sample_id);
    } finally {
      c.close();
    }
  };
  assert.deepEqual(await flagged(), ['b.jpg']);
  await rename(join(dir, 'images', 'b.jpg'), join(dir, 'images', 'b.png'));
  assert.deepEqual(await flagged(), [], 'renamed to .png: nothing is flagged, although the content was cached');
  await rename(join(dir, 'images', 'a.png'), join(dir, 'images', 'a.jpg'));
  assert.deepEqual(await flagged(), ['a.jpg']);
});
