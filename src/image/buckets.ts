/**
 * Aspect-ratio buckets exactly as kohya-ss/sd-scripts computes them, so an image resized here lands in
 * the bucket, at the size and with the crop that sd-scripts would give it at training time:
 *  - `makeBucketResolutions`: library/model_util.py make_bucket_resolutions (the predefined buckets);
 *  - `Bucketer.select`: library/train_util.py BucketManager.select_bucket (bucket + resized size), for
 *    both `bucket_no_upscale` modes and for `enable_bucket: false` (one fixed bucket);
 *  - `trimOffsets`: the centre crop of trim_and_resize_if_required (random_crop off);
 *  - `adjustMinMax`: BaseDataset.adjust_min_max_bucket_reso_by_steps and the asserts around it.
 * Python's float semantics are reproduced where they matter (`//` on floats, int() truncation, argmin
 * keeping the first minimum); test/fixtures/kohya-buckets.json holds sd-scripts' own answers.
 *
 * sd-scripts reads image sizes without applying EXIF orientation; callers pass the upright size
 * because imgsift bakes the orientation into the resized file (which sd-scripts then reads as is).
 */
import { UsageError } from '../errors.js';

/** [width, height]. */
export type Size = [number, number];

/** sd-scripts' dataset settings that decide buckets (names as in its dataset config). */
export interface BucketSettings {
  /** [width, height] of the training resolution (sd-scripts' `resolution`; one number means square). */
  resolution: Size;
  enable_bucket: boolean;
  min_bucket_reso: number;
  max_bucket_reso: number;
  bucket_reso_steps: number;
  bucket_no_upscale: boolean;
}

/** sd-scripts' command-line defaults (train_util.add_dataset_arguments) with resolution 512. */
export const KOHYA_DEFAULTS: BucketSettings = {
  resolution: [512, 512],
  enable_bucket: false,
  min_bucket_reso: 256,
  max_bucket_reso: 1024,
  bucket_reso_steps: 64,
  bucket_no_upscale: false,
};

/** Where one image goes: its bucket, the size it is resized to (covering the bucket), and the crop. */
export interface BucketPlan {
  bucket: Size;
  resized: Size;
  /** Offset of the bucket-sized window in the resized image (centre crop, as sd-scripts). */
  crop: { left: number; top: number };
  /** bucket aspect ratio minus image aspect ratio (sd-scripts' ar_error). */
  arError: number;
  /** The resized image is larger than the original on some side. */
  upscaled: boolean;
  /** A bucket side is 0: the image is smaller than one bucket step (sd-scripts cannot train on it). */
  empty: boolean;
}

/** Python's float floor division `a // b` (CPython float_floor_div), which is not always floor(a / b). */
export function pyFloorDiv(a: number, b: number): number {
  let mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0 && b < 0 !== mod < 0) {
    mod += b;
    div -= 1;
  }
  if (div === 0) return 0;
  let fl = Math.floor(div);
  if (div - fl > 0.5) fl += 1;
  return fl;
}

