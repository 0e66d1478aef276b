import sharp from '../image/sharp.js';
import type { KernelEnum, ResizeOptions as SharpResize, Sharp } from 'sharp';
import { errorMessage } from '../errors.js';
import { progressiveDcImage } from '../image/jpeg-dc.js';
import { jpegHeader } from '../image/jpeg-header.js';
import { fromPixels, openImage, readMetadata } from '../image/open.js';
import { cropPixels, orientPixels } from '../image/raw-geometry.js';
import { probeImage, type FailOn } from '../image/probe.js';
import type { EncodeFormat, Interpolation, ResizeMode } from './params.js';

/**
 * The resizer: checks a downloaded body is an image and makes the bytes to store. The content is
 * sniffed by the decoder (Content-Type is never trusted), a decompression bomb is refused from its
 * header before any pixel is decoded, the pixels are decoded (with `failOn`, so truncated and
 * corrupt files fail), optionally resized as img2dataset does, and re-encoded.
 *
 * Resize modes (img2dataset's):
 *  - no:                  size unchanged
 *  - keep_ratio:          smallest side becomes image_size
 *  - keep_ratio_largest:  largest side becomes image_size
 *  - center_crop:         smallest side becomes image_size, then the centre image_size² is kept
 *  - border:              largest side becomes image_size, then white borders make it square
 * With resize_only_if_bigger, an image whose relevant side is already <= image_size is not scaled.
 * Interpolation follows img2dataset's two settings, one for shrinking and one for enlarging.
 * OpenCV's `area` (its default for shrinking) has no libvips twin: libvips reduces with the kernel
 * stretched over the scale factor, so every kernel antialiases, and `area` maps to its linear
 * (triangle) kernel, the closest to a pixel-area average and the cheapest that does not alias.
 * Unlike img2dataset (OpenCV ignores EXIF), images are first turned upright by their EXIF orientation,
 * so what is stored looks the way the source shows it. Alpha is flattened onto white for JPEG.
 *
 * Progressive JPEGs reduced 9x or more (when sharp loads a JPEG at 1/8) take a DC path
 * (src/image/jpeg-dc.ts): the same 1/8 image as libvips' shrink-on-load (luma exact, 4:2:0
 * chroma within a few levels), from the DC scans only, where libjpeg would entropy-decode every
 * AC scan first. Its checks match failOn 'error' and 'truncated' (the whole marker structure
 * walked to EOI, tables and scan headers as libjpeg checks them, DC data fully decoded) but not
 * 'warning', which needs the AC data decoded (a bad Huffman code there is a libjpeg warning), so
 * that level always decodes with libvips. Nor does it cover libvips' rule that 100 warnings make
 * an error: a file whose AC data alone is corrupt, with intact structure and DC scans, is stored
 * from its DC image instead of being refused.
 * Files with an ICC profile keep the libvips path (its colour handling is not reproduced here).
 */

export interface ResizeOptions {
  mode: ResizeMode;
  size: number;
  onlyIfBigger: boolean;
  format: EncodeFormat;
  quality: number;
  downscale: Interpolation;
  upscale: Interpolation;
  skipReencode: boolean;
  /** JPEG, PNG and WebP bodies are stored as received when not resized, and re-encoded in their own format when resized. */
  keepOriginal?: boolean;
  maxPixels: number;
  failOn: FailOn;
}

export type Processed =
  | {
      ok: true;
      bytes: Buffer;
      /** Format of `bytes` (jpeg, png, webp, or the source's own when stored as received). */
      format: string;
      ext: string;
      width: number;
      height: number;
      /** Upright size of the source image. */
      originalWidth: number;
      originalHeight: number;
    }
  | { ok: false; error: string };

const KEPT_FORMATS = new Set(['jpeg', 'png', 'webp']);

const EXT: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tif', avif: 'avif', heif: 'heic' };

/** What the resizer needs to know before decoding. */
interface Header {
  format: string;
  width: number;
  /** Height of one page (the first frame of an animation). */
  height: number;
  orientation: number;
}

/** The header: a JPEG's from its markers (no libvips pipeline), any other format's from sharp. */
async function readHeader(body: Buffer): Promise<Header | null> {
  const j = jpegHeader(body);
  if (j) return { format: 'jpeg', ...j };
  try {
    const meta = await readMetadata(body);
    const format = meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : String(meta.format);
    return { format, width: meta.width, height: meta.pageHeight ?? meta.height, orientation: meta.orientation ?? 1 };
  } catch {
    return null;
  }
}

/**
 * For a process that mostly downloads (`imgsift download`): it resizes many images at once (one
 * per libuv thread), so libvips' own threads per image only add synchronisation, and its
 * operation cache only holds memory (no image is resized twice). One thread per image, no cache.
 * Process-wide, so the caller decides.
 */
export function libvipsForDownloads(): void {
  sharp.concurrency(1);
  sharp.cache(false);
}

