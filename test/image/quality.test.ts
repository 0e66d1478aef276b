import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { photoJpeg, photoPixels, rng } from '../../src/demo/synth.js';
import {
  QUALITY_ISSUE_TYPES,
  blurSize,
  laplacianVariance,
  measureQuality,
  medianOf,
  resampleBicubicRgb,
  scoreOddSize,
  scoreQuality,
  type QualityMeasures,
  type QualityThresholds,
} from '../../src/image/quality.js';

const W = 640, H = 480;
const base = await photoJpeg({ seed: 11, width: W, height: H });

async function flags(bytes: Buffer, thresholds: Partial<QualityThresholds> = {}): Promise<string[]> {
  const issues = scoreQuality(await measureQuality(bytes), thresholds);
  return issues.filter((i) => i.flagged).map((i) => i.type).sort();
}

/** A grey copy of `bytes` stored as three equal RGB channels (not a single-channel file). */
async function equalChannelRgb(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes).greyscale().raw().toBuffer({ resolveWithObject: true });
  const out = Buffer.alloc(info.width * info.height * 3);
  for (let i = 0; i < info.width * info.height; i++) out.fill(data[i * info.channels], i * 3, i * 3 + 3);
  return { data: out, width: info.width, height: info.height };
}

/** Structured pixels from a PRNG only (no SVG rendering), so pinned reference values stay valid. */
function patternPixels(width: number, height: number, seed: number): Buffer {
  const r = rng(seed);
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const block = ((x >> 4) + (y >> 4)) % 2 ? 60 : 0;
      data[i] = Math.min(255, Math.floor((x / width) * 180 + block + r() * 30));
      data[i + 1] = Math.min(255, Math.floor((y / height) * 160 + r() * 40));
      data[i + 2] = Math.min(255, Math.floor(((x + y) % 50) * 3 + block + r() * 20));
    }
  }
  return data;
}

test('a clean photo has no flags, and every per-image type gets a score in [0,1]', async () => {
  const issues = scoreQuality(await measureQuality(base));
  assert.deepEqual(issues.filter((i) => i.flagged).map((i) => i.type), []);
  assert.deepEqual(issues.map((i) => i.type).sort(), QUALITY_ISSUE_TYPES.filter((t) => t !== 'odd_size').sort());
  for (const i of issues) assert.ok(i.score >= 0 && i.score <= 1, `${i.type} score ${i.score}`);
});