/** make_bucket_resolutions: the predefined buckets, sorted by (width, height). */
export function makeBucketResolutions(maxReso: Size, minSize = 256, maxSize = 1024, divisible = 64): Size[] {
  const [maxW, maxH] = maxReso;
  const maxArea = maxW * maxH;
  const seen = new Set<string>();
  const resos: Size[] = [];
  const add = (w: number, h: number) => {
    const k = `${w}x${h}`;
    if (!seen.has(k)) {
      seen.add(k);
      resos.push([w, h]);
    }
  };
  const square = Math.trunc(pyFloorDiv(Math.sqrt(maxArea), divisible)) * divisible;
  add(square, square);
  for (let width = minSize; width <= maxSize; width += divisible) {
    const height = Math.min(maxSize, Math.floor(Math.floor(maxArea / width) / divisible) * divisible);
    if (height >= minSize) {
      add(width, height);
      add(height, width);
    }
  }
  return resos.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/**
 * adjust_min_max_bucket_reso_by_steps: min rounded down and max rounded up to the step, then checked
 * against the resolution (sd-scripts asserts; we throw a UsageError naming the setting).
 */
export function adjustMinMax(s: BucketSettings): { min: number; max: number } {
  const step = s.bucket_reso_steps;
  let min = s.min_bucket_reso;
  let max = s.max_bucket_reso;
  if (min % step !== 0) min -= min % step;
  if (max % step !== 0) max += step - (max % step);
  if (Math.min(...s.resolution) < min) {
    throw new UsageError(`min_bucket_reso ${min} must be <= the smaller side of resolution ${s.resolution.join('x')}`);
  }
  if (Math.max(...s.resolution) > max) {
    throw new UsageError(`max_bucket_reso ${max} must be >= the larger side of resolution ${s.resolution.join('x')}`);
  }
  return { min, max };
}

/** Checks the settings the way sd-scripts would reject them, with the setting named. */
export function validateBucketSettings(s: BucketSettings): void {
  const [w, h] = s.resolution;
  for (const [name, v] of [
    ['resolution width', w],
    ['resolution height', h],
    ['min_bucket_reso', s.min_bucket_reso],
    ['max_bucket_reso', s.max_bucket_reso],
    ['bucket_reso_steps', s.bucket_reso_steps],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new UsageError(`${name} must be a positive integer, got ${v}`);
  }
  if (s.enable_bucket) {
    const { min, max } = adjustMinMax(s);
    if (max < min) throw new UsageError(`max_bucket_reso ${max} must be >= min_bucket_reso ${min}`);
  }
}

/** A BucketManager for one dataset's settings (build once, select per image). */
export class Bucketer {
  readonly settings: BucketSettings;
  /** The predefined buckets (null with bucket_no_upscale: buckets then follow each image's size). */
  readonly predefined: Size[] | null;
  private readonly predefinedSet: Set<string>;
  private readonly predefinedAr: Float64Array;
  private readonly noUpscale: boolean;
  private readonly maxArea: number;
  private readonly steps: number;

  constructor(settings: BucketSettings) {
    validateBucketSettings(settings);
    this.settings = settings;
    const [rw, rh] = settings.resolution;
    this.maxArea = rw * rh;
    this.steps = settings.bucket_reso_steps;
    if (!settings.enable_bucket) {
      // One fixed bucket of the resolution, chosen with upscaling allowed (train_util make_buckets).
      this.noUpscale = false;
      this.predefined = [[rw, rh]];
    } else {
      this.noUpscale = settings.bucket_no_upscale;
      const { min, max } = adjustMinMax(settings);
      this.predefined = this.noUpscale ? null : makeBucketResolutions([rw, rh], min, max, this.steps);
    }
    this.predefinedSet = new Set((this.predefined ?? []).map(([w, h]) => `${w}x${h}`));
    this.predefinedAr = Float64Array.from((this.predefined ?? []).map(([w, h]) => w / h));
  }

  /** BucketManager.select_bucket plus the centre crop, for an image of this (upright) size. */
  select(width: number, height: number): BucketPlan {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
      throw new UsageError(`image size must be positive integers, got ${width}x${height}`);
    }
    const ar = width / height;
    let bucket: Size;
    let resized: Size;
    if (!this.noUpscale) {
      bucket = [width, height];
      if (!this.predefinedSet.has(`${width}x${height}`)) {
        let best = 0;
        for (let i = 1; i < this.predefinedAr.length; i++) {
          if (Math.abs(this.predefinedAr[i] - ar) < Math.abs(this.predefinedAr[best] - ar)) best = i;
        }
        bucket = [...this.predefined![best]];
      }
      const bucketAr = bucket[0] / bucket[1];
      const scale = ar > bucketAr ? bucket[1] / height : bucket[0] / width;
      resized = [Math.trunc(width * scale + 0.5), Math.trunc(height * scale + 0.5)];
    } else {
      if (width * height > this.maxArea) {
        // Shrink to the dataset's area keeping the aspect; round the side that loses less aspect.
        const rWidth = Math.sqrt(this.maxArea * ar);
        const rHeight = this.maxArea / rWidth;
        const bW = this.roundToSteps(rWidth);
        const bHinW = this.roundToSteps(bW / ar);
        const bH = this.roundToSteps(rHeight);
        const bWinH = this.roundToSteps(bH * ar);
        if (bHinW === 0 || bH === 0) {
          // sd-scripts divides by these and fails (ZeroDivisionError) on such extreme aspect ratios.
          throw new UsageError(`aspect ratio ${width}x${height} is too extreme for bucket_no_upscale with steps ${this.steps}`);
        }
        const arW = bW / bHinW;
        const arH = bWinH / bH;
        resized =
          Math.abs(arW - ar) < Math.abs(arH - ar)
            ? [bW, Math.trunc(bW / ar + 0.5)]
            : [Math.trunc(bH * ar + 0.5), bH];
      } else {
        resized = [width, height];
      }
      bucket = [resized[0] - (resized[0] % this.steps), resized[1] - (resized[1] % this.steps)];
      if (bucket[1] === 0) {
        throw new UsageError(`image ${width}x${height} is less than one bucket step (${this.steps}) high`);
      }
    }
    const empty = bucket[0] === 0 || bucket[1] === 0;
    return {
      bucket,
      resized,
      crop: trimOffsets(resized, bucket),
      arError: bucket[0] / bucket[1] - ar,
      upscaled: resized[0] > width || resized[1] > height,
      empty,
    };
  }

  private roundToSteps(x: number): number {
    const i = Math.trunc(x + 0.5);
    return i - (i % this.steps);
  }
}

/** trim_and_resize_if_required's centre crop: where the bucket-sized window starts in the resized image. */
export function trimOffsets(resized: Size, bucket: Size): { left: number; top: number } {
  return {
    left: resized[0] > bucket[0] ? Math.floor((resized[0] - bucket[0]) / 2) : 0,
    top: resized[1] > bucket[1] ? Math.floor((resized[1] - bucket[1]) / 2) : 0,
  };
}

const BUCKETERS = new Map<string, Bucketer>();

/** `Bucketer.select` with the bucketer for these settings built once and kept. */
export function selectBucket(width: number, height: number, settings: BucketSettings): BucketPlan {
  const key = JSON.stringify(settings);
  let b = BUCKETERS.get(key);
  if (!b) {
    b = new Bucketer(settings);
    if (BUCKETERS.size > 64) BUCKETERS.clear();
    BUCKETERS.set(key, b);
  }
  return b.select(width, height);
}
