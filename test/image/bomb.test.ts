/**
 * One pixel limit for every decoder: a 16000x16000 grey PNG (~31 KB, 256 megapixels) is under sharp's
 * own default limit but over imgsift's, so without the guard hash, quality and dedup_signals would
 * each decode it in full (hundreds of MB per worker). It must be flagged by probe, recorded as
 * skipped by every later step and by a converting export, and never decoded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bombPng } from '../helpers/bad-images.js';
import { writePhotos } from '../helpers/dataset.js';
import { tempDir } from '../helpers/tmp.js';
import {
  DEFAULT_MAX_PIXELS, DecompressionBombError, isDecompressionBomb, openImage, pixelLimit, setPixelLimit,
} from '../../src/image/open.js';
import { probeImage } from '../../src/image/probe.js';
import { photoJpeg } from '../../src/demo/synth.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A grey 24-bit BMP (BITMAPINFOHEADER, bottom-up). */
function greyBmp(width: number, height: number): Buffer {
  const row = Math.ceil((width * 3) / 4) * 4;
  const b = Buffer.alloc(54 + row * height, 0x80);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(0, 6);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  b.fill(0, 30, 54);
  return b;
}

test('openImage refuses a PNG, JPEG or BMP over the limit from its header, naming its size', async () => {
  assert.equal(pixelLimit(), DEFAULT_MAX_PIXELS);
  const bomb = bombPng(16000);
  assert.throws(() => openImage(bomb), (e: unknown) => e instanceof DecompressionBombError && /16000x16000 \(256000000 pixels\)/.test(e.message));
  // A caller may lower the limit, never raise it.
  assert.throws(() => openImage(bomb, { limitInputPixels: 10 ** 12 }), DecompressionBombError);
  const jpg = await photoJpeg({ seed: 1, width: 200, height: 100 });
  assert.throws(() => openImage(jpg, { limitInputPixels: 19_999 }), /200x100/);
  assert.equal((await openImage(jpg, { limitInputPixels: 20_000 }).metadata()).width, 200);
  const w = await openImage(jpg).webp().toBuffer();
  // The thread's limit applies to every open.
  setPixelLimit(19_999);
  try {
    assert.throws(() => openImage(jpg), DecompressionBombError);
    const bmp = greyBmp(200, 100);
    assert.throws(() => openImage(bmp), DecompressionBombError);
    // A format sharp checks itself (WebP) is refused by libvips from its header.
    await assert.rejects(openImage(w).raw().toBuffer(), (e: unknown) => isDecompressionBomb(e));
    // The probe flags exactly what the decoders refuse, never more leniently.
    const probed = await probeImage(jpg, 'a.jpg', { maxPixels: 10 ** 9 });
    assert.deepEqual(probed.issues.map((i) => i.type), ['decompression_bomb']);
  } finally {
    setPixelLimit(DEFAULT_MAX_PIXELS);
  }
});

