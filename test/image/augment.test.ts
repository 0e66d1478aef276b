import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { augment, augmentSeeds, riskyReasons, SAFE_AUGMENTATIONS } from '../../src/image/augment.js';
import { photoPng } from '../../src/demo/synth.js';

const SAFE = { ...SAFE_AUGMENTATIONS };

test('the same seed gives the same bytes and parameters; another seed does not', async () => {
  const src = await photoPng({ seed: 21, width: 320, height: 240 });
  const a = await augment(src, { ...SAFE, seed: 7 });
  const b = await augment(src, { ...SAFE, seed: 7 });
  assert.ok(a.bytes.equals(b.bytes));
  assert.deepEqual(a.applied, b.applied);
  const c = await augment(src, { ...SAFE, seed: 8 });
  assert.ok(!a.bytes.equals(c.bytes));
  assert.notDeepEqual(a.applied, c.applied);
  const meta = await sharp(a.bytes).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 320, 240], 'same size, so the same bucket');
});

test('parameters drawn over many seeds stay within the safe ranges and cover them', async () => {
  const src = await photoPng({ seed: 22, width: 96, height: 64 });
  const seen = { flips: 0, rot: [] as number[], br: [] as number[], ct: [] as number[], crop: [] as number[] };
  for (let seed = 0; seed < 40; seed++) {
    const { applied } = await augment(src, { ...SAFE, seed });
    if (applied.flip) seen.flips++;
    seen.rot.push(applied.rotate);
    seen.br.push(applied.brightness);
    seen.ct.push(applied.contrast);
    seen.crop.push(applied.crop.scale);
    assert.deepEqual(applied.risky, []);
    assert.ok(applied.crop.left >= 0 && applied.crop.top >= 0);
  }
  const inRange = (xs: number[], lo: number, hi: number) => xs.every((x) => x >= lo && x <= hi);
  assert.ok(inRange(seen.rot, -5, 5) && inRange(seen.br, 0.9, 1.1) && inRange(seen.ct, 0.9, 1.1) && inRange(seen.crop, 0.9, 1));
  // Not stuck at one value: both directions of rotation, both sides of 1 for brightness.
  assert.ok(Math.min(...seen.rot) < -2 && Math.max(...seen.rot) > 2, JSON.stringify(seen.rot));
  assert.ok(Math.min(...seen.br) < 0.97 && Math.max(...seen.br) > 1.03);
  assert.ok(seen.flips > 8 && seen.flips < 32, `flips ${seen.flips}`);
});

test('the recorded parameters describe the pixels: a flip-only copy is the mirror image', async () => {
  const src = await photoPng({ seed: 23, width: 120, height: 80 });
  let seed = 0;
  let flipped;
  do flipped = await augment(src, { seed: seed++, flip: true }); while (!flipped.applied.flip);
  const expected = await sharp(src).flop().raw().toBuffer();
  const got = await sharp(flipped.bytes).raw().toBuffer();
  assert.ok(got.equals(expected));
  // Brightness alone scales the mean.
  const bright = await augment(src, { seed: 1, brightness: [1.1, 1.1] });
  const mean = async (b: Buffer) => (await sharp(b).stats()).channels.slice(0, 3).reduce((s, c) => s + c.mean, 0) / 3;
  const ratio = (await mean(bright.bytes)) / (await mean(src));
  assert.ok(ratio > 1.05 && ratio < 1.11, `ratio ${ratio}`);
});

test('no flip for images tagged has_text', async () => {
  const src = await photoPng({ seed: 24, width: 64, height: 48 });
  for (let seed = 0; seed < 20; seed++) {
    const { applied } = await augment(src, { ...SAFE, seed, has_text: true });
    assert.equal(applied.flip, false);
    assert.equal(applied.flip_skipped, 'has_text');
  }
});

test('risky augmentations are refused unless allowed, and recorded when allowed', async () => {
  const src = await photoPng({ seed: 25, width: 64, height: 48 });
  assert.deepEqual(riskyReasons(SAFE), []);
  await assert.rejects(augment(src, { seed: 1, rotate: 15 }), /refused risky augmentation: rotation beyond ±5°/);
  await assert.rejects(augment(src, { seed: 1, crop: [0.5, 1] }), /aggressive_crop/);
  await assert.rejects(augment(src, { seed: 1, brightness: [0.5, 1.5] }), /brightness outside/);
  await assert.rejects(augment(src, { seed: 1, color_jitter: { saturation: [0.5, 1.5], hue: 20 } }), /color_jitter/);
  await assert.rejects(augment(src, { seed: 1, filters: { blur: [1, 2] } }), /filters/);
  await assert.rejects(augment(src, { seed: 1, perspective: true }, true), /perspective is not implemented/);
  await assert.rejects(augment(src, { seed: 1, crop: [1, 0.9] }), /crop must be \[low, high\]/);

  const ok = await augment(src, { seed: 3, color_jitter: { saturation: [0.5, 1.5], hue: 20 }, filters: { blur: [1, 2] } }, true);
  assert.deepEqual(ok.applied.risky, ['color_jitter (can change style)', 'filters (change style)']);
  assert.ok(ok.applied.saturation! >= 0.5 && ok.applied.saturation! <= 1.5);
  assert.ok(ok.applied.blur! >= 1 && ok.applied.blur! <= 2);
});

test('augment_factor seeds: factor − 1 copies, stable per sample and run seed', () => {
  assert.deepEqual(augmentSeeds('a.jpg', 1), []);
  const two = augmentSeeds('a.jpg', 2, 5);
  assert.equal(two.length, 1);
  assert.deepEqual(augmentSeeds('a.jpg', 3, 5).slice(0, 1), two);
  assert.notDeepEqual(augmentSeeds('b.jpg', 2, 5), two);
  assert.notDeepEqual(augmentSeeds('a.jpg', 2, 6), two);
  assert.throws(() => augmentSeeds('a', 0), /augment_factor/);
});
