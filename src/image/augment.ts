/**
 * Seed 003's augmentation: the "safe" set (horizontal flip, rotation within ±5°, brightness and contrast
 * 0.9–1.1, crop keeping 90–100 % of each side) drawn from a seed, so the same seed gives the same bytes
 * and the parameters actually used are returned for the record. The seed's "risky" augmentations
 * (colour jitter, aggressive crop, filters; perspective is not implemented) and any range wider than
 * the safe one are refused unless the caller allows risky augmentation. Images tagged `has_text` are
 * never flipped (mirrored text is wrong text).
 *
 * Output keeps the input's upright size: rotation is followed by a crop to the largest centred
 * rectangle of the same aspect that holds no corner fill, and the crop is resized back, so the copy
 * lands in the same bucket as the original.
 */
import sharp from './sharp.js';
import type { Sharp } from 'sharp';
import { UsageError } from '../errors.js';
import { sha256Hex } from '../util/hash.js';
import { rng } from '../util/random.js';
import { fromPixels, openImage } from './open.js';

export type Range = [number, number];

export interface AugmentOptions {
  seed: number;
  /** Horizontal flip with probability 0.5. */
  flip?: boolean;
  /** Largest rotation in degrees, either way (safe: 5). */
  rotate?: number;
  /** Brightness factor range (safe: within 0.9–1.1). */
  brightness?: Range;
  /** Contrast factor range around mid-grey (safe: within 0.9–1.1). */
  contrast?: Range;
  /** Fraction of each side kept by a random crop (safe: within 0.9–1.0; lower is "aggressive_crop"). */
  crop?: Range;
  /** Risky: saturation factor range and hue shift (± degrees). */
  color_jitter?: { saturation: Range; hue: number };
  /** Risky: Gaussian blur sigma range (a "filter"). */
  filters?: { blur: Range };
  /** Risky and not implemented: refused in any case. */
  perspective?: boolean;
  /** The image shows text: no flip. */
  has_text?: boolean;
  format?: 'png' | 'jpg' | 'webp';
  quality?: number;
  /** Colour transparent pixels are flattened onto. */
  background?: string;
}

/** The seed's safe_augmentations, as options. */
export const SAFE_AUGMENTATIONS = {
  flip: true,
  rotate: 5,
  brightness: [0.9, 1.1] as Range,
  contrast: [0.9, 1.1] as Range,
  crop: [0.9, 1.0] as Range,
} satisfies Partial<AugmentOptions>;

/** What was done to one copy; replaying these values reproduces it. */
export interface AppliedAugmentation {
  seed: number;
  flip: boolean;
  /** Why a requested flip was not considered. */
  flip_skipped?: 'has_text';
  rotate: number;
  brightness: number;
  contrast: number;
  /** Window (in the rotated-and-trimmed image) that was kept, and the fraction of each side. */
  crop: { scale: number; left: number; top: number; width: number; height: number };
  saturation?: number;
  hue?: number;
  blur?: number;
  /** Risky operations among the above. */
  risky: string[];
}

const within = (r: Range | undefined, lo: number, hi: number) => !r || (r[0] >= lo && r[1] <= hi);

/** Why these options are risky (empty when they stay in the seed's safe set). */
export function riskyReasons(o: Omit<AugmentOptions, 'seed'>): string[] {
  const why: string[] = [];
  if (o.rotate !== undefined && Math.abs(o.rotate) > SAFE_AUGMENTATIONS.rotate) why.push(`rotation beyond ±${SAFE_AUGMENTATIONS.rotate}°`);
  if (!within(o.brightness, 0.9, 1.1)) why.push('brightness outside 0.9–1.1');
  if (!within(o.contrast, 0.9, 1.1)) why.push('contrast outside 0.9–1.1');
  if (o.crop && o.crop[0] < 0.9) why.push('aggressive_crop (keeps under 90 % of a side)');
  if (o.color_jitter) why.push('color_jitter (can change style)');
  if (o.filters) why.push('filters (change style)');
  if (o.perspective) why.push('perspective (can distort)');
  return why;
}

function checkOptions(o: AugmentOptions, allowRisky: boolean): void {
  if (!Number.isInteger(o.seed)) throw new UsageError(`augment: seed must be an integer, got ${o.seed}`);
  const ranges: Array<[string, Range | undefined, number, number]> = [
    ['brightness', o.brightness, 0, 10],
    ['contrast', o.contrast, 0, 10],
    ['crop', o.crop, 0.05, 1],
    ['color_jitter.saturation', o.color_jitter?.saturation, 0, 10],
    ['filters.blur', o.filters?.blur, 0, 100],
  ];
  for (const [name, r, lo, hi] of ranges) {
    if (r && !(r.length === 2 && r[0] <= r[1] && r[0] >= lo && r[1] <= hi)) {
      throw new UsageError(`augment: ${name} must be [low, high] within ${lo}..${hi}, got ${JSON.stringify(r)}`);
    }
  }
  if (o.rotate !== undefined && !(Math.abs(o.rotate) <= 45)) throw new UsageError(`augment: rotate must be within 0..45 degrees, got ${o.rotate}`);
  const risky = riskyReasons(o);
  if (risky.length && !allowRisky) {
    throw new UsageError(`augment: refused risky augmentation: ${risky.join('; ')} (allow risky augmentation to use it)`);
  }
  if (o.perspective) throw new UsageError('augment: perspective is not implemented');
}

