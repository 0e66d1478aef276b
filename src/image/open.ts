/**
 * The one place images are opened for decoding. sharp's prebuilt libvips has no BMP loader, so a BMP
 * is decoded here (src/image/bmp.ts) and handed to sharp as raw pixels; everything else goes to sharp
 * as is. Callers then use the returned pipeline exactly as they would `sharp(bytes, options)`.
 */
import sharp, { type Sharp, type SharpOptions } from 'sharp';
import { decodeBmp, isBmp } from './bmp.js';

/** sharp's own default for limitInputPixels (0x3FFF x 0x3FFF). */
const SHARP_DEFAULT_MAX_PIXELS = 0x3fff * 0x3fff;

/**
 * `sharp(bytes, options)`, or for a BMP its decoded pixels as a raw-input pipeline. The BMP bomb
 * guard follows `limitInputPixels` like sharp's. Throws (synchronously) BmpError for a bad BMP.
 */
export function openImage(bytes: Buffer, options: SharpOptions = {}): Sharp {
  if (!isBmp(bytes)) return sharp(bytes, options);
  const limit = options.limitInputPixels;
  const maxPixels = limit === false || limit === 0 ? undefined : typeof limit === 'number' ? limit : SHARP_DEFAULT_MAX_PIXELS;
  const bmp = decodeBmp(bytes, { maxPixels });
  // Options about file loaders (pages, animation, orientation) mean nothing for raw pixels.
  const { pages: _p, page: _pg, animated: _a, autoOrient: _o, ...rest } = options;
  return sharp(bmp.data, { ...rest, raw: { width: bmp.width, height: bmp.height, channels: bmp.channels } });
}

/** Format sharp would report, with 'bmp' for BMP bytes (sharp says 'raw' for the decoded pipeline). */
export async function imageFormat(bytes: Buffer): Promise<string | null> {
  if (isBmp(bytes)) return 'bmp';
  return sharp(bytes).metadata().then((m) => m.format ?? null, () => null);
}
