import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { alignPair, applyH, homographyProblem, AlignParamsSchema } from '../../src/image/align.js';
import { makeEditPairs, type EditPair } from '../helpers/edit-pairs.js';

// Real photographs when python3-skimage / opencv-doc are installed, synthetic scenes otherwise.
let pairs: EditPair[];
before(async () => {
  pairs = await makeEditPairs({ longSide: 640, edited: 4, unedited: 2, different: 3, seed: 5 });
});

test('edited and unedited re-framed pairs align; the homography undoes the re-framing', async () => {
  for (const p of pairs.filter((x) => x.kind !== 'different')) {
    const r = await alignPair(p.input, p.output);
    assert.ok(r.ok, `${p.name} (${p.source}): ${!r.ok ? `${r.reason}: ${r.detail}` : ''}`);
    if (!r.ok) continue;
    assert.ok(r.inliers >= 15 && r.inlier_ratio >= 0.3, `${p.name}: ${r.inliers} inliers, ratio ${r.inlier_ratio}`);
    // Zoom 1-1.06 and rotation <= 1 degree: the output->input map shrinks a little and barely turns.
    assert.ok(r.scale > 0.9 && r.scale < 1.02, `${p.name}: scale ${r.scale}`);
    assert.ok(Math.abs(r.rotation) < 1.5, `${p.name}: rotation ${r.rotation}`);
    assert.equal(r.homography.length, 9);
    // The output's centre lands near the input's centre (shift <= 2 %).
    const [x, y] = applyH(r.homography, p.outWidth / 2, p.outHeight / 2);
    assert.ok(Math.abs(x / p.width - 0.5) < 0.04 && Math.abs(y / p.height - 0.5) < 0.04, `${p.name}: centre -> ${x},${y}`);
  }
});

test('pairs of two different photos are rejected with a reason', async () => {
  for (const p of pairs.filter((x) => x.kind === 'different')) {
    const r = await alignPair(p.input, p.output);
    assert.equal(r.ok, false, `${p.name} (${p.source}) was aligned`);
    if (!r.ok) assert.ok(['too_few_matches', 'low_inlier_ratio', 'degenerate_homography', 'homography_failed'].includes(r.reason), r.reason);
  }
});

test('an output of another size and aspect is mapped back to full input pixels', async () => {
  const p = pairs.find((x) => x.kind === 'unedited')!;
  const big = await sharp(p.output).resize(1000, 1000, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
  const r = await alignPair(p.input, big);
  assert.ok(r.ok, !r.ok ? r.detail : '');
  if (!r.ok) return;
  assert.deepEqual(r.output_size, { width: 1000, height: 1000 });
  // The output's corners land near the input's corners (within zoom/shift/rotation).
  const [x1, y1] = applyH(r.homography, 1000, 1000);
  assert.ok(Math.abs(x1 - p.width) < p.width * 0.08 && Math.abs(y1 - p.height) < p.height * 0.08, `${x1},${y1} vs ${p.width}x${p.height}`);
  assert.ok(r.homography[0] < 1 && r.homography[0] > 0.5, `x scale ${r.homography[0]}`);
});

test('a mirrored output is not accepted as the same picture', async () => {
  const p = pairs.find((x) => x.kind === 'unedited')!;
  const mirrored = await sharp(p.output).flop().jpeg().toBuffer();
  const r = await alignPair(p.input, mirrored);
  assert.equal(r.ok, false);
});

test('blank, tiny and corrupt images give a failure reason, not a crash', async () => {
  const good = pairs[0].input;
  const blank = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 128, g: 128, b: 128 } } }).jpeg().toBuffer();
  const tiny = await sharp(good).resize(8, 6, { fit: 'fill' }).png().toBuffer();
  const corrupt = Buffer.concat([good.subarray(0, 2000), Buffer.alloc(50, 0)]);
  const garbage = Buffer.from('not an image at all');
  const blankR = await alignPair(blank, good);
  assert.equal(blankR.ok, false);
  if (!blankR.ok) assert.equal(blankR.reason, 'insufficient_keypoints');
  const tinyR = await alignPair(good, tiny);
  assert.equal(tinyR.ok, false);
  if (!tinyR.ok) assert.equal(tinyR.reason, 'insufficient_keypoints');
  for (const bad of [corrupt, garbage]) {
    const r = await alignPair(good, bad);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.reason, 'decode_failed', r.detail);
  }
});

test('homography sanity checks: flips, scale, shear, perspective and tiny overlap are degenerate', () => {
  const p = AlignParamsSchema.parse({});
  const size = { width: 512, height: 384 };
  assert.equal(homographyProblem([1, 0, 0, 0, 1, 0, 0, 0, 1], size, p), null);
  assert.equal(homographyProblem([0.97, -0.01, 8, 0.01, 0.97, 5, 0, 0, 1], size, p), null);
  assert.match(homographyProblem([-1, 0, 512, 0, 1, 0, 0, 0, 1], size, p)!, /flipped/);
  assert.match(homographyProblem([3, 0, 0, 0, 3, 0, 0, 0, 1], size, p)!, /scale/);
  assert.match(homographyProblem([1, 0.6, 0, 0, 1, 0, 0, 0, 1], size, p)!, /anisotropy/);
  assert.match(homographyProblem([1, 0, 0, 0, 1, 0, 0.001, 0, 1], size, p)!, /perspective/);
  assert.match(homographyProblem([1, 0, 400, 0, 1, 300, 0, 0, 1], size, p)!, /covers only/);
  assert.match(homographyProblem([1, 0, 0, 0, 1, 0, 0, 0, 0], size, p)!, /not finite/);
});
