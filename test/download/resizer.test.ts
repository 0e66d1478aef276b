import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { photo, photoJpeg } from '../../src/demo/synth.js';
import { processImage, type ResizeOptions } from '../../src/download/resizer.js';
import { bombPng } from '../helpers/bad-images.js';

const BASE: ResizeOptions = {
  mode: 'no', size: 64, onlyIfBigger: false, downscale: 'area', upscale: 'lanczos', format: 'jpeg', quality: 90, skipReencode: false, maxPixels: 178_956_970, failOn: 'error',
};

async function dims(bytes: Buffer): Promise<[number, number, string]> {
  const m = await sharp(bytes).metadata();
  return [m.width, m.height, m.format];
}

test('resize modes give the sizes img2dataset gives', async () => {
  const jpg = await photoJpeg({ seed: 1, width: 160, height: 120 });
  const cases: Array<[ResizeOptions['mode'], number, boolean, [number, number]]> = [
    ['no', 64, false, [160, 120]],
    ['keep_ratio', 64, false, [85, 64]],
    ['keep_ratio_largest', 64, false, [64, 48]],
    ['center_crop', 64, false, [64, 64]],
    ['border', 64, false, [64, 64]],
    ['keep_ratio', 240, false, [320, 240]],
    ['keep_ratio', 240, true, [160, 120]],
    ['border', 200, true, [160, 120]],
  ];
  for (const [mode, size, onlyIfBigger, want] of cases) {
    const r = await processImage(jpg, { ...BASE, mode, size, onlyIfBigger });
    assert.ok(r.ok, `${mode} ${size}`);
    assert.deepEqual([r.width, r.height], want, `${mode} ${size} onlyIfBigger=${onlyIfBigger}`);
    assert.deepEqual(await dims(r.bytes), [...want, 'jpeg']);
    assert.deepEqual([r.originalWidth, r.originalHeight], [160, 120]);
  }
});

test('border pads with white; alpha is flattened on white for JPEG and kept for PNG', async () => {
  const jpg = await photoJpeg({ seed: 2, width: 160, height: 80 });
  const bordered = await processImage(jpg, { ...BASE, mode: 'border', size: 64 });
  assert.ok(bordered.ok);
  const { data, info } = await sharp(bordered.bytes).raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => data[(y * info.width + x) * info.channels];
  assert.ok(at(32, 1) > 245 && at(32, 62) > 245, 'top and bottom borders are white');

  const transparent = await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  const asJpeg = await processImage(transparent, BASE);
  assert.ok(asJpeg.ok);
  const px = await sharp(asJpeg.bytes).raw().toBuffer();
  assert.ok(px[0] > 245, 'transparent black becomes white');
  const asPng = await processImage(transparent, { ...BASE, format: 'png', quality: 6 });
  assert.ok(asPng.ok);
  assert.equal((await sharp(asPng.bytes).metadata()).hasAlpha, true);
  assert.equal(asPng.ext, 'png');
  const asWebp = await processImage(transparent, { ...BASE, format: 'webp' });
  assert.ok(asWebp.ok && asWebp.ext === 'webp' && (await dims(asWebp.bytes))[2] === 'webp');
});

test('EXIF orientation is applied; skip_reencode keeps the bytes as received', async () => {
  const rotated = await (await photo({ seed: 3, width: 160, height: 120 })).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const r = await processImage(rotated, BASE);
  assert.ok(r.ok);
  assert.deepEqual([r.width, r.height, r.originalWidth, r.originalHeight], [120, 160, 120, 160]);

  const jpg = await photoJpeg({ seed: 4, width: 160, height: 120 });
  const kept = await processImage(jpg, { ...BASE, skipReencode: true });
  assert.ok(kept.ok);
  assert.ok(kept.bytes.equals(jpg), 'stored as received');
  const png = await (await photo({ seed: 4, width: 160, height: 120 })).png().toBuffer();
  const converted = await processImage(png, { ...BASE, skipReencode: true });
  assert.ok(converted.ok && !converted.bytes.equals(png) && converted.format === 'jpeg', 'another format is re-encoded');
  const truncated = await processImage(jpg.subarray(0, jpg.length >> 1), { ...BASE, skipReencode: true });
  assert.equal(truncated.ok, false, 'the kept bytes are still fully decoded');
});

test('bombs, truncated files and non-images are refused with a reason', async () => {
  const bomb = await processImage(bombPng(20000), BASE);
  assert.deepEqual(bomb, { ok: false, error: 'decompression bomb: 20000x20000 (400000000 pixels) is over the 178956970-pixel limit; not decoded' });
  const small = await processImage(await photoJpeg({ seed: 5, width: 160, height: 120 }), { ...BASE, maxPixels: 160 * 119 });
  assert.match(small.ok ? '' : small.error, /^decompression bomb: 160x120/);
  const jpg = await photoJpeg({ seed: 5, width: 320, height: 240 });
  for (const mode of ['no', 'keep_ratio'] as const) {
    const cut = await processImage(jpg.subarray(0, Math.floor(jpg.length * 0.8)), { ...BASE, mode });
    assert.equal(cut.ok, false, `truncated JPEG, mode ${mode}`);
    assert.match(cut.ok ? '' : cut.error, /premature end|truncated/i);
  }
  const html = await processImage(Buffer.from('<!DOCTYPE html><html><body>404</body></html>'), BASE);
  assert.deepEqual(html, { ok: false, error: 'not an image: HTML document' });
  const empty = await processImage(Buffer.alloc(0), BASE);
  assert.equal(empty.ok, false);
});

test('shrinking uses downscale_interpolation and enlarging upscale_interpolation, each equal to sharp with that kernel', async () => {
  const jpg = await photoJpeg({ seed: 9, width: 160, height: 120 });
  const png = { ...BASE, format: 'png' as const, quality: 6 };
  const pixels = async (b: Buffer) => (await sharp(b).raw().toBuffer()).toString('base64');
  const direct = (size: number, kernel: 'nearest' | 'linear' | 'lanczos3') =>
    sharp(jpg).resize({ width: size, height: size, fit: 'outside', kernel }).png().toBuffer().then(pixels);
  const run = async (size: number, downscale: ResizeOptions['downscale'], upscale: ResizeOptions['upscale']) => {
    const r = await processImage(jpg, { ...png, mode: 'keep_ratio', size, downscale, upscale });
    assert.ok(r.ok);
    return pixels(r.bytes);
  };
  // Shrinking: the downscale kernel decides, the upscale one does not matter.
  assert.equal(await run(48, 'nearest', 'lanczos'), await direct(48, 'nearest'));
  assert.equal(await run(48, 'area', 'nearest'), await direct(48, 'linear'));
  assert.notEqual(await run(48, 'nearest', 'lanczos'), await run(48, 'lanczos', 'lanczos'));
  // Enlarging: the other way round.
  assert.equal(await run(200, 'nearest', 'lanczos'), await direct(200, 'lanczos3'));
  assert.equal(await run(200, 'lanczos', 'nearest'), await direct(200, 'nearest'));
});