/** Uniform in [lo, hi], rounded so the recorded value is the value used. */
const draw = (u: number, r: Range | undefined, dflt: number, digits: number) => {
  if (!r) return dflt;
  const v = r[0] + u * (r[1] - r[0]);
  return Math.round(v * 10 ** digits) / 10 ** digits;
};

/** Scale of the largest centred w×h-aspect rectangle inside a w×h image rotated by `deg`. */
function inscribedScale(w: number, h: number, deg: number): number {
  const t = (Math.abs(deg) * Math.PI) / 180;
  const c = Math.cos(t), s = Math.sin(t);
  return Math.min(w / (w * c + h * s), h / (w * s + h * c));
}

/**
 * One augmented copy of `bytes`, deterministic in `opts` (same seed and options → same bytes).
 * Throws a UsageError for risky options unless `allowRisky`.
 */
export async function augment(bytes: Buffer, opts: AugmentOptions, allowRisky = false): Promise<{ bytes: Buffer; applied: AppliedAugmentation }> {
  checkOptions(opts, allowRisky);
  // A fixed sequence of draws, so turning one option off leaves the others' values unchanged.
  const r = rng(opts.seed);
  const u = { flip: r(), rot: r(), br: r(), ct: r(), crop: r(), cx: r(), cy: r(), sat: r(), hue: r(), blur: r() };
  const flip = !!opts.flip && !opts.has_text && u.flip < 0.5;
  const rotate = opts.rotate ? Math.round((u.rot * 2 - 1) * Math.abs(opts.rotate) * 100) / 100 : 0;
  const brightness = draw(u.br, opts.brightness, 1, 3);
  const contrast = draw(u.ct, opts.contrast, 1, 3);
  const scale = draw(u.crop, opts.crop, 1, 3);

  // 1. Upright, alpha flattened, flipped: raw pixels.
  const background = opts.background ?? '#ffffff';
  let img: Sharp = openImage(bytes, { failOn: 'none' }).rotate().flatten({ background }).toColourspace('srgb');
  if (flip) img = img.flop();
  let { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  const [w, h] = [info.width, info.height];

  // 2. Rotation (its own pass: sharp orders operations itself within one pipeline).
  let region = { left: 0, top: 0, width: w, height: h };
  if (rotate !== 0) {
    ({ data, info } = await fromPixels(data, { width: w, height: h, channels: info.channels })
      .rotate(rotate, { background })
      .raw()
      .toBuffer({ resolveWithObject: true }));
    const s = inscribedScale(w, h, rotate);
    // One pixel in from each edge: interpolation blends the fill colour into the border.
    const rw = Math.max(1, Math.floor(w * s) - 2), rh = Math.max(1, Math.floor(h * s) - 2);
    region = { left: Math.floor((info.width - rw) / 2), top: Math.floor((info.height - rh) / 2), width: rw, height: rh };
  }

  // 3. Random crop inside the region, resized back to the original size.
  const cw = Math.max(1, Math.round(region.width * scale)), ch = Math.max(1, Math.round(region.height * scale));
  const crop = {
    scale,
    left: region.left + Math.floor(u.cx * (region.width - cw + 1)),
    top: region.top + Math.floor(u.cy * (region.height - ch + 1)),
    width: cw,
    height: ch,
  };
  let out = fromPixels(data, { width: info.width, height: info.height, channels: info.channels })
    .extract({ left: crop.left, top: crop.top, width: cw, height: ch })
    .resize(w, h, { kernel: sharp.kernel.lanczos3, fit: 'fill' });

  // 4. Brightness b and contrast c around mid-grey: y = b·(c·(x − 128) + 128).
  if (brightness !== 1 || contrast !== 1) out = out.linear(brightness * contrast, brightness * 128 * (1 - contrast));

  const applied: AppliedAugmentation = { seed: opts.seed, flip, rotate, brightness, contrast, crop, risky: riskyReasons(opts) };
  if (opts.flip && opts.has_text) applied.flip_skipped = 'has_text';
  if (opts.color_jitter) {
    applied.saturation = draw(u.sat, opts.color_jitter.saturation, 1, 3);
    applied.hue = Math.round((u.hue * 2 - 1) * opts.color_jitter.hue);
    out = out.modulate({ saturation: applied.saturation, hue: applied.hue });
  }
  if (opts.filters) {
    applied.blur = draw(u.blur, opts.filters.blur, 0, 2);
    // sharp's blur needs sigma >= 0.3; below that the image is left sharp.
    if (applied.blur >= 0.3) out = out.blur(applied.blur);
  }
  const format = opts.format ?? 'png';
  const quality = opts.quality ?? 95;
  out = format === 'jpg' ? out.jpeg({ quality }) : format === 'webp' ? out.webp({ quality }) : out.png();
  return { bytes: await out.toBuffer(), applied };
}

/**
 * Seeds of the augmented copies of one sample for seed 003's `augment_factor` (2 = the original plus
 * one copy): factor − 1 seeds, each a function of the run's seed, the sample's key and the copy number.
 */
export function augmentSeeds(key: string, factor: number, seed = 0): number[] {
  if (!Number.isInteger(factor) || factor < 1) throw new UsageError(`augment_factor must be an integer >= 1, got ${factor}`);
  return Array.from({ length: factor - 1 }, (_, i) => parseInt(sha256Hex(`${seed}\0${key}\0${i + 1}`).slice(0, 8), 16) | 0);
}
