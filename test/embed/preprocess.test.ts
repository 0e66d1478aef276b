import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { ImagePreprocess } from '../../src/embed/manifest.js';
import { preprocessImage, resizeTarget } from '../../src/embed/preprocess.js';
import { Encoder } from '../../src/embed/encoder.js';
import { resolveModel } from '../../src/embed/models-dir.js';
import { encodeModel, FLOAT, writeModel } from '../helpers/onnx-model.js';
import { tempDir } from '../helpers/tmp.js';

/** A 6×4 RGB image whose pixel (x, y) is (10x + y, 100 + 10x + y, 200 + x + y), as lossless PNG. */
const W = 6, H = 4;
const px = (x: number, y: number) => [10 * x + y, 100 + 10 * x + y, 200 + x + y];
async function gridPng(): Promise<Buffer> {
  const raw = Buffer.alloc(W * H * 3);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) raw.set(px(x, y), (y * W + x) * 3);
  return sharp(raw, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
}

const P = ImagePreprocess.parse({ size: 4, resize: 'shortest', resize_to: 4, mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] });

/** By hand: no resize (short side already 4), centre crop x = 1..4, ((v / 255) - mean) / std. */
function expected(layout: 'nchw' | 'nhwc'): number[] {
  const out: number[] = [];
  const val = (x: number, y: number, c: number) => (px(x + 1, y)[c] / 255 - P.mean[c]) / P.std[c];
  if (layout === 'nchw') for (let c = 0; c < 3; c++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) out.push(val(x, y, c));
  else for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 3; c++) out.push(val(x, y, c));
  return out;
}

function assertClose(actual: ArrayLike<number>, want: number[], tol = 1e-5): void {
  assert.equal(actual.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(actual[i] - want[i]) <= tol, `value ${i}: ${actual[i]} vs ${want[i]}`);
}

test('centre crop, scaling and per-channel normalisation match a hand computation (NCHW and NHWC)', async () => {
  const png = await gridPng();
  const nchw = await preprocessImage(png, P);
  assert.deepEqual([nchw.width, nchw.height], [6, 4]);
  assertClose(nchw.data, expected('nchw'));
  assertClose((await preprocessImage(png, { ...P, layout: 'nhwc' })).data, expected('nhwc'));
});

test('resize targets follow the HF processors: shortest side, floor of the long side; squash ignores aspect', () => {
  const clip = ImagePreprocess.parse({ size: 224, resize_to: 256 });
  assert.deepEqual(resizeTarget(640, 480, clip), { width: 341, height: 256 });
  assert.deepEqual(resizeTarget(480, 640, clip), { width: 256, height: 341 });
  assert.deepEqual(resizeTarget(300, 300, clip), { width: 256, height: 256 });
  assert.deepEqual(resizeTarget(640, 480, ImagePreprocess.parse({ size: 224, resize: 'squash' })), { width: 224, height: 224 });
});

test('resize then crop: a left/right split image keeps its halves centred; EXIF orientation is applied', async () => {
  // 80×40: left half red, right half blue. Short side → 8 (16×8), centre crop 8×8 = columns 4..11.
  const raw = Buffer.alloc(80 * 40 * 3);
  for (let y = 0; y < 40; y++) for (let x = 0; x < 80; x++) raw.set(x < 40 ? [255, 0, 0] : [0, 0, 255], (y * 80 + x) * 3);
  const img = await sharp(raw, { raw: { width: 80, height: 40, channels: 3 } }).png().toBuffer();
  const p = ImagePreprocess.parse({ size: 8, resize_to: 8, interpolation: 'nearest' });
  const { data } = await preprocessImage(img, p);
  const red = (x: number, y: number) => data[y * 8 + x];
  assert.equal(red(0, 3), 1);
  assert.equal(red(3, 3), 1);
  assert.equal(red(4, 3), 0);
  assert.equal(red(7, 3), 0);
  // The same pixels stored turned, with EXIF orientation 6: decoded upright as 80×40 again.
  const rotated = await sharp(raw, { raw: { width: 80, height: 40, channels: 3 } }).rotate(270).withMetadata({ orientation: 6 }).png().toBuffer();
  const r = await preprocessImage(rotated, p);
  assert.deepEqual([r.width, r.height], [80, 40]);
  assertClose(r.data, [...data]);
});

test('through onnxruntime: a Flatten model returns exactly the preprocessed tensor', async () => {
  const dir = await tempDir();
  const model = encodeModel({
    inputs: [{ name: 'pixel_values', elem: FLOAT, shape: ['batch', 3, 4, 4] }],
    outputs: [{ name: 'flat', elem: FLOAT, shape: ['batch', 48] }],
    nodes: [{ op: 'Flatten', inputs: ['pixel_values'], outputs: ['flat'] }],
    initializers: [],
  });
  await writeModel(join(dir, 'flat', 'model.onnx'), model);
  await writeModel(join(dir, 'flat', 'manifest.json'), Buffer.from(JSON.stringify({
    name: 'flat', kind: 'image', input: 'pixel_values', output: 'flat', normalize: false, dim: 48, image: P,
  })));
  const enc = await Encoder.load(resolveModel({ model: 'flat', dir }));
  const png = await gridPng();
  const [a, b] = await enc.embedImages([png, png]);
  assertClose(a, expected('nchw'));
  assertClose(b, expected('nchw'));
  await enc.release();
});
