import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { Bucketer, makeBucketResolutions, pyFloorDiv, selectBucket, KOHYA_DEFAULTS, type BucketSettings, type Size } from '../../src/image/buckets.js';
import { resizeToBucket, uprightSize } from '../../src/image/bucket-resize.js';
import { photoPixels } from '../../src/demo/synth.js';

/** sd-scripts' own answers; see `_generated_by` in the file for the command that made it. */
interface Fixture {
  _generated_by: string;
  sizes: number;
  cases: Array<{
    settings: BucketSettings;
    predefined: Size[] | null;
    adjusted_min_max?: [number, number];
    rows: Array<[number, number, number, number, number, number, number, number] | [number, number, string]>;
  }>;
}
const FIXTURE = JSON.parse(readFileSync(new URL('../fixtures/kohya-buckets.json', import.meta.url), 'utf8')) as Fixture;

test('fixture covers a few hundred sizes, both upscale modes, several resolutions and steps', () => {
  assert.match(FIXTURE._generated_by, /kohya_buckets\.py/);
  assert.ok(FIXTURE.sizes >= 300);
  const modes = new Set(FIXTURE.cases.map((c) => `${c.settings.enable_bucket}/${c.settings.bucket_no_upscale}`));
  assert.deepEqual([...modes].sort(), ['false/false', 'true/false', 'true/true']);
  assert.ok(new Set(FIXTURE.cases.map((c) => c.settings.bucket_reso_steps)).size >= 4);
  assert.ok(new Set(FIXTURE.cases.map((c) => c.settings.resolution.join('x'))).size >= 5);
});

test('predefined buckets equal make_bucket_resolutions for every setting', () => {
  for (const c of FIXTURE.cases) {
    const b = new Bucketer(c.settings);
    assert.deepEqual(b.predefined, c.predefined, JSON.stringify(c.settings));
  }
});

test('bucket, resized size and centre crop equal sd-scripts for every size and setting', () => {
  let compared = 0;
  for (const c of FIXTURE.cases) {
    const b = new Bucketer(c.settings);
    for (const row of c.rows) {
      const [w, h] = row;
      const where = `${w}x${h} with ${JSON.stringify(c.settings)}`;
      if (typeof row[2] === 'string') {
        // sd-scripts fails on this size; we refuse it with an error instead of a bogus plan.
        assert.throws(() => b.select(w, h), /extreme|bucket step/, where);
        continue;
      }
      const [, , bw, bh, rw, rh, left, top] = row as number[];
      const plan = b.select(w, h);
      assert.deepEqual(
        { bucket: plan.bucket, resized: plan.resized, crop: plan.crop },
        { bucket: [bw, bh], resized: [rw, rh], crop: { left, top } },
        where,
      );
      assert.equal(plan.upscaled, rw > w || rh > h, where);
      compared++;
    }
  }
  assert.ok(compared > 4000, `compared ${compared}`);
});

test('settings are checked as sd-scripts checks them, naming the setting', () => {
  const s = { ...KOHYA_DEFAULTS, enable_bucket: true };
  assert.throws(() => new Bucketer({ ...s, min_bucket_reso: 768 }), /min_bucket_reso 768 must be <= .*512x512/);
  assert.throws(() => new Bucketer({ ...s, resolution: [1280, 1280] }), /max_bucket_reso 1024 must be >= .*1280x1280/);
  assert.doesNotThrow(() => new Bucketer({ ...s, resolution: [1024, 1024] }));
  assert.throws(() => new Bucketer({ ...s, bucket_reso_steps: 0 }), /bucket_reso_steps must be a positive integer/);
  assert.throws(() => new Bucketer(s).select(0, 10), /positive integers/);
  // Steps that do not divide min/max are rounded (min down, max up) as sd-scripts does.
  const odd = new Bucketer({ ...s, resolution: [896, 896], min_bucket_reso: 300, max_bucket_reso: 1000 });
  const sides = odd.predefined!.flat();
  assert.ok(Math.min(...sides) >= 256 && Math.max(...sides) <= 1024);
});