// Each derived image gets exactly its flags. Where a second flag comes along it is a real property of
// the change, named in the case: darkening and washing out remove contrast, and the seed's Laplacian
// sharpness is an absolute measure; the histogram exposure rules of seed 003 agree with dark/light.
const cases: Array<{ name: string; make: () => Promise<Buffer>; expect: string[]; thresholds?: Partial<QualityThresholds> }> = [
  { name: 'dark', make: () => sharp(base).linear(0.3, 0).jpeg({ quality: 90 }).toBuffer(), expect: ['dark', 'low_sharpness', 'underexposed'] },
  { name: 'light (washed out)', make: () => sharp(base).linear(0.08, 240).jpeg({ quality: 90 }).toBuffer(), expect: ['light', 'low_sharpness', 'overexposed'] },
  // A mild blur is invisible at cleanvision's 64 px; the full-resolution Laplacian sees it.
  { name: 'slightly blurred', make: () => sharp(base).blur(4).jpeg({ quality: 90 }).toBuffer(), expect: ['low_sharpness'] },
  { name: 'heavily blurred', make: () => sharp(base).blur(10).jpeg({ quality: 90 }).toBuffer(), expect: ['blurry', 'low_sharpness'] },
  {
    name: 'near-flat',
    make: () => {
      const r = rng(5);
      const px = Buffer.alloc(W * H * 3);
      for (let i = 0; i < px.length; i++) px[i] = 128 + (r() < 0.5 ? 1 : 0);
      return sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toBuffer();
    },
    expect: ['low_information', 'low_sharpness'],
  },
  { name: 'single-channel grey', make: () => sharp(base).toColourspace('b-w').png().toBuffer(), expect: ['grayscale'] },
  {
    name: 'RGB with equal channels (PNG)',
    make: async () => {
      const g = await equalChannelRgb(base);
      return sharp(g.data, { raw: { width: g.width, height: g.height, channels: 3 } }).png().toBuffer();
    },
    expect: ['grayscale'],
  },
  {
    name: 'RGB with equal channels (JPEG)',
    make: async () => {
      const g = await equalChannelRgb(base);
      return sharp(g.data, { raw: { width: g.width, height: g.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
    },
    expect: ['grayscale'],
  },
  { name: 'tiny, with a 256 px minimum', make: () => sharp(base).resize(160, 120).jpeg({ quality: 90 }).toBuffer(), expect: ['low_resolution'], thresholds: { minWidth: 256, minHeight: 256 } },
  { name: 'odd aspect ratio (4:1)', make: () => photoJpeg({ seed: 12, width: 1200, height: 300 }), expect: ['odd_aspect_ratio'] },
  { name: 'PNG when only jpg/webp are allowed', make: () => sharp(base).png().toBuffer(), expect: ['disallowed_format'], thresholds: { allowedFormats: ['jpg', 'webp'] } },
];

for (const c of cases) {
  test(`derived image: ${c.name} → ${c.expect.join(', ')}`, async () => {
    const bytes = await c.make();
    assert.deepEqual(await flags(bytes, c.thresholds), [...c.expect].sort());
    for (const i of scoreQuality(await measureQuality(bytes), c.thresholds)) {
      assert.ok(i.score >= 0 && i.score <= 1, `${i.type} score ${i.score}`);
    }
  });
}

test('scores point the same way: the worse image scores higher', async () => {
  const score = async (bytes: Buffer, type: string) =>
    scoreQuality(await measureQuality(bytes)).find((i) => i.type === type)!.score;
  const dark = await sharp(base).linear(0.3, 0).jpeg().toBuffer();
  const darker = await sharp(base).linear(0.1, 0).jpeg().toBuffer();
  assert.ok((await score(darker, 'dark')) > (await score(dark, 'dark')));
  assert.ok((await score(dark, 'dark')) > (await score(base, 'dark')));
  const blurred = await sharp(base).blur(10).jpeg().toBuffer();
  assert.ok((await score(blurred, 'blurry')) > (await score(base, 'blurry')));
  assert.ok((await score(blurred, 'low_sharpness')) > (await score(base, 'low_sharpness')));
});

test('thresholds change outcomes', async () => {
  const dark = await sharp(base).linear(0.3, 0).jpeg({ quality: 90 }).toBuffer();
  assert.ok((await flags(dark)).includes('dark'));
  assert.ok(!(await flags(dark, { dark: 0.1 })).includes('dark'));
  assert.ok(!(await flags(dark, { laplacianThreshold: 5 })).includes('low_sharpness'));
  assert.ok(!(await flags(dark, { underexposedFraction: 0.95 })).includes('underexposed'));
  assert.ok((await flags(base, { laplacianThreshold: 1e6 })).includes('low_sharpness'));
  assert.ok((await flags(base, { oddAspectRatio: 0.8 })).includes('odd_aspect_ratio')); // 640/480 → 0.75
  assert.ok((await flags(base, { lowInformation: 0.95 })).includes('low_information'));
  assert.ok((await flags(base, { blurry: 0.99 })).includes('blurry'));
  assert.ok((await flags(base, { minWidth: 641 })).includes('low_resolution'));
  assert.ok(!(await flags(base, { minWidth: 640, minHeight: 480 })).includes('low_resolution'));
  assert.ok(!(await flags(base, { allowedFormats: ['JPG'] })).includes('disallowed_format'));
  // Nearly-grey colour passes as grey once the tolerance allows its channel differences.
  const g = await equalChannelRgb(base);
  for (let i = 0; i < g.data.length; i += 3) g.data[i] = Math.min(255, g.data[i] + 3);
  const tinted = await sharp(g.data, { raw: { width: g.width, height: g.height, channels: 3 } }).png().toBuffer();
  assert.ok(!(await flags(tinted)).includes('grayscale'));
  assert.ok((await flags(tinted, { grayscaleTolerance: 3 })).includes('grayscale'));
});

test('out-of-range thresholds are refused with the parameter name and range', async () => {
  const m = await measureQuality(base);
  assert.throws(() => scoreQuality(m, { dark: 1.5 }), /threshold dark must be >= 0 and <= 1 \(got 1\.5\)/);
  assert.throws(() => scoreQuality(m, { oddSize: 0.5 }), /threshold oddSize must be >= 1/);
  assert.throws(() => scoreQuality(m, { blurryNormalizingFactor: 0 }), /blurryNormalizingFactor must be > 0/);
  await assert.rejects(measureQuality(base, { blurMaxSide: 2 }), /blurMaxSide must be a whole number >= 3/);
});

test('measures equal cleanvision/Pillow reference values (computed with Pillow 9.4 + numpy)', async () => {
  const rgb = await sharp(patternPixels(300, 200, 7), { raw: { width: 300, height: 200, channels: 3 } }).png().toBuffer();
  const m = await measureQuality(rgb);
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);
  close(m.brightnessP5, 0.22680488865089615, 'brightness_perc_5');
  close(m.brightnessP99, 0.7313391789641813, 'brightness_perc_99');
  close(m.brightnessMean, 0.4292451084920954, 'brightness');
  close(m.entropy, 9.267123291808913, 'entropy');
  close(m.blurriness, 40.18424207668518, 'blurriness');
  close(m.blurrinessGrayscaleStd, 11.324406717351687, 'blurriness_grayscale_std');
  // The same image as a single-channel (mode L) PNG: 256-bin entropy, brightness = value / 255.
  const grey = await measureQuality(await sharp(rgb).toColourspace('b-w').png().toBuffer());
  assert.equal(grey.singleChannel, true);
  close(grey.brightnessP5, 0.23137254901960785, 'L brightness_perc_5');
  close(grey.brightnessP99, 0.7294117647058823, 'L brightness_perc_99');
  close(grey.entropy, 7.0931451669115395, 'L entropy');
  close(grey.blurriness, 40.492916245575685, 'L blurriness');
  close(grey.blurrinessGrayscaleStd, 11.495243581586255, 'L blurriness_grayscale_std');
});

test('brightness percentiles equal a sort-based numpy.percentile', async () => {
  const { data, width, height } = await photoPixels({ seed: 21, width: 123, height: 77 });
  const png = await sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
  const b: number[] = [];
  for (let i = 0; i < data.length; i += 3) {
    const [r, g, bl] = [data[i], data[i + 1], data[i + 2]];
    b.push(Math.sqrt(0.241 * r * r + 0.691 * g * g + 0.068 * bl * bl) / 255);
  }
  b.sort((x, y) => x - y);
  const pct = (p: number) => {
    const idx = (p / 100) * (b.length - 1);
    const lo = Math.floor(idx);
    return b[lo] + (b[Math.min(lo + 1, b.length - 1)] - b[lo]) * (idx - lo);
  };
  const m = await measureQuality(png);
  assert.ok(Math.abs(m.brightnessP5 - pct(5)) < 1e-12, `${m.brightnessP5} vs ${pct(5)}`);
  assert.ok(Math.abs(m.brightnessP99 - pct(99)) < 1e-12, `${m.brightnessP99} vs ${pct(99)}`);
});

test('the Pillow resampler keeps a flat image flat and gives cleanvision sizes', () => {
  assert.deepEqual(blurSize(1024, 768, 64), { width: 64, height: 48 });
  assert.deepEqual(blurSize(1000, 300, 64), { width: 64, height: 19 });
  assert.deepEqual(blurSize(1023, 1, 64), { width: 64, height: 1 });
  assert.deepEqual(blurSize(50, 40, 64), { width: 50, height: 40 });
  const src = Buffer.alloc(200 * 150 * 3, 77);
  const out = resampleBicubicRgb(src, 200, 150, 64, 48);
  assert.equal(out.length, 64 * 48 * 3);
  assert.ok(out.every((v) => v === 77));
});

test('Laplacian variance equals a brute-force OpenCV-style reference (reflect-101 border)', () => {
  const r = rng(3);
  const reflect = (i: number, n: number) => (n === 1 ? 0 : i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  for (const [w, h] of [[1, 1], [1, 5], [5, 1], [2, 2], [3, 3], [7, 4], [64, 48]]) {
    const g = Uint8Array.from({ length: w * h }, () => Math.floor(r() * 256));
    const vals: number[] = [];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        vals.push(
          g[reflect(y - 1, h) * w + x] + g[reflect(y + 1, h) * w + x] +
          g[y * w + reflect(x - 1, w)] + g[y * w + reflect(x + 1, w)] - 4 * g[y * w + x],
        );
      }
    }
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    const want = vals.reduce((a, b) => a + (b - mean) ** 2, 0) / vals.length;
    const got = laplacianVariance(g, w, h);
    assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, want), `${w}x${h}: ${got} vs ${want}`);
  }
});

