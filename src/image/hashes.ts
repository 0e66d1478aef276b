/**
 * Content hashes of one image file: byte sha256, decoded-pixel sha256, and imagehash-compatible
 * perceptual hashes (phash, dhash, ahash, whash).
 *
 * Like imagehash (Pillow's Image.open), nothing here applies EXIF orientation or ICC profiles:
 * the hashes describe the pixels as stored.
 */
import { createHash } from 'node:crypto';
import { openImage } from './open.js';
import { sha256Hex } from '../util/hash.js';
import { toLuma } from './luma.js';
import { HASH_ALGOS, hashGrey, whashScale, type GreyImage, type HashAlgo } from './perceptual.js';

export { HASH_ALGOS, type HashAlgo } from './perceptual.js';
export { bigIntToHex, hammingHex, hexToBigInt } from './hashbits.js';

export interface HashOptions {
  /** Also hash the decoded pixels (needs a full-size decode). Default true. */
  pixel?: boolean;
  /**
   * Images whose shorter side is at least twice this are decoded reduced to this shorter side
   * (libvips: JPEG/WebP shrink-on-load, then Lanczos-3) before the Pillow-exact resampling, which
   * is several times faster and agrees with imagehash to a bit or two. 0 = always resample from
   * the full-size decode, as imagehash does (exact, slower). Default DEFAULT_REDUCED_MIN_SIDE.
   */
  reducedMinSide?: number;
}

export interface HashResult {
  /** Size as stored (before any EXIF rotation). */
  width: number;
  height: number;
  /** sha256 of the file bytes. */
  sha256: string;
  /** sha256 of the decoded pixels with their geometry; same for the same pixels in any container. */
  pixel_sha256?: string;
  phash?: string;
  dhash?: string;
  ahash?: string;
  whash?: string;
}

export const DEFAULT_REDUCED_MIN_SIDE = 128;

/** Decoded pixels as stored: 8 bits per channel unless the file holds more. */
interface Decoded {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
  /** Bytes per channel sample (1 or 2). */
  bytesPerSample: number;
}

function sharpFor(bytes: Buffer) {
  // 'truncated' fails on cut-off files like Pillow does, but tolerates the warnings Pillow ignores.
  return openImage(bytes, { ignoreIcc: true, failOn: 'truncated', autoOrient: false });
}

async function decode(bytes: Buffer, width?: number, height?: number): Promise<Decoded> {
  let pipeline = sharpFor(bytes);
  if (width !== undefined && height !== undefined) {
    pipeline = pipeline.resize({ width, height, fit: 'fill', kernel: 'lanczos3', fastShrinkOnLoad: true });
  }
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const samples = info.width * info.height * info.channels;
  return { data, width: info.width, height: info.height, channels: info.channels, bytesPerSample: data.length / samples };
}

function greyOf(d: Decoded): GreyImage {
  let data: Uint8Array = d.data;
  if (d.bytesPerSample === 2) {
    // 16-bit samples: keep the high byte, as Pillow's 16→8-bit unpackers do.
    const n = d.width * d.height * d.channels;
    const src = new Uint16Array(d.data.buffer, d.data.byteOffset, n);
    data = new Uint8Array(n);
    for (let i = 0; i < n; i++) data[i] = src[i] >>> 8;
  }
  return { data: toLuma(data, d.width, d.height, d.channels), width: d.width, height: d.height };
}

/** sha256 over a small text header naming the geometry, then the raw samples. */
export function pixelSha256(d: { data: Uint8Array; width: number; height: number; channels: number; bytesPerSample: number }): string {
  const h = createHash('sha256');
  h.update(`imgsift-pixels-v1 ${d.width}x${d.height}x${d.channels} ${d.bytesPerSample * 8}bit\n`);
  h.update(d.data);
  return h.digest('hex');
}

/**
 * Hash an encoded image. Throws when the bytes cannot be decoded.
 * `algos` may be empty (only sha256 and, if asked, pixel_sha256).
 */
export async function computeHashes(bytes: Buffer, algos: readonly HashAlgo[], opts: HashOptions = {}): Promise<HashResult> {
  for (const a of algos) {
    if (!HASH_ALGOS.includes(a)) throw new Error(`unknown hash algorithm '${a}' (allowed: ${HASH_ALGOS.join(', ')})`);
  }
  const pixel = opts.pixel ?? true;
  const minSide = opts.reducedMinSide ?? DEFAULT_REDUCED_MIN_SIDE;
  const meta = await sharpFor(bytes).metadata();
  const width = meta.width;
  const height = meta.height;
  if (!width || !height) throw new Error(`cannot read image size (format: ${meta.format ?? 'unknown'})`);
  const result: HashResult = { width, height, sha256: sha256Hex(bytes) };

  let full: Decoded | undefined;
  if (pixel) {
    full = await decode(bytes);
    result.pixel_sha256 = pixelSha256(full);
  }
  if (algos.length === 0) return result;

  // Perceptual hashes never depend on `pixel`: a large image is always reduced by libvips first
  // (JPEG/WebP shrink-on-load plus its Lanczos-3), then resampled Pillow-exactly to each hash size.
  const shorter = Math.min(width, height);
  const reduce = minSide > 0 && shorter >= 2 * minSide;
  let grey: GreyImage;
  let scale = whashScale(width, height);
  if (reduce) {
    const f = shorter / minSide;
    grey = greyOf(await decode(bytes, Math.max(1, Math.round(width / f)), Math.max(1, Math.round(height / f))));
    // whash only reads 8 × 8 block sums, so resampling the reduced image up to the original's
    // image_scale would cost time and add nothing.
    scale = Math.min(scale, whashScale(grey.width, grey.height));
  } else {
    grey = greyOf(full ?? (await decode(bytes)));
  }
  for (const a of algos) result[a] = hashGrey(grey, a, scale);
  return result;
}