test('every decoder refuses the bomb from its header: hashes, quality, variants, buckets, augment, align, masks, matching, embeddings, thumbnails, export conversion', async () => {
  const { computeHashes } = await import('../../src/image/hashes.js');
  const { measureQuality } = await import('../../src/image/quality.js');
  const { computeVariants } = await import('../../src/image/variants.js');
  const { uprightSize } = await import('../../src/image/bucket-resize.js');
  const { augment } = await import('../../src/image/augment.js');
  const { alignPair } = await import('../../src/image/align.js');
  const { editMask } = await import('../../src/image/edit-mask.js');
  const { alignMatch } = await import('../../src/image/overlay-match.js');
  const { preprocessPixels } = await import('../../src/embed/preprocess.js');
  const { ImagePreprocess } = await import('../../src/embed/manifest.js');
  const { encodeAs } = await import('../../src/export/convert.js');
  const { thumbnail } = await import('../../src/report/thumbs.js');
  const bomb = bombPng(16000);
  const photo = await photoJpeg({ seed: 3, width: 96, height: 64 });
  const decoders: Record<string, () => Promise<unknown>> = {
    hashes: () => computeHashes(bomb, ['phash', 'dhash']),
    quality: () => measureQuality(bomb),
    variants: () => computeVariants(bomb),
    'bucket size': () => uprightSize(bomb),
    augment: () => augment(bomb, { seed: 1, flip: true, format: 'jpg', quality: 90 } as never),
    align: () => alignPair(photo, bomb),
    'edit mask': () => editMask(photo, bomb, [1, 0, 0, 0, 1, 0, 0, 0, 1]),
    'overlay match': () => alignMatch(bomb, photo),
    embedding: () => preprocessPixels(bomb, ImagePreprocess.parse({ size: 32 })),
    'export conversion': () => encodeAs(bomb, 'png', 'jpeg', { quality: 90 }),
  };
  for (const [name, run] of Object.entries(decoders)) {
    await assert.rejects(Promise.resolve().then(run), (e: unknown) => isDecompressionBomb(e), name);
  }
  const dir = await tempDir();
  await writeFile(join(dir, 'bomb.png'), bomb);
  assert.equal(await thumbnail(join(dir, 'bomb.png')), null, 'the report shows no thumbnail');
  // Nothing was decoded: one full decode would be 256 MB grey, 768 MB as RGB.
  assert.ok(process.memoryUsage().rss < 600 * 2 ** 20, `rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);
});

/** Run a build in a child process and return its summary and peak RSS (bytes). */
function buildInChild(recipe: string): { summary: any; exitCode: number; maxRssBytes: number; stderr: string } {
  const script = `
    import { build } from './src/exec/build.ts';
    import { Reporter } from './src/exec/reporter.ts';
    const r = await build(${JSON.stringify(recipe)}, { reporter: new Reporter({ mode: 'quiet' }) });
    process.stdout.write(JSON.stringify({ summary: r.summary, exitCode: r.exitCode, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
  `;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  assert.equal(res.status, 0, `build failed: ${res.stderr}`);
  return { ...JSON.parse(res.stdout), stderr: res.stderr };
}

test('a decompression bomb is flagged by probe, skipped (not decoded) by every later step and export, and RSS stays low', async () => {
  const dir = await tempDir();
  const images = join(dir, 'images');
  await writePhotos(images, 6, { size: [320, 240], extra: { 'bomb.png': bombPng(16000) } });
  const recipe = join(dir, 'recipe.yaml');
  await writeFile(recipe, [
    'name: bombs',
    'workdir: work',
    'workers: 2',
    'source: { format: folder, path: images }',
    'steps:',
    '  - probe: {}',
    '  - hash: {}',
    '  - quality: {}',
    '  - dedup_signals: {}',
    'export:',
    '  - { format: webdataset, to: out/wds, reencode: { format: jpeg, quality: 90 } }',
    '',
  ].join('\n'));

  const run = buildInChild(recipe);
  const { summary } = run;
  assert.equal(summary.ingest.read, 7);
  assert.equal(summary.issues.decompression_bomb, 1, 'probe flags the bomb');
  const step = (name: string) => summary.steps.find((s: { name: string }) => s.name === name).stats;
  for (const name of ['hash', 'quality', 'dedup_signals']) {
    assert.equal(step(name)['skipped (decompression_bomb)'], 1, `${name} counts the bomb as skipped`);
    assert.equal(step(name).failed, undefined, `${name} has no failure`);
    assert.equal(step(name)['skipped, listed in'], join(dir, 'work', 'skipped.jsonl'));
  }
  assert.equal(summary.issues.skipped, 1, 'one sample carries skipped issues');
  const wds = summary.exports.find((e: { name: string }) => e.name === 'webdataset').stats;
  assert.equal(wds['samples skipped'], 1, 'the converting export skips the bomb');

  // Every skip is listed, with its reason and the size, in the run's skipped.jsonl.
  const listed = (await readFile(join(dir, 'work', 'skipped.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(listed.map((l) => l.source).sort(), ['step dedup_signals', 'step hash', 'step quality']);
  for (const l of listed) {
    assert.equal(l.reason, 'decompression_bomb');
    assert.equal(l.path, join(images, 'bomb.png'));
    assert.match(l.detail, /16000x16000 \(256000000 pixels\), over the decompression-bomb limit of 178956970/);
  }
  // Six photos went through everything and into the shards.
  const shards = await readdir(join(dir, 'out', 'wds'), { recursive: true });
  assert.ok(shards.some((f) => f.endsWith('.tar')), `shards: ${shards.join(', ')}`);

  // One full decode of the bomb is 256 MB grey (768 MB as RGB for quality) per worker: the whole
  // build staying under 800 MB peak shows nothing decoded it (measured: 380 MB; 2.1 GB without the guard).
  assert.ok(run.maxRssBytes < 800 * 2 ** 20, `peak RSS ${(run.maxRssBytes / 2 ** 20).toFixed(0)} MB`);

  // A rerun takes the skips from the cache, and still counts and lists them.
  const again = buildInChild(recipe);
  assert.equal(again.summary.steps.find((s: { name: string }) => s.name === 'hash').stats['skipped (decompression_bomb)'], 1);
  assert.equal(again.summary.steps.find((s: { name: string }) => s.name === 'probe').stats['samples from cache'], 7);
  const relisted = (await readFile(join(dir, 'work', 'skipped.jsonl'), 'utf8')).trim().split('\n');
  assert.equal(relisted.length, 3);
});

test('the recipe max_pixels is the one limit: lower, it turns a normal photo into a skipped bomb', async () => {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 3, { size: [320, 240] });
  const recipe = join(dir, 'recipe.yaml');
  await writeFile(recipe, [
    'name: limit',
    'workdir: work',
    'max_pixels: 50000',
    'source: { format: folder, path: images }',
    'steps:',
    '  - probe: {}',
    '  - hash: {}',
    '',
  ].join('\n'));
  const { summary } = buildInChild(recipe);
  assert.equal(summary.issues.decompression_bomb, 3);
  assert.equal(summary.steps.find((s: { name: string }) => s.name === 'hash').stats['skipped (decompression_bomb)'], 3);

  // Commands run on the catalog afterwards decode under the run's limit too (the runs table
  // records it): a converting export skips the photos, the report and the review app make no
  // thumbnails of them. Under the default limit all three would decode them.
  const script = `
    import { Catalog } from './src/catalog/catalog.ts';
    import { latestRunId, runPixelLimitOf, useRun } from './src/catalog/run-view.ts';
    import { runExport } from './src/cli/export.ts';
    import { Reporter } from './src/exec/reporter.ts';
    import { pixelLimit } from './src/image/open.ts';
    import { writeReport } from './src/report/html.ts';
    import { Thumbnailer } from './src/review/thumbs.ts';
    const workdir = ${JSON.stringify(join(dir, 'work'))};
    const stats = await runExport({ workdir, format: 'webdataset', to: ${JSON.stringify(join(dir, 'wds'))},
      opt: ['reencode.format=jpeg'] }, new Reporter({ mode: 'quiet' }));
    const after = pixelLimit();
    const ro = await Catalog.open(workdir, { readOnly: true });
    await writeReport(ro, await latestRunId(ro), ${JSON.stringify(join(dir, 'report.html'))});
    ro.close();
    const catalog = await Catalog.open(workdir);
    const run = await latestRunId(catalog);
    await useRun(catalog, run);
    const limit = await runPixelLimitOf(catalog, run);
    const ids = (await catalog.all('SELECT id FROM active ORDER BY id')).map((r) => r.id);
    const thumbs = new Thumbnailer(catalog, workdir);
    const free = await thumbs.thumbnail(ids[0]).then(() => 'made', (e) => e.message);
    const review = new Thumbnailer(catalog, workdir + '/other');
    review.setRunLimit(limit);
    const limited = await review.thumbnail(ids[1]).then(() => 'made', (e) => e.message);
    catalog.close();
    process.stdout.write(JSON.stringify({ stats, after, limit, free, limited }));
  `;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(res.status, 0, res.stderr);
  const out = JSON.parse(res.stdout);
  assert.equal(out.limit, 50000, 'the run recorded its limit');
  assert.equal(out.stats['samples skipped'], 3, 'the export decodes under the run limit');
  assert.equal(out.after, 178956970, 'and puts the process limit back');
  assert.equal(out.free, 'made', 'without the run limit a thumbnail is made');
  assert.match(out.limited, /over the decompression-bomb limit of 50000 pixels/);
  const html = await readFile(join(dir, 'report.html'), 'utf8');
  assert.ok(html.includes('decompression_bomb'), 'the report lists the flagged photos');
  assert.ok(!html.includes('data:image/webp'), 'and makes no thumbnail of them');
});

test('openImage is the only way src/ decodes: no other sharp(...) call (demo generators aside)', async () => {
  const src = join(ROOT, 'src');
  const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith('.ts') && f !== join('image', 'open.ts') && !f.startsWith(`demo${'/'}`));
  const offenders: string[] = [];
  for (const f of files) {
    const lines = (await readFile(join(src, f), 'utf8')).split('\n');
    lines.forEach((line, i) => {
      const code = line.trim();
      if (code.startsWith('//') || code.startsWith('*') || code.startsWith('/*')) return;
      if (/\bsharp\(/.test(code)) offenders.push(`src/${f}:${i + 1}: ${code}`);
    });
  }
  assert.deepEqual(offenders, [], 'decode through openImage (src/image/open.ts) so the pixel limit applies');
});
