import { imageFormat, openImage } from '../image/open.js';

/**
 * Writing a stored file in the format an export asks for by its file extension: the bytes as they
 * are when the stored format already is that format, otherwise re-encoded with sharp (EXIF
 * orientation baked in, since the new file carries no EXIF). Masks are label maps: they are only
 * ever written losslessly (PNG), a lossy format would invent values between classes.
 */

/** Formats an export can convert to, by file extension (lower case). */
const TARGETS: Record<string, TargetFormat> = { jpg: 'jpeg', jpeg: 'jpeg', png: 'png', webp: 'webp' };
/** Further formats that are copied when stored as such, but never converted to. */
const COPY_ONLY: Record<string, string> = { gif: 'gif', tif: 'tiff', tiff: 'tiff', avif: 'heif', bmp: 'bmp' };

export type TargetFormat = 'jpeg' | 'png' | 'webp';

/** The stored format an extension names (sharp's name), or undefined for non-image extensions. */
export function formatOfExtension(ext: string): string | undefined {
  const e = ext.toLowerCase();
  return TARGETS[e] ?? COPY_ONLY[e];
}

/** Whether files of this role are masks (lossless only): `mask`, `masks`, `mask_*`, `*_mask`. */
export function isMaskRole(role: string): boolean {
  return /^masks?($|_)|_mask$/.test(role);
}

/** The usual extension of a stored format (jpeg → jpg), for `{ext}`. */
export function extensionOfFormat(format: string): string {
  return format === 'jpeg' ? 'jpg' : format === 'heif' ? 'avif' : format;
}

/** The format of these bytes: the probed one when known, else sniffed by sharp (null if not an image). */
export async function formatOf(bytes: Buffer, probed: string | null): Promise<string | null> {
  if (probed) return probed;
  return imageFormat(bytes);
}

export interface Converted {
  data: Buffer;
  converted: boolean;
}

/**
 * `bytes` (stored as `stored`) as a file of format `target`: copied when they match, else
 * re-encoded (`quality` for jpeg/webp; JPEG has no alpha, so transparency is flattened on white).
 * A mask is never written lossily: asking for that throws.
 */
export async function encodeAs(
  bytes: Buffer,
  stored: string | null,
  target: string,
  opts: { quality: number; mask?: boolean },
): Promise<Converted> {
  if (stored === target) return { data: bytes, converted: false };
  if (opts.mask && target !== 'png') throw new Error(`masks are written as lossless PNG, not ${target}`);
  const img = openImage(bytes).rotate();
  switch (target) {
    case 'jpeg':
      return { data: await img.flatten({ background: '#ffffff' }).jpeg({ quality: opts.quality }).toBuffer(), converted: true };
    case 'webp':
      return { data: await img.webp({ quality: opts.quality }).toBuffer(), converted: true };
    case 'png':
      return { data: await img.png().toBuffer(), converted: true };
    default:
      throw new Error(`cannot convert ${stored ?? 'an unknown format'} to ${target}; name the file with .jpg, .png or .webp`);
  }
}