test('python float floor division and the seed-003 buckets', () => {
  assert.equal(pyFloorDiv(7.5, 2), 3);
  assert.equal(pyFloorDiv(-7.5, 2), -4);
  assert.equal(pyFloorDiv(724.0773439350247, 64), 11);
  // Seed 003's settings: 768 training with 512..1024 buckets of 64 (the list sd-scripts printed).
  const seed = makeBucketResolutions([768, 768], 512, 1024, 64);
  assert.deepEqual(seed, [
    [512, 1024], [576, 960], [576, 1024], [640, 896], [704, 832], [768, 768], [832, 704], [896, 640], [960, 576], [1024, 512], [1024, 576],
  ]);
  const plan = selectBucket(4032, 3024, { ...KOHYA_DEFAULTS, resolution: [768, 768], enable_bucket: true, min_bucket_reso: 512 });
  assert.deepEqual([plan.bucket, plan.resized, plan.crop], [[896, 640], [896, 672], { left: 0, top: 16 }]);
});

/** Pixel (x, y) of upright image U as stored under EXIF orientation o (EXIF 2.32, tag 0x0112). */
function storedCoord(o: number, x: number, y: number, w: number, h: number): [number, number] {
  switch (o) {
    case 2: return [w - 1 - x, y];
    case 3: return [w - 1 - x, h - 1 - y];
    case 4: return [x, h - 1 - y];
    case 5: return [y, x];
    case 6: return [y, w - 1 - x];
    case 7: return [h - 1 - y, w - 1 - x];
    case 8: return [h - 1 - y, x];
    default: return [x, y];
  }
}

async function storedWithOrientation(up: { data: Buffer; width: number; height: number }, o: number): Promise<Buffer> {
  const { width: w, height: h } = up;
  const [sw, sh] = o >= 5 ? [h, w] : [w, h];
  const s = Buffer.alloc(sw * sh * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [sx, sy] = storedCoord(o, x, y, w, h);
      up.data.copy(s, (sy * sw + sx) * 3, (y * w + x) * 3, (y * w + x) * 3 + 3);
    }
  }
  return sharp(s, { raw: { width: sw, height: sh, channels: 3 } }).png().withMetadata({ orientation: o }).toBuffer();
}

const meanDiff = (a: Buffer, b: Buffer) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - b[i]);
  return d / a.length;
};

test('all eight EXIF orientations land in the upright bucket with upright pixels', async () => {
  const up = await photoPixels({ seed: 7, width: 420, height: 260 });
  const settings: BucketSettings = { ...KOHYA_DEFAULTS, resolution: [256, 256], enable_bucket: true, min_bucket_reso: 128, max_bucket_reso: 512, bucket_reso_steps: 32 };
  const b = new Bucketer(settings);
  const plan = b.select(420, 260);
  assert.equal(plan.upscaled, false);
  const opts = { format: 'png' as const, quality: 95, crop: 'center' as const, background: '#fff' };
  const ref = await resizeToBucket(await storedWithOrientation(up, 1), plan, opts);
  const refRaw = await sharp(ref.bytes).raw().toBuffer();
  for (let o = 1; o <= 8; o++) {
    const bytes = await storedWithOrientation(up, o);
    const meta = await sharp(bytes).metadata();
    assert.equal(meta.orientation, o);
    assert.deepEqual(await uprightSize(bytes), [420, 260], `orientation ${o}`);
    assert.deepEqual(b.select(...(await uprightSize(bytes))), plan, `orientation ${o}`);
    const out = await resizeToBucket(bytes, plan, opts);
    assert.deepEqual([out.width, out.height], plan.bucket, `orientation ${o}`);
    const raw = await sharp(out.bytes).raw().toBuffer();
    assert.equal((await sharp(out.bytes).metadata()).orientation ?? 1, 1, 'orientation baked in, tag dropped');
    assert.ok(meanDiff(raw, refRaw) < 1.5, `orientation ${o}: differs from upright by ${meanDiff(raw, refRaw)}`);
  }
  // The check can fail: a mirrored image is far from the reference.
  const mirrored = await sharp(ref.bytes).flop().raw().toBuffer();
  assert.ok(meanDiff(mirrored, refRaw) > 5);
});
