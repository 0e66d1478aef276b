import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { Bucketer, KOHYA_DEFAULTS, type BucketSettings } from '../../src/image/buckets.js';
import { resizeToBucket, uprightSize, type BucketResizeOptions } from '../../src/image/bucket-resize.js';
import { photo, photoJpeg, photoPixels } from '../../src/demo/synth.js';
import { makeBadImages } from '../helpers/bad-images.js';

const SETTINGS: BucketSettings = { ...KOHYA_DEFAULTS, resolution: [256, 256], enable_bucket: true, min_bucket_reso: 128, max_bucket_reso: 512, bucket_reso_steps: 32 };
const bucketer = new Bucketer(SETTINGS);
const opts = (o: Partial<BucketResizeOptions> = {}): BucketResizeOptions => ({ format: 'png', quality: 95, crop: 'center', background: '#ffffff', ...o });

test('png, jpg and webp come out at the bucket size; quality reaches the encoder', async () => {
  const src = await photoJpeg({ seed: 1, width: 900, height: 600, quality: 95 });
  const plan = bucketer.select(...(await uprightSize(src)));
  const sizes: Record<string, number> = {};
  for (const [format, quality] of [['png', 95], ['jpg', 95], ['jpg', 40], ['webp', 90]] as const) {
    const out = await resizeToBucket(src, plan, opts({ format, quality }));
    const meta = await sharp(out.bytes).metadata();
    assert.equal(meta.format, format === 'jpg' ? 'jpeg' : format);
    assert.deepEqual([meta.width, meta.height, out.width, out.height], [...plan.bucket, ...plan.bucket]);
    assert.equal(out.ext, format);
    sizes[`${format}${quality}`] = out.bytes.length;
  }
  assert.ok(sizes.jpg40 < sizes.jpg95 * 0.7, JSON.stringify(sizes));
});

test('centre crop cuts the middle of the resized image, as sd-scripts does', async () => {
  // A 600x200 image, black with a 2 px white column at the horizontal centre; square bucket.
  const w = 600, h = 200;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (const x of [299, 300]) raw.fill(255, (y * w + x) * 3, (y * w + x) * 3 + 3);
  const src = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  const b = new Bucketer({ ...SETTINGS, resolution: [128, 128], min_bucket_reso: 128, max_bucket_reso: 128 });
  const plan = b.select(w, h);
  assert.deepEqual([plan.bucket, plan.resized, plan.crop], [[128, 128], [384, 128], { left: 128, top: 0 }]);
  const out = await resizeToBucket(src, plan, opts());
  const px = await sharp(out.bytes).raw().toBuffer();
  const row = Array.from({ length: 128 }, (_, x) => px[(64 * 128 + x) * 3]);
  const peak = row.indexOf(Math.max(...row));
  assert.ok(Math.abs(peak - 63.5) <= 1, `bright column at ${peak}`);
});

test('subject-aware crops move the window to the subject; centre does not', async () => {
  // Flat grey wide image with a detailed, saturated object near the right edge.
  const w = 800, h = 300;
  const detail = await (await photo({ seed: 4, width: 180, height: 180, kind: 'beach' })).modulate({ saturation: 2 }).png().toBuffer();
  const src = await sharp({ create: { width: w, height: h, channels: 3, background: '#808080' } })
    .composite([{ input: detail, left: 600, top: 60 }])
    .png()
    .toBuffer();
  const b = new Bucketer({ ...SETTINGS, resolution: [256, 256], min_bucket_reso: 256, max_bucket_reso: 256 });
  const plan = b.select(w, h);
  const centre = await resizeToBucket(src, plan, opts());
  assert.equal(centre.crop.left, plan.crop.left);
  for (const crop of ['attention', 'entropy'] as const) {
    const out = await resizeToBucket(src, plan, opts({ crop }));
    assert.deepEqual([out.width, out.height], plan.bucket);
    assert.ok(out.crop.left > plan.crop.left + 50, `${crop}: window at ${out.crop.left}, centre ${plan.crop.left}`);
  }
});

test('alpha is flattened onto the background colour', async () => {
  // Left half transparent, right half an opaque photo.
  const { data } = await photoPixels({ seed: 2, width: 400, height: 400 });
  const rgba = Buffer.alloc(400 * 400 * 4);
  for (let i = 0; i < 400 * 400; i++) {
    data.copy(rgba, i * 4, i * 3, i * 3 + 3);
    rgba[i * 4 + 3] = i % 400 < 200 ? 0 : 255;
  }
  const src = await sharp(rgba, { raw: { width: 400, height: 400, channels: 4 } }).png().toBuffer();
  const plan = bucketer.select(400, 400);
  const out = await resizeToBucket(src, plan, opts({ background: '#ff8000' }));
  const { data: px, info } = await sharp(out.bytes).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  assert.deepEqual([...px.subarray(0, 3)], [255, 128, 0]);
  const right = ((info.height >> 1) * info.width + info.width - 5) * 3;
  assert.notDeepEqual([...px.subarray(right, right + 3)], [255, 128, 0]);
});

test('colour is converted to sRGB: a Display P3 PNG and a CMYK JPEG', async () => {
  const n = 300 * 300;
  const raw = Buffer.alloc(n * 3);
  for (let i = 0; i < n; i++) raw.set([200, 100, 50], i * 3);
  // Encoding with a P3 profile converts these sRGB values into P3 numbers in the file.
  const p3 = await sharp(raw, { raw: { width: 300, height: 300, channels: 3 } }).withIccProfile('p3').png().toBuffer();
  const stored = [...(await sharp(p3, { ignoreIcc: true }).raw().toBuffer()).subarray(0, 3)];
  assert.ok(Math.abs(stored[0] - 200) > 5, `P3 numbers ${stored}`);
  const plan = bucketer.select(300, 300);
  const out = await resizeToBucket(p3, plan, opts());
  const got = [...(await sharp(out.bytes, { ignoreIcc: true }).raw().toBuffer()).subarray(0, 3)];
  assert.ok(got.every((v, i) => Math.abs(v - [200, 100, 50][i]) <= 2), `sRGB ${got}`);

  const cmyk = (await makeBadImages(['cmyk.jpg'])).get('cmyk.jpg')!;
  const fromCmyk = await resizeToBucket(cmyk, bucketer.select(...(await uprightSize(cmyk))), opts({ format: 'jpg' }));
  const meta = await sharp(fromCmyk.bytes).metadata();
  assert.deepEqual([meta.space, meta.channels], ['srgb', 3]);
});
