import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { alignMatch } from '../../src/image/overlay-match.js';
import { computeVariants } from '../../src/image/variants.js';
import { hammingHex } from '../../src/image/hashes.js';
import { LARGE_PHOTOS, photosAvailable } from '../helpers/planted-photos.js';

const missing = photosAvailable();
/** A window of a real photo (fractions of its width), 480 px on the longer side. */
const window = async (x0: number, x1: number, path = LARGE_PHOTOS[4]) => {
  const m = await sharp(path).metadata();
  return sharp(path).extract({ left: Math.round(m.width! * x0), top: 0, width: Math.round(m.width! * (x1 - x0)), height: m.height! })
    .resize(480, 480, { fit: 'inside' }).jpeg({ quality: 90 }).toBuffer();
};

test('alignMatch recovers a rotation and a mirror, and accepts them', { skip: missing }, async () => {
  const a = await window(0, 0.45);
  const rotated = await sharp(a).rotate(4, { background: '#000' }).jpeg().toBuffer();
  const r = await alignMatch(a, rotated);
  assert.equal(r.same, true, JSON.stringify(r));
  assert.ok(Math.abs(Math.abs(r.angle) - 4) <= 1, `angle ${r.angle}`);
  const m = await alignMatch(a, await sharp(a).flop().jpeg().toBuffer());
  assert.deepEqual([m.same, m.mirror], [true, true], JSON.stringify(m));
});

test('alignMatch rejects a crop of the same photo that overlaps by a third, and a neighbouring window', { skip: missing }, async () => {
  const a = await window(0, 0.45);
  for (const [x0, x1] of [[0.3, 0.75], [0.55, 1]]) {
    const r = await alignMatch(a, await window(x0, x1));
    assert.equal(r.same, false, `${x0}-${x1}: ${JSON.stringify(r)}`);
  }
});

test('extra views bring a 10% crop within 12 pHash bits of the original, closer than the plain hashes', { skip: missing }, async () => {
  const a = await window(0, 0.45, LARGE_PHOTOS[8]);
  const { width: w, height: h } = (await sharp(a).metadata()) as { width: number; height: number };
  const crop = await sharp(a).extract({ left: Math.round(w * 0.1), top: 0, width: Math.round(w * 0.9), height: Math.round(h * 0.9) }).jpeg().toBuffer();
  const va = await computeVariants(a);
  const vc = await computeVariants(crop);
  const plain = hammingHex(va.plain.phash, vc.plain.phash);
  const viaExtra = Math.min(...va.extra.map((e) => hammingHex(e, vc.plain.phash)));
  assert.ok(viaExtra <= 12 && viaExtra < plain, `plain ${plain}, via extra views ${viaExtra}`);
});
