import { fromPixels, openImage } from './open.js';
import type { IssueRecord } from '../steps/types.js';

/**
 * Image quality measures and issues.
 *
 * The cleanvision issue types (dark, light, odd_aspect_ratio, low_information, blurry, grayscale,
 * odd_size) follow cleanvision's definitions and default thresholds (cleanvision 0.3.x,
 * `issue_managers/image_property.py` and `image_property_issue_manager.py`):
 *  - brightness of a pixel = sqrt(0.241 R² + 0.691 G² + 0.068 B²) / 255; `dark` looks at its 99th
 *    percentile, `light` at its 5th (numpy's linear-interpolation percentile, computed exactly here);
 *  - `low_information`: PIL's Image.entropy() (bits, over the concatenated per-band histograms) × 0.1;
 *  - `blurry`: the image is resized so its longer side is 64 px, turned grey (PIL's L conversion),
 *    edge-filtered with PIL's FIND_EDGES (3×3, border pixels copied from the input), and the std of
 *    the edges is squashed with 1 − exp(−0.01·std); the std of the grey histogram is squashed the same
 *    way and added when above 0.18, so flat images count as "not blurry" (they are low_information);
 *  - `odd_aspect_ratio`: min(w/h, h/w);
 *  - `odd_size`: sqrt(w·h) against the dataset median, as cleanvision 0.3.1 (later releases moved to an
 *    IQR rule); it needs the whole dataset: see `scoreOddSize`;
 *  - `grayscale`: single-channel images (PIL mode L) and, beyond cleanvision, RGB images whose three
 *    channels are equal everywhere.
 * cleanvision scores are "low = bad" and flag when score < threshold; imgsift scores are "1 = worst",
 * so each score here is 1 − cleanvision's score, flagged exactly when cleanvision would flag it.
 *
 * The dataset rules of seed 003 add: minimum resolution, allowed formats, under/over-exposure from the
 * grey histogram (fraction of pixels below 50 / at or above 200, flagged above one half) and sharpness
 * as the variance of the Laplacian of the grey image (OpenCV's 3×3 kernel, reflect-101 border).
 * The seed's script compares a pixel count with `len(gray)` (the row count): a bug; imgsift uses the
 * fraction of pixels, which is what the comparison with "* 0.5" means.
 */

/** Every issue type this module knows, in the column order of `issues.csv`. */
export const QUALITY_ISSUE_TYPES = [
  'dark',
  'light',
  'odd_aspect_ratio',
  'low_information',
  'blurry',
  'grayscale',
  'odd_size',
  'low_resolution',
  'disallowed_format',
  'underexposed',
  'overexposed',
  'low_sharpness',
] as const;
export type QualityIssueType = (typeof QUALITY_ISSUE_TYPES)[number];

/** Issue types that compare an image with the rest of its dataset (computed in a whole-dataset pass). */
export const DATASET_ISSUE_TYPES: readonly QualityIssueType[] = ['odd_size'];

/** How the pixels are measured. Changing any of these changes the measures (not only the flags). */
export interface MeasureOptions {
  /** Decode so the longer side is at most this many pixels (shrink-on-load); 0 = full resolution, as cleanvision. */
  maxSide?: number;
  /** Longer side of the image the blur measure is computed on (cleanvision: 64). */
  blurMaxSide?: number;
  /**
   * How that small image is made: 'pil' reproduces Pillow's bicubic resize bit for bit (cleanvision's
   * numbers exactly, a few ms of JavaScript per megapixel); 'libvips' lets sharp resize (faster; blur
   * values differ from cleanvision's by up to a few per cent).
   */
  blurResize?: 'pil' | 'libvips';
  /** Grey level below which a pixel counts as dark for `underexposed` (seed 003: 50). */
  underexposedLevel?: number;
  /** Grey level at or above which a pixel counts as bright for `overexposed` (seed 003: 200). */
  overexposedLevel?: number;
}

export const DEFAULT_MEASURE_OPTIONS: Required<MeasureOptions> = {
  maxSide: 0,
  blurMaxSide: 64,
  blurResize: 'pil',
  underexposedLevel: 50,
  overexposedLevel: 200,
};

