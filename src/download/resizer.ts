import sharp, { type Metadata, type ResizeOptions as SharpResize, type Sharp } from 'sharp';
import { errorMessage } from '../errors.js';
import { probeImage, type FailOn } from '../image/probe.js';
import type { EncodeFormat, ResizeMode } from './params.js';

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
 * Unlike img2dataset (OpenCV ignores EXIF), images are first turned upright by their EXIF orientation,
 * so what is stored looks the way the source shows it. Alpha is flattened onto white for JPEG.
 */

export interface ResizeOptions {
  mode: ResizeMode;
  size: number;
  onlyIfBigger: boolean;
  format: EncodeFormat;
  quality: number;
  skipReencode: boolean;
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

const EXT: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tif', avif: 'avif', heif: 'heic' };

export async function processImage(body: Buffer, o: ResizeOptions): Promise<Processed> {
  let meta: Metadata;
  try {
    meta = await sharp(body, { limitInputPixels: false }).metadata();
  } catch {
    // Not parseable: let the probe say what the content is (HTML page, text, truncated header...).
    return { ok: false, error: await whyNotAnImage(body, o) };
  }
  const pageHeight = meta.pageHeight ?? meta.height;
  const pixels = meta.width * pageHeight;
  if (pixels > o.maxPixels) {
    return { ok: false, error: `decompression bomb: ${meta.width}x${pageHeight} (${pixels} pixels) is over the ${o.maxPixels}-pixel limit; not decoded` };
  }
  const rotated = (meta.orientation ?? 1) >= 5;
  const originalWidth = rotated ? pageHeight : meta.width;
  const originalHeight = rotated ? meta.width : pageHeight;
  const target = plan(originalWidth, originalHeight, o);
  const format = meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : String(meta.format);

  try {
    if (!target && o.skipReencode && format === o.format && (meta.orientation ?? 1) === 1) {
      // Stored as received: a full decode still has to prove the pixels are all there.
      const probe = await probeImage(body, '', { maxPixels: o.maxPixels, failOn: o.failOn });
      if (!probe.decodes) return { ok: false, error: probe.error ?? 'does not decode' };
      return { ok: true, bytes: body, format, ext: EXT[format] ?? format, width: originalWidth, height: originalHeight, originalWidth, originalHeight };
    }
    // Only the first page/frame of an animation is kept; sequentialRead streams the decode.
    let img: Sharp = sharp(body, { failOn: o.failOn, limitInputPixels: o.maxPixels, sequentialRead: true }).rotate();
    if (o.format === 'jpeg') img = img.flatten({ background: '#ffffff' });
    if (target) img = img.resize(target);
    img = encode(img, o);
    const { data, info } = await img.toBuffer({ resolveWithObject: true });
    return { ok: true, bytes: data, format: o.format, ext: EXT[o.format], width: info.width, height: info.height, originalWidth, originalHeight };
  } catch (err) {
    // libvips' message can be lost under concurrency ('Unknown error'); the probe names the
    // problem (and notices a missing end marker), so its word is preferred when it agrees.
    const probe = await probeImage(body, '', { maxPixels: o.maxPixels, failOn: o.failOn });
    return { ok: false, error: !probe.decodes && probe.error ? probe.error : cleanMessage(err) };
  }
}

/** The sharp resize for this image, or null when its size stays. */
function plan(w: number, h: number, o: ResizeOptions): SharpResize | null {
  const s = o.size;
  switch (o.mode) {
    case 'no':
      return null;
    case 'keep_ratio':
    case 'center_crop':
      if (o.onlyIfBigger && Math.min(w, h) <= s) return null;
      return o.mode === 'keep_ratio'
        ? { width: s, height: s, fit: 'outside' }
        : { width: s, height: s, fit: 'cover', position: 'centre' };
    case 'keep_ratio_largest':
    case 'border':
      if (o.onlyIfBigger && Math.max(w, h) <= s) return null;
      return o.mode === 'keep_ratio_largest'
        ? { width: s, height: s, fit: 'inside' }
        : { width: s, height: s, fit: 'contain', background: '#ffffff' };
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