test('shrink-on-load keeps the stored size and changes only the analysis size', async () => {
  const m = await measureQuality(base, { maxSide: 320 });
  assert.equal(m.width, W);
  assert.equal(m.height, H);
  assert.equal(m.analysisWidth, 320);
  assert.equal(m.analysisHeight, 240);
  assert.equal(scoreQuality(m).filter((i) => i.flagged).length, 0);
});

test('alpha is ignored; corrupt bytes are rejected', async () => {
  const rgba = await sharp(base).ensureAlpha(0.5).png().toBuffer();
  const m = await measureQuality(rgba);
  assert.equal(m.sourceChannels, 4);
  assert.equal(m.singleChannel, false);
  await assert.rejects(measureQuality(Buffer.from('definitely not an image')));
  await assert.rejects(measureQuality(base.subarray(0, 200)));
});

test('odd_size compares sqrt(area) with the dataset median (cleanvision SizeProperty)', () => {
  const sizes = [
    ...Array.from({ length: 5 }, () => ({ width: 400, height: 300 })),
    { width: 30, height: 22 }, // ~14x smaller than the median
    { width: 3000, height: 2400 }, // ~7.7x larger: within the default 10x
  ];
  const r = scoreOddSize(sizes);
  assert.deepEqual(r.map((i) => i.flagged), [false, false, false, false, false, true, false]);
  for (const i of r) assert.ok(i.score >= 0 && i.score <= 1);
  assert.equal(r[0].score, 0);
  assert.ok(r[5].score > r[6].score && r[6].score > r[0].score);
  assert.deepEqual(scoreOddSize(sizes, 5).map((i) => i.flagged), [false, false, false, false, false, true, true]);
  assert.deepEqual(scoreOddSize([]), []);
  assert.equal(medianOf([4, 1, 3, 2]), 2.5);
});

test('a measure record is plain JSON (stored in the catalog as is)', async () => {
  const m: QualityMeasures = await measureQuality(base);
  assert.deepEqual(JSON.parse(JSON.stringify(m)), m);
});
