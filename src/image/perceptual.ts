/**
 * imagehash's four 64-bit hashes (hash_size 8) on a greyscale image, with its defaults:
 * average_hash, phash (highfreq_factor 4), dhash (horizontal) and whash (haar, image_scale from
 * the image size, remove_max_haar_ll). Each takes the 'L' image at full size and resamples it
 * with Pillow-exact Lanczos, as `image.convert('L').resize(..., LANCZOS)` does.
 */
import { dctLowBand } from './dct.js';
import { bitsToHex } from './hashbits.js';
import { resizeLanczos } from './lanczos.js';

export type HashAlgo = 'phash' | 'dhash' | 'ahash' | 'whash';
export const HASH_ALGOS: readonly HashAlgo[] = ['phash', 'dhash', 'ahash', 'whash'];

/** A greyscale image, one byte per pixel, row-major. */
export interface GreyImage {
  data: Uint8Array;
  width: number;
  height: number;
}

const HASH_SIZE = 8;

/** numpy.median of 64 values: the mean of the two middle ones. */
function median64(values: ArrayLike<number>): number {
  const s = Float64Array.from(values).sort();
  return (s[31] + s[32]) / 2;
}

function thresholdBits(values: ArrayLike<number>, cut: number): string {
  const bits = new Uint8Array(64);
  for (let i = 0; i < 64; i++) bits[i] = values[i] > cut ? 1 : 0;
  return bitsToHex(bits);
}

/** average_hash: 8 × 8, each pixel above the mean. */
export function aHash(img: GreyImage): string {
  const px = resizeLanczos(img.data, img.width, img.height, HASH_SIZE, HASH_SIZE);
  let sum = 0;
  for (let i = 0; i < 64; i++) sum += px[i];
  // px > sum/64, in integers so there is no rounding at the boundary.
  const bits = new Uint8Array(64);
  for (let i = 0; i < 64; i++) bits[i] = px[i] * 64 > sum ? 1 : 0;
  return bitsToHex(bits);
}

/** dhash: 9 × 8, each pixel brighter than its left neighbour. */
export function dHash(img: GreyImage): string {
  const w = HASH_SIZE + 1;
  const px = resizeLanczos(img.data, img.width, img.height, w, HASH_SIZE);
  const bits = new Uint8Array(64);
  for (let y = 0; y < HASH_SIZE; y++) {
    for (let x = 0; x < HASH_SIZE; x++) bits[y * HASH_SIZE + x] = px[y * w + x + 1] > px[y * w + x] ? 1 : 0;
  }
  return bitsToHex(bits);
}

/** phash: 32 × 32, DCT-II on both axes, the 8 × 8 low band above its median. */
export function pHash(img: GreyImage): string {
  const n = HASH_SIZE * 4;
  const px = resizeLanczos(img.data, img.width, img.height, n, n);
  const low = dctLowBand(px, n, HASH_SIZE);
  return thresholdBits(low, median64(low));
}

/** imagehash's default image_scale for whash: the largest power of two <= the shorter side, at least 8. */
export function whashScale(width: number, height: number): number {
  const natural = 2 ** Math.floor(Math.log2(Math.min(width, height)));
  return Math.max(natural, HASH_SIZE);
}

/**
 * whash (haar, remove_max_haar_ll): resize to scale × scale; the Haar LL band at level
 * log2(scale / 8) is each (scale/8)² block's sum times a constant, and removing the top-level LL
 * only subtracts the mean, so the hash is "block sum above the median block sum". Computed in
 * integers, which is exact where pywt's floating point is (up to ties within rounding noise).
 * `scale` defaults to imagehash's choice for the image's own size; pass it when `img` is a
 * reduced decode of a larger original.
 */
export function wHash(img: GreyImage, scale = whashScale(img.width, img.height)): string {
  const px = resizeLanczos(img.data, img.width, img.height, scale, scale);
  const block = scale / HASH_SIZE;
  const sums = new Float64Array(64);
  for (let y = 0; y < scale; y++) {
    const by = ((y / block) | 0) * HASH_SIZE;
    const row = y * scale;
    for (let x = 0; x < scale; x++) sums[by + ((x / block) | 0)] += px[row + x];
  }
  return thresholdBits(sums, median64(sums));
}

export function hashGrey(img: GreyImage, algo: HashAlgo, whashScaleOverride?: number): string {
  switch (algo) {
    case 'ahash': return aHash(img);
    case 'dhash': return dHash(img);
    case 'phash': return pHash(img);
    case 'whash': return wHash(img, whashScaleOverride);
  }
}