/** The raw properties of one image, as measured from its pixels (JSON-safe: stored in the catalog). */
export type QualityMeasures = {
  /** Container format as sniffed from the bytes ('jpeg', 'png', 'webp', ...), not from the file name. */
  format: string;
  /** Stored dimensions (before any EXIF rotation; every measure here is rotation-invariant). */
  width: number;
  height: number;
  /** Dimensions of the decoded image the pixel measures were computed on. */
  analysisWidth: number;
  analysisHeight: number;
  /** Channels of the source (1 grey, 2 grey+alpha, 3 colour, 4 colour+alpha or CMYK). */
  sourceChannels: number;
  /** The source has a single colour channel (PIL mode L / LA). */
  singleChannel: boolean;
  /** Largest |R−G|, |G−B|, |R−B| over all pixels: 0 for an RGB image whose channels are equal. */
  maxChannelDiff: number;
  /** cleanvision calc_avg_brightness: the brightness formula on the channel means. */
  brightnessMean: number;
  brightnessP5: number;
  brightnessP99: number;
  /** PIL Image.entropy() in bits (256 bins for grey sources, 768 for colour). */
  entropy: number;
  /** Std of the FIND_EDGES response of the ≤blurMaxSide grey image. */
  blurriness: number;
  /** Std of the 256-bin histogram of that grey image (cleanvision blurriness_grayscale_std). */
  blurrinessGrayscaleStd: number;
  /** Variance of the 3×3 Laplacian of the grey image (OpenCV cv2.Laplacian(gray, CV_64F).var()). */
  laplacianVar: number;
  /** Fraction of pixels with grey < underexposedLevel. */
  darkFraction: number;
  /** Fraction of pixels with grey >= overexposedLevel. */
  brightFraction: number;
  underexposedLevel: number;
  overexposedLevel: number;
};

/** Thresholds of the per-image issues. cleanvision's are in cleanvision's own "low = bad" score. */
export interface QualityThresholds {
  /** Flag `dark` when the 99th brightness percentile is below this (cleanvision 0.32). */
  dark: number;
  /** Flag `light` when 1 − the 5th brightness percentile is below this (cleanvision 0.05). */
  light: number;
  /** Flag `odd_aspect_ratio` when min(w/h, h/w) is below this (cleanvision 0.35). */
  oddAspectRatio: number;
  /** Flag `low_information` when min(1, entropy × factor) is below this (cleanvision 0.3). */
  lowInformation: number;
  lowInformationNormalizingFactor: number;
  /** Flag `blurry` when the blur score is below this (cleanvision 0.29). */
  blurry: number;
  blurryNormalizingFactor: number;
  blurryColorThreshold: number;
  /** Largest channel difference that still counts as grey (0: channels exactly equal). */
  grayscaleTolerance: number;
  /** Flag `odd_size` when sqrt(w·h) is more than this many times off the dataset median (cleanvision 10). */
  oddSize: number;
  /** Minimum width/height for `low_resolution` (0 = no minimum). */
  minWidth: number;
  minHeight: number;
  /** Formats allowed by `disallowed_format` (null = any). Names as sharp reports them; 'jpg' means 'jpeg'. */
  allowedFormats: string[] | null;
  /** Flag `underexposed` / `overexposed` when more than this fraction of pixels is dark / bright. */
  underexposedFraction: number;
  overexposedFraction: number;
  /** Flag `low_sharpness` when the Laplacian variance is below this (common choice: 100). */
  laplacianThreshold: number;
}

export const DEFAULT_THRESHOLDS: QualityThresholds = {
  dark: 0.32,
  light: 0.05,
  oddAspectRatio: 0.35,
  lowInformation: 0.3,
  lowInformationNormalizingFactor: 0.1,
  blurry: 0.29,
  blurryNormalizingFactor: 0.01,
  blurryColorThreshold: 0.18,
  grayscaleTolerance: 0,
  oddSize: 10,
  minWidth: 0,
  minHeight: 0,
  allowedFormats: null,
  underexposedFraction: 0.5,
  overexposedFraction: 0.5,
  laplacianThreshold: 100,
};

/**
 * Measure one image: one decode (optionally shrunk on load), then a few passes over the pixels.
 * Throws sharp's error for bytes that do not decode.
 */