export async function processImage(body: Buffer, o: ResizeOptions): Promise<Processed> {
  const head = await readHeader(body);
  // Not parseable: let the probe say what the content is (HTML page, text, truncated header...).
  if (!head) return { ok: false, error: await whyNotAnImage(body, o) };
  const pixels = head.width * head.height;
  if (pixels > o.maxPixels) {
    return { ok: false, error: `decompression bomb: ${head.width}x${head.height} (${pixels} pixels) is over the ${o.maxPixels}-pixel limit; not decoded` };
  }
  const rotated = head.orientation >= 5;
  const originalWidth = rotated ? head.height : head.width;
  const originalHeight = rotated ? head.width : head.height;
  const target = plan(originalWidth, originalHeight, o);
  const format = head.format;

  try {
    const keepable = o.keepOriginal && KEPT_FORMATS.has(format);
    if (!target && ((o.skipReencode && format === o.format && head.orientation === 1) || keepable)) {
      // Stored as received: a full decode still has to prove the pixels are all there.
      const probe = await probeImage(body, '', { maxPixels: o.maxPixels, failOn: o.failOn });
      if (!probe.decodes) return { ok: false, error: probe.error ?? 'does not decode' };
      return { ok: true, bytes: body, format, ext: EXT[format] ?? format, width: originalWidth, height: originalHeight, originalWidth, originalHeight };
    }
    // Only the first page/frame of an animation is kept; sequentialRead streams the decode.
    const out: ResizeOptions = keepable ? { ...o, format: format as EncodeFormat } : o;
    const dc = format === 'jpeg' && dcPathApplies(originalWidth, originalHeight, o) ? progressiveDcImage(body) : null;
    let img: Sharp = dc
      ? fromPixels(...rawInput(orientPixels(cropPixels(dc, Math.floor(head.width / 8), Math.floor(head.height / 8)), head.orientation)))
      : openImage(body, { failOn: o.failOn, limitInputPixels: o.maxPixels, sequentialRead: true }).rotate();
    if (out.format === 'jpeg') img = img.flatten({ background: '#ffffff' });
    if (target) img = img.resize(target);
    img = encode(img, out);
    const { data, info } = await img.toBuffer({ resolveWithObject: true });
    return { ok: true, bytes: data, format: out.format, ext: EXT[out.format], width: info.width, height: info.height, originalWidth, originalHeight };
  } catch (err) {
    // libvips' message can be lost under concurrency ('Unknown error'); the probe names the
    // problem (and notices a missing end marker), so its word is preferred when it agrees.
    const probe = await probeImage(body, '', { maxPixels: o.maxPixels, failOn: o.failOn });
    return { ok: false, error: !probe.decodes && probe.error ? probe.error : cleanMessage(err) };
  }
}

/**
 * The reduction sharp's resize applies on both axes (its ResolveShrink): the larger ratio for
 * fit contain/inside (border, keep_ratio_largest), the smaller for cover/outside. sharp loads a
 * JPEG at 1/8 when this is >= 9 (at 8 to 9 it takes 1/4, "known libjpeg rounding errors"), and
 * libvips then keeps floor(W/8) x floor(H/8) of libjpeg's ceil(W/8) x ceil(H/8) ("strict round
 * down on shrink-on-load"): the DC path is taken in the same cases and cropped the same way.
 */
function shrinkFactor(w: number, h: number, o: ResizeOptions): number {
  const ratio = (side: number) => side / o.size;
  return o.mode === 'keep_ratio' || o.mode === 'center_crop' ? Math.min(ratio(w), ratio(h)) : Math.max(ratio(w), ratio(h));
}

/** Whether a progressive JPEG of this upright size is decoded from its DC scans under these options. */
export function dcPathApplies(width: number, height: number, o: ResizeOptions): boolean {
  return o.failOn !== 'warning' && plan(width, height, o) !== null && shrinkFactor(width, height, o) >= 9;
}

function rawInput(p: { width: number; height: number; channels: number; data: Buffer }): [Buffer, { width: number; height: number; channels: 1 | 3 }] {
  return [p.data, { width: p.width, height: p.height, channels: p.channels as 1 | 3 }];
}

const KERNEL: Record<Interpolation, keyof KernelEnum> = { nearest: 'nearest', linear: 'linear', area: 'linear', cubic: 'cubic', lanczos: 'lanczos3' };

/** The sharp resize for this image, or null when its size stays. */
function plan(w: number, h: number, o: ResizeOptions): SharpResize | null {
  const s = o.size;
  // The side that becomes `s`: the smaller one (keep_ratio, center_crop) or the larger one.
  const side = o.mode === 'keep_ratio' || o.mode === 'center_crop' ? Math.min(w, h) : Math.max(w, h);
  if (o.mode === 'no' || (o.onlyIfBigger && side <= s)) return null;
  const kernel = KERNEL[side > s ? o.downscale : o.upscale];
  switch (o.mode) {
    case 'keep_ratio':
      return { width: s, height: s, fit: 'outside', kernel };
    case 'center_crop':
      return { width: s, height: s, fit: 'cover', position: 'centre', kernel };
    case 'keep_ratio_largest':
      return { width: s, height: s, fit: 'inside', kernel };
    case 'border':
      return { width: s, height: s, fit: 'contain', background: '#ffffff', kernel };
  }
}

function encode(img: Sharp, o: ResizeOptions): Sharp {
  switch (o.format) {
    case 'jpeg':
      return img.jpeg({ quality: Math.max(1, o.quality) });
    case 'png':
      return img.png({ compressionLevel: Math.min(9, o.quality) });
    case 'webp':
      return img.webp({ quality: Math.max(1, o.quality) });
  }
}

async function whyNotAnImage(body: Buffer, o: ResizeOptions): Promise<string> {
  const probe = await probeImage(body, '', { maxPixels: o.maxPixels, failOn: o.failOn });
  return probe.error ?? 'not an image';
}

function cleanMessage(err: unknown): string {
  return errorMessage(err).split('\n').map((s) => s.trim()).filter(Boolean).join('; ');
}
