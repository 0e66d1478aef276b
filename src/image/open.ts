/**
 * The one place images are opened for decoding, and the one pixel limit (the decompression-bomb
 * guard) every decode in every step, export and command obeys.
 *
 * sharp's prebuilt libvips has no BMP loader, so a BMP is decoded here (src/image/bmp.ts) and handed
 * to sharp as raw pixels; everything else goes to sharp as is. Callers then use the returned pipeline
 * exactly as they would `sharp(bytes, options)`. sharp checks `limitInputPixels` against the header
 * before it decodes a pixel, so an image over the limit costs a header read, not its pixels.
 *
 * The limit is per thread (module state): a build sets it from the recipe's `max_pixels` on the main
 * thread and in every worker (the task carries it), commands keep the default.
 */
import sharp from './sharp.js';
import type { CreateRaw, Metadata, Sharp, SharpOptions } from 'sharp';
import { BmpBombError, decodeBmp, isBmp, readBmpHeader } from './bmp.js';
import { jpegHeader } from './jpeg-header.js';

/**
 * Default pixel limit per image (or page): Pillow's hard limit (2 x MAX_IMAGE_PIXELS = 178,956,970),
 * above which Pillow-based training loaders raise DecompressionBombError, so such an image would
 * break training anyway. It is lower than sharp's own default (268,402,689 = 0x3FFF^2).
 */
export const DEFAULT_MAX_PIXELS = 178_956_970;

let maxPixels = DEFAULT_MAX_PIXELS;

/** The pixel limit in force on this thread. */
export function pixelLimit(): number {
  return maxPixels;
}

/** Set this thread's pixel limit (a recipe's `max_pixels`). */
export function setPixelLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`max_pixels must be a positive integer, got ${String(limit)}`);
  maxPixels = limit;
}

/** An image whose header claims more pixels than the limit: it was not decoded. */
export class DecompressionBombError extends Error {
  override name = 'DecompressionBombError';
  /** The skip reason steps and exports record. */
  readonly reason = 'decompression_bomb';
  constructor(
    readonly width: number | undefined,
    readonly height: number | undefined,
    readonly maxPixels: number,
  ) {
    const size = width !== undefined && height !== undefined ? `${width}x${height} (${width * height} pixels)` : 'larger';
    super(`image is ${size}, over the decompression-bomb limit of ${maxPixels} pixels (max_pixels); not decoded`);
  }
}

/** sharp's message when `limitInputPixels` refuses an input. */
const SHARP_LIMIT_MESSAGE = 'Input image exceeds pixel limit';

/** Whether an error is the pixel limit refusing an image (ours, the BMP decoder's, or sharp's). */
export function isDecompressionBomb(err: unknown): boolean {
  return err instanceof DecompressionBombError || err instanceof BmpBombError || (err instanceof Error && err.message.includes(SHARP_LIMIT_MESSAGE));
}

/**
 * The same error as a DecompressionBombError with the image's size (read from its header, which
 * costs no decode), for a message that says how large it is. Other errors come back unchanged.
 */
export async function explainBomb(err: unknown, bytes: Buffer): Promise<unknown> {
  if (!isDecompressionBomb(err) || err instanceof DecompressionBombError) return err;
  const size = await imageHeader(bytes).catch(() => undefined);
  return new DecompressionBombError(size?.width, size?.height, maxPixels);
}

/** The limit for one open: the thread's limit, or a caller's lower one (a thumbnail's, say). */
function limitFor(options: SharpOptions): number {
  const own = options.limitInputPixels;
  return typeof own === 'number' && own > 0 ? Math.min(own, maxPixels) : maxPixels;
}

/**
 * `sharp(bytes, options)` with the pixel limit applied, or for a BMP its decoded pixels as a
 * raw-input pipeline. A caller may ask for a lower limit (`limitInputPixels`), never a higher one.
 * Throws (synchronously) BmpError for a bad BMP, and DecompressionBombError for a BMP, PNG or JPEG
 * over the limit; for other formats sharp's pipeline rejects with "Input image exceeds pixel limit"
 * (isDecompressionBomb recognises both).
 */
export function openImage(bytes: Buffer, options: SharpOptions = {}): Sharp {
  const limit = limitFor(options);
  if (!isBmp(bytes)) {
    // PNG and JPEG headers are read here (no pipeline), so their refusal says how large the image is.
    const size = quickSize(bytes);
    if (size && size.width * size.height > limit) throw new DecompressionBombError(size.width, size.height, limit);
    return sharp(bytes, { ...options, limitInputPixels: limit });
  }
  let bmp;
  try {
    bmp = decodeBmp(bytes, { maxPixels: limit });
  } catch (err) {
    if (err instanceof BmpBombError) throw new DecompressionBombError(err.width, err.height, limit);
    throw err;
  }
  // Options about file loaders (pages, animation, orientation) mean nothing for raw pixels.
  const { pages: _p, page: _pg, animated: _a, autoOrient: _o, limitInputPixels: _l, ...rest } = options;
  return sharp(bmp.data, { ...rest, raw: { width: bmp.width, height: bmp.height, channels: bmp.channels } });
}

/**
 * A pipeline over pixels already decoded (a mask, a resized buffer, a composed frame). Not a
 * decoder, so no limit beyond sharp's own applies: the pixels are already in memory.
 */
export function fromPixels(data: Buffer | Uint8Array, raw: CreateRaw, options: Omit<SharpOptions, 'raw'> = {}): Sharp {
  return sharp(data, { ...options, raw, limitInputPixels: false });
}

/** Width and height of a PNG (IHDR) or JPEG (frame header), read without libvips; null for anything else. */
function quickSize(b: Buffer): ImageHeader | null {
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.toString('latin1', 12, 16) === 'IHDR') {
    return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  }
  const j = b[0] === 0xff && b[1] === 0xd8 ? jpegHeader(b) : null;
  return j ? { width: j.width, height: j.height } : null;
}

/** Size of one page as the header states it (no pixel is decoded, whatever the limit). */
export interface ImageHeader {
  width: number;
  height: number;
}

/** Header of an image: width and page height, without decoding and without the limit. */
export async function imageHeader(bytes: Buffer): Promise<ImageHeader> {
  if (isBmp(bytes)) {
    const h = readBmpHeader(bytes);
    return { width: h.width, height: h.height };
  }
  const m = await sharp(bytes, { limitInputPixels: false }).metadata();
  return { width: m.width, height: m.pageHeight ?? m.height };
}

/** Full header (sharp's metadata) without the limit: for the probe, which is the bomb guard itself. */
export function readMetadata(bytes: Buffer): Promise<Metadata> {
  return sharp(bytes, { limitInputPixels: false }).metadata();
}

/** Format sharp would report, with 'bmp' for BMP bytes (sharp says 'raw' for the decoded pipeline). */
export async function imageFormat(bytes: Buffer): Promise<string | null> {
  if (isBmp(bytes)) return 'bmp';
  return sharp(bytes, { limitInputPixels: false }).metadata().then((m) => m.format ?? null, () => null);
}