export async function measureQuality(bytes: Buffer, options: MeasureOptions = {}): Promise<QualityMeasures> {
  const opts = { ...DEFAULT_MEASURE_OPTIONS, ...options };
  checkMeasureOptions(opts);
  const meta = await openImage(bytes).metadata();
  if (!meta.width || !meta.height || !meta.format) throw new Error('image has no dimensions or format');
  let pipeline = openImage(bytes, { sequentialRead: true });
  if (opts.maxSide > 0 && Math.max(meta.width, meta.height) > opts.maxSide) {
    pipeline = pipeline.resize({ width: opts.maxSide, height: opts.maxSide, fit: 'inside' });
  }
  // Raw 8-bit sRGB: sharp converts grey, CMYK and 16-bit sources; alpha is ignored, as cleanvision's
  // brightness and blur measures ignore it.
  const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoder returned ${info.channels} channels, expected 3`);
  const singleChannel = meta.channels === 1 || meta.channels === 2;
  const w = info.width, h = info.height;

  const px = pixelStats(data, w * h, singleChannel, opts);
  const blur = await blurStats(data, w, h, opts.blurMaxSide, opts.blurResize);
  return {
    format: meta.format === 'raw' ? 'bmp' : meta.format, // openImage hands BMP to sharp as raw pixels
    width: meta.width,
    height: meta.height,
    analysisWidth: w,
    analysisHeight: h,
    sourceChannels: meta.channels ?? 3,
    singleChannel,
    maxChannelDiff: px.maxChannelDiff,
    brightnessMean: px.brightnessMean,
    brightnessP5: px.p5,
    brightnessP99: px.p99,
    entropy: px.entropy,
    blurriness: blur.edgeStd,
    blurrinessGrayscaleStd: blur.histStd,
    laplacianVar: laplacianVariance(px.gray, w, h),
    darkFraction: px.darkFraction,
    brightFraction: px.brightFraction,
    underexposedLevel: opts.underexposedLevel,
    overexposedLevel: opts.overexposedLevel,
  };
}

function checkMeasureOptions(o: Required<MeasureOptions>): void {
  if (!Number.isInteger(o.maxSide) || o.maxSide < 0) throw new RangeError(`maxSide must be a whole number >= 0 (got ${o.maxSide})`);
  if (!Number.isInteger(o.blurMaxSide) || o.blurMaxSide < 3) {
    throw new RangeError(`blurMaxSide must be a whole number >= 3 (got ${o.blurMaxSide})`);
  }
  if (o.blurResize !== 'pil' && o.blurResize !== 'libvips') {
    throw new RangeError(`blurResize must be 'pil' or 'libvips' (got ${String(o.blurResize)})`);
  }
  for (const k of ['underexposedLevel', 'overexposedLevel'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 0 || o[k] > 256) throw new RangeError(`${k} must be a whole number from 0 to 256 (got ${o[k]})`);
  }
}

// ---------------------------------------------------------------- full-resolution pixel statistics

/** 1000 × squared brightness·255: an integer, so percentiles can be found exactly by counting. */
function brightnessKey(r: number, g: number, b: number): number {
  return 241 * r * r + 691 * g * g + 68 * b * b;
}
const KEY_LOW_BITS = 13;
const KEY_LOW_SIZE = 1 << KEY_LOW_BITS;
const KEY_HIGH_SIZE = (brightnessKey(255, 255, 255) >>> KEY_LOW_BITS) + 1;

interface PixelStats {
  gray: Uint8Array;
  maxChannelDiff: number;
  brightnessMean: number;
  p5: number;
  p99: number;
  entropy: number;
  darkFraction: number;
  brightFraction: number;
}

function pixelStats(data: Buffer, n: number, singleChannel: boolean, o: Required<MeasureOptions>): PixelStats {
  const gray = new Uint8Array(n);
  const bandHist = new Uint32Array(768);
  const grayHist = new Uint32Array(256);
  const keyHigh = new Uint32Array(KEY_HIGH_SIZE);
  let sumR = 0, sumG = 0, sumB = 0, maxDiff = 0;
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    const r = data[p], g = data[p + 1], b = data[p + 2];
    sumR += r; sumG += g; sumB += b;
    bandHist[r]++; bandHist[256 + g]++; bandHist[512 + b]++;
    // max |a−b| over the three pairs = max channel − min channel.
    const hi = r > g ? (r > b ? r : b) : g > b ? g : b;
    const lo = r < g ? (r < b ? r : b) : g < b ? g : b;
    if (hi - lo > maxDiff) maxDiff = hi - lo;
    keyHigh[brightnessKey(r, g, b) >>> KEY_LOW_BITS]++;
    // OpenCV's fixed-point BGR2GRAY (the seed's cv2.cvtColor).
    const y = (r * 4899 + g * 9617 + b * 1868 + 8192) >> 14;
    gray[i] = y;
    grayHist[y]++;
  }
  const [p5, p99] = keyPercentiles(data, n, keyHigh, [5, 99]).map((k) => Math.sqrt(k / 1000) / 255);
  let dark = 0, bright = 0;
  for (let v = 0; v < 256; v++) {
    if (v < o.underexposedLevel) dark += grayHist[v];
    if (v >= o.overexposedLevel) bright += grayHist[v];
  }
  return {
    gray,
    maxChannelDiff: maxDiff,
    brightnessMean: perceivedBrightness(sumR / n, sumG / n, sumB / n),
    p5,
    p99,
    // PIL computes entropy over the histogram of every band of the image's own mode.
    entropy: entropyBits(singleChannel ? bandHist.subarray(0, 256) : bandHist),
    darkFraction: dark / n,
    brightFraction: bright / n,
  };
}

function perceivedBrightness(r: number, g: number, b: number): number {
  return Math.sqrt(0.241 * r * r + 0.691 * g * g + 0.068 * b * b) / 255;
}

/**
 * numpy.percentile (linear interpolation) of the brightness keys, found exactly in two counting
 * passes: a coarse histogram locates the order statistics, a fine one inside those bins pins them.
 */
function keyPercentiles(data: Buffer, n: number, keyHigh: Uint32Array, percentiles: number[]): number[] {
  const ranks = new Set<number>();
  const spans = percentiles.map((p) => {
    const idx = (p / 100) * (n - 1);
    const lo = Math.floor(idx);
    const hi = Math.min(lo + 1, n - 1);
    ranks.add(lo).add(hi);
    return { lo, hi, frac: idx - lo };
  });
  // Coarse bin of each needed rank, and how many keys lie in lower bins.
  const binOf = new Map<number, { bin: number; below: number }>();
  const sorted = [...ranks].sort((a, b) => a - b);
  let cum = 0, j = 0;
  for (let bin = 0; bin < keyHigh.length && j < sorted.length; bin++) {
    const c = keyHigh[bin];
    while (j < sorted.length && sorted[j] < cum + c) binOf.set(sorted[j++], { bin, below: cum });
    cum += c;
  }
  // Fine histograms of the needed coarse bins, side by side; slotOf maps a coarse bin to its slot.
  const slotOf = new Int32Array(keyHigh.length).fill(-1);
  let slots = 0;
  for (const { bin } of binOf.values()) if (slotOf[bin] < 0) slotOf[bin] = slots++;
  const fine = new Uint32Array(slots * KEY_LOW_SIZE);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    const k = brightnessKey(data[p], data[p + 1], data[p + 2]);
    const slot = slotOf[k >>> KEY_LOW_BITS];
    if (slot >= 0) fine[slot * KEY_LOW_SIZE + (k & (KEY_LOW_SIZE - 1))]++;
  }
  const valueAt = (rank: number): number => {
    const { bin, below } = binOf.get(rank)!;
    const base = slotOf[bin] * KEY_LOW_SIZE;
    let c = below;
    for (let low = 0; low < KEY_LOW_SIZE; low++) {
      c += fine[base + low];
      if (rank < c) return (bin << KEY_LOW_BITS) | low;
    }
    throw new Error('percentile rank out of range');
  };
  return spans.map(({ lo, hi, frac }) => {
    const a = valueAt(lo), b = valueAt(hi);
    // Interpolate brightness (not keys), as numpy does on the brightness values.
    return frac === 0 ? a : keyLerp(a, b, frac);
  });
}

/** The key whose brightness is the linear interpolation of the brightness of keys a and b. */
function keyLerp(a: number, b: number, frac: number): number {
  const va = Math.sqrt(a), vb = Math.sqrt(b);
  const v = va + (vb - va) * frac;
  return v * v;
}

function entropyBits(hist: Uint32Array): number {
  let total = 0;
  for (const c of hist) total += c;
  if (total === 0) return 0;
  let e = 0;
  for (const c of hist) {
    if (c === 0) continue;
    const p = c / total;
    e -= p * Math.log2(p);
  }
  return e;
}

/** Population variance of the 3×3 Laplacian [0 1 0; 1 −4 1; 0 1 0] with OpenCV's reflect-101 border. */
export function laplacianVariance(gray: Uint8Array, w: number, h: number): number {
  // Reflect-101: index −1 reads 1 and index n reads n−2 (a single row or column reads itself).
  const reflect = (i: number, size: number): number => (size === 1 ? 0 : i < 0 ? -i : i >= size ? 2 * size - 2 - i : i);
  let sum = 0, sum2 = 0;
  const at = (x: number, y: number): number => {
    const row = y * w, up = reflect(y - 1, h) * w, down = reflect(y + 1, h) * w;
    return gray[up + x] + gray[down + x] + gray[row + reflect(x - 1, w)] + gray[row + reflect(x + 1, w)] - 4 * gray[row + x];
  };
  for (let y = 0; y < h; y++) {
    if (y === 0 || y === h - 1 || w < 3) {
      for (let x = 0; x < w; x++) {
        const v = at(x, y);
        sum += v;
        sum2 += v * v;
      }
      continue;
    }
    // Interior rows: both border pixels through `at`, the rest without index arithmetic.
    for (const x of [0, w - 1]) {
      const v = at(x, y);
      sum += v;
      sum2 += v * v;
    }
    let rowSum = 0, rowSum2 = 0;
    for (let i = y * w + 1, end = y * w + w - 1; i < end; i++) {
      const v = gray[i - w] + gray[i + w] + gray[i - 1] + gray[i + 1] - 4 * gray[i];
      rowSum += v;
      rowSum2 += v * v;
    }
    sum += rowSum;
    sum2 += rowSum2;
  }
  const n = w * h;
  const mean = sum / n;
  return Math.max(0, sum2 / n - mean * mean);
}

// ---------------------------------------------------------------- cleanvision blur measure

interface BlurStats {
  edgeStd: number;
  histStd: number;
}

/** Size cleanvision resizes to: longer side `maxSide`, the other floor(side·maxSide/longer), at least 1. */
export function blurSize(w: number, h: number, maxSide: number): { width: number; height: number } {
  const longer = Math.max(w, h);
  if (longer <= maxSide) return { width: w, height: h };
  return {
    width: Math.max(Math.floor((w * maxSide) / longer), 1),
    height: Math.max(Math.floor((h * maxSide) / longer), 1),
  };
}

async function blurStats(rgb: Buffer, w: number, h: number, maxSide: number, how: 'pil' | 'libvips'): Promise<BlurStats> {
  const size = blurSize(w, h, maxSide);
  let small: Uint8Array = rgb;
  if (size.width !== w || size.height !== h) {
    small =
      how === 'pil'
        ? resampleBicubicRgb(rgb, w, h, size.width, size.height)
        : await fromPixels(rgb, { width: w, height: h, channels: 3 })
            .resize(size.width, size.height, { fit: 'fill', kernel: 'cubic' })
            .raw()
            .toBuffer();
  }
  const n = size.width * size.height;
  const gray = new Uint8Array(n);
  const hist = new Float64Array(256);
  for (let i = 0, p = 0; i < n; i++, p += 3) {
    // PIL's RGB → L: ITU-R 601-2 luma in 16-bit fixed point, rounded.
    const y = (small[p] * 19595 + small[p + 1] * 38470 + small[p + 2] * 7471 + 0x8000) >> 16;
    gray[i] = y;
    hist[y]++;
  }
  return { edgeStd: Math.sqrt(findEdgesVariance(gray, size.width, size.height)), histStd: std(hist) };
}

// Pillow's resampler (libImaging/Resample.c): separable, antialiased (the kernel widens by the
// scale factor), coefficients normalised then fixed to 22 fractional bits, horizontal pass first.
const PRECISION_BITS = 22;

function bicubicKernel(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface ResampleCoeffs {
  ksize: number;
  /** Per output pixel: first input index and number of taps. */
  bounds: Int32Array;
  kk: Int32Array;
}

function resampleCoeffs(inSize: number, outSize: number): ResampleCoeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const taps = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let ww = 0;
    for (let x = 0; x < taps; x++) {
      w[x] = bicubicKernel((x + xmin - center + 0.5) / filterscale);
      ww += w[x];
    }
    for (let x = 0; x < taps; x++) {
      const k = (ww !== 0 ? w[x] / ww : w[x]) * (1 << PRECISION_BITS);
      kk[xx * ksize + x] = k < 0 ? Math.trunc(k - 0.5) : Math.trunc(k + 0.5);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = taps;
  }
  return { ksize, bounds, kk };
}

function clip8(v: number): number {
  if (v <= 0) return 0;
  const s = v >> PRECISION_BITS;
  return s > 255 ? 255 : s;
}

/** Pillow's `Image.resize(size)` (BICUBIC) of an 8-bit RGB image, bit for bit. */
export function resampleBicubicRgb(src: Uint8Array, w: number, h: number, ow: number, oh: number): Uint8Array {
  const H = resampleCoeffs(w, ow), V = resampleCoeffs(h, oh);
  const hb = H.bounds, hk = H.kk, hks = H.ksize, vb = V.bounds, vk = V.kk, vks = V.ksize;
  // Only the input rows the vertical pass reads go through the horizontal pass.
  const yFirst = vb[0];
  const rows = vb[oh * 2 - 2] + vb[oh * 2 - 1] - yFirst;
  const half = 1 << (PRECISION_BITS - 1);
  const tmp = new Uint8Array(ow * rows * 3);
  // Sums stay within int32 (|k| sums to ~2^22, pixels < 2^8), so `| 0` keeps the JIT on integers.
  for (let y = 0; y < rows; y++) {
    const rowIn = (y + yFirst) * w * 3;
    for (let xx = 0; xx < ow; xx++) {
      const taps = hb[xx * 2 + 1], k0 = xx * hks;
      let s0 = half, s1 = half, s2 = half;
      for (let x = 0, p = rowIn + hb[xx * 2] * 3; x < taps; x++, p += 3) {
        const k = hk[k0 + x];
        s0 = (s0 + src[p] * k) | 0;
        s1 = (s1 + src[p + 1] * k) | 0;
        s2 = (s2 + src[p + 2] * k) | 0;
      }
      const o = (y * ow + xx) * 3;
      tmp[o] = clip8(s0);
      tmp[o + 1] = clip8(s1);
      tmp[o + 2] = clip8(s2);
    }
  }
  const out = new Uint8Array(ow * oh * 3);
  for (let yy = 0; yy < oh; yy++) {
    const ymin = vb[yy * 2] - yFirst, taps = vb[yy * 2 + 1], k0 = yy * vks;
    for (let xx = 0; xx < ow; xx++) {
      let s0 = half, s1 = half, s2 = half;
      for (let y = 0, p = (ymin * ow + xx) * 3; y < taps; y++, p += ow * 3) {
        const k = vk[k0 + y];
        s0 = (s0 + tmp[p] * k) | 0;
        s1 = (s1 + tmp[p + 1] * k) | 0;
        s2 = (s2 + tmp[p + 2] * k) | 0;
      }
      const o = (yy * ow + xx) * 3;
      out[o] = clip8(s0);
      out[o + 1] = clip8(s1);
      out[o + 2] = clip8(s2);
    }
  }
  return out;
}

/**
 * Variance of PIL's FIND_EDGES output: the 3×3 kernel [−1…8…−1] clipped to 0..255 inside, and the
 * border rows and columns copied unchanged from the input (PIL's ImagingFilter3x3 does that).
 */
function findEdgesVariance(gray: Uint8Array, w: number, h: number): number {
  let sum = 0, sum2 = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let v: number;
      if (y === 0 || y === h - 1 || x === 0 || x === w - 1) {
        v = gray[i];
      } else {
        const s =
          8 * gray[i] -
          gray[i - w - 1] - gray[i - w] - gray[i - w + 1] -
          gray[i - 1] - gray[i + 1] -
          gray[i + w - 1] - gray[i + w] - gray[i + w + 1];
        v = s < 0 ? 0 : s > 255 ? 255 : s;
      }
      sum += v;
      sum2 += v * v;
    }
  }
  const n = w * h;
  const mean = sum / n;
  return Math.max(0, sum2 / n - mean * mean);
}

function std(values: Float64Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  return Math.sqrt(ss / values.length);
}

// ---------------------------------------------------------------- scoring

/** Check thresholds, naming the first bad one and its allowed range. */
export function checkThresholds(t: QualityThresholds): void {
  const unit: Array<keyof QualityThresholds> = [
    'dark', 'light', 'oddAspectRatio', 'lowInformation', 'blurry', 'blurryColorThreshold',
    'underexposedFraction', 'overexposedFraction',
  ];
  for (const k of unit) range(k, t[k] as number, 0, 1);
  range('lowInformationNormalizingFactor', t.lowInformationNormalizingFactor, 0, Infinity, true);
  range('blurryNormalizingFactor', t.blurryNormalizingFactor, 0, Infinity, true);
  range('grayscaleTolerance', t.grayscaleTolerance, 0, 255);
  range('oddSize', t.oddSize, 1, Infinity);
  range('minWidth', t.minWidth, 0, Infinity);
  range('minHeight', t.minHeight, 0, Infinity);
  range('laplacianThreshold', t.laplacianThreshold, 0, Infinity);
}

function range(name: string, v: number, lo: number, hi: number, exclusiveLo = false): void {
  const ok = Number.isFinite(v) && (exclusiveLo ? v > lo : v >= lo) && v <= hi;
  if (!ok) {
    const lower = exclusiveLo ? `> ${lo}` : `>= ${lo}`;
    const upper = hi === Infinity ? '' : ` and <= ${hi}`;
    throw new RangeError(`threshold ${name} must be ${lower}${upper} (got ${v})`);
  }
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/** 'jpg' → 'jpeg', 'tif' → 'tiff', lower case: the names sharp uses. */
export function normalizeFormat(name: string): string {
  const f = name.trim().toLowerCase().replace(/^\./, '');
  return f === 'jpg' ? 'jpeg' : f === 'tif' ? 'tiff' : f;
}

/**
 * The per-image issues of one image (every type but the dataset-wide `odd_size`), each with a score
 * in [0,1] (1 = worst) and whether it crosses its threshold; evidence holds the raw value and threshold.
 */
export function scoreQuality(m: QualityMeasures, thresholds: Partial<QualityThresholds> = {}): IssueRecord[] {
  const t = { ...DEFAULT_THRESHOLDS, ...thresholds };
  checkThresholds(t);
  const out: IssueRecord[] = [];
  // cleanvision issues: cv is cleanvision's "low = bad" score, flagged when cv < threshold.
  const cleanvision = (type: QualityIssueType, cv: number, threshold: number, evidence: Record<string, number | string>) => {
    out.push({ type, score: clamp01(1 - cv), flagged: cv < threshold, evidence: { ...evidence, cleanvision_score: cv, threshold } });
  };
  cleanvision('dark', clamp01(m.brightnessP99), t.dark, { measure: 'brightness_perc_99', value: m.brightnessP99 });
  cleanvision('light', clamp01(1 - m.brightnessP5), t.light, { measure: 'brightness_perc_5', value: m.brightnessP5 });
  const aspect = Math.min(m.width / m.height, m.height / m.width);
  cleanvision('odd_aspect_ratio', aspect, t.oddAspectRatio, { measure: 'aspect_ratio', value: aspect });
  cleanvision('low_information', clamp01(m.entropy * t.lowInformationNormalizingFactor), t.lowInformation, {
    measure: 'entropy', value: m.entropy, normalizing_factor: t.lowInformationNormalizingFactor,
  });
  const blurScore = 1 - Math.exp(-m.blurriness * t.blurryNormalizingFactor);
  let stdScore = 1 - Math.exp(-m.blurrinessGrayscaleStd * t.blurryNormalizingFactor);
  if (stdScore <= t.blurryColorThreshold) stdScore = 0;
  cleanvision('blurry', Math.min(blurScore + stdScore, 1), t.blurry, {
    measure: 'blurriness', value: m.blurriness, grayscale_std: m.blurrinessGrayscaleStd,
    normalizing_factor: t.blurryNormalizingFactor, color_threshold: t.blurryColorThreshold,
  });
  const gray = m.singleChannel || m.maxChannelDiff <= t.grayscaleTolerance;
  out.push({
    type: 'grayscale', score: gray ? 1 : 0, flagged: gray,
    evidence: { single_channel: m.singleChannel, max_channel_diff: m.maxChannelDiff, tolerance: t.grayscaleTolerance },
  });

  // Seed 003 rules.
  const needW = t.minWidth, needH = t.minHeight;
  const fit = Math.min(needW > 0 ? m.width / needW : 1, needH > 0 ? m.height / needH : 1);
  out.push({
    type: 'low_resolution', score: clamp01(1 - fit), flagged: fit < 1,
    evidence: { width: m.width, height: m.height, min_width: needW, min_height: needH },
  });
  const allowed = t.allowedFormats?.map(normalizeFormat) ?? null;
  const badFormat = allowed !== null && !allowed.includes(normalizeFormat(m.format));
  out.push({
    type: 'disallowed_format', score: badFormat ? 1 : 0, flagged: badFormat,
    evidence: { format: m.format, allowed },
  });
  out.push({
    type: 'underexposed', score: clamp01(m.darkFraction), flagged: m.darkFraction > t.underexposedFraction,
    evidence: { value: m.darkFraction, below_level: m.underexposedLevel, threshold: t.underexposedFraction },
  });
  out.push({
    type: 'overexposed', score: clamp01(m.brightFraction), flagged: m.brightFraction > t.overexposedFraction,
    evidence: { value: m.brightFraction, from_level: m.overexposedLevel, threshold: t.overexposedFraction },
  });
  // t/(t+v): 1 for a flat image, 0.5 at the threshold, towards 0 as the image gets sharper.
  const lt = t.laplacianThreshold;
  out.push({
    type: 'low_sharpness', score: lt + m.laplacianVar > 0 ? lt / (lt + m.laplacianVar) : 0, flagged: m.laplacianVar < lt,
    evidence: { measure: 'laplacian_variance', value: m.laplacianVar, threshold: lt },
  });
  return out;
}

/** The size cleanvision compares across a dataset: sqrt(width · height). */
export function sizeMeasure(width: number, height: number): number {
  return Math.sqrt(width * height);
}

/**
 * `odd_size` for a whole dataset (cleanvision's SizeProperty): with s = sqrt(w·h) and m its median
 * over the dataset, cleanvision's score is 1 / max(s/m, m/s), flagged when below 1/threshold, i.e.
 * when the image is more than `threshold` times smaller or larger than the median. Returned in input
 * order; an empty input gives an empty result.
 */
export function scoreOddSize(sizes: Array<{ width: number; height: number }>, threshold = DEFAULT_THRESHOLDS.oddSize): IssueRecord[] {
  range('oddSize', threshold, 1, Infinity);
  const s = sizes.map((x) => sizeMeasure(x.width, x.height));
  const median = medianOf(s);
  return s.map((v) => {
    const cv = v > 0 && median > 0 ? 1 / Math.max(v / median, median / v) : 0;
    return {
      type: 'odd_size',
      score: clamp01(1 - cv),
      flagged: cv < 1 / threshold,
      evidence: { measure: 'sqrt_area', value: v, dataset_median: median, cleanvision_score: cv, threshold },
    };
  });
}

/** pandas Series.median: the mean of the two middle values for an even count. */
export function medianOf(values: number[]): number {
  if (values.length === 0) return NaN;
  const a = [...values].sort((x, y) => x - y);
  const mid = a.length >> 1;
  return a.length % 2 ? a[mid] : (a[mid - 1] + a[mid]) / 2;
}
