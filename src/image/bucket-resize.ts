/**
 * Resize one image to its bucket (src/image/buckets.ts): EXIF orientation baked in, colour converted
 * to sRGB, alpha flattened onto a background colour, Lanczos-3 resize to the planned size, then the
 * bucket-sized window cut out — at sd-scripts' centre offset, or where libvips' attention/entropy
 * strategy finds the subject. sd-scripts itself downscales with cv2 INTER_AREA by default; Lanczos is
 * sharper and is what the `bucket` step promises.
 */
import sharp from './sharp.js';
import type { Sharp } from 'sharp';
import { openImage } from './open.js';
import type { BucketPlan, Size } from './buckets.js';

export type BucketCrop = 'center' | 'attention' | 'entropy';
export type BucketFormat = 'png' | 'jpg' | 'webp';

export interface BucketResizeOptions {
  format: BucketFormat;
  /** 1..100, for jpg and webp (png is lossless). */
  quality: number;
  crop: BucketCrop;
  /** Colour transparent pixels are flattened onto (CSS colour or #rrggbb). */
  background: string;
}

export const DEFAULT_RESIZE_OPTIONS: BucketResizeOptions = { format: 'png', quality: 95, crop: 'center', background: '#ffffff' };

export interface BucketImage {
  bytes: Buffer;
  ext: BucketFormat;
  /** Always the bucket size. */
  width: number;
  height: number;
  /** Where the window was cut from the resized image (libvips' choice for attention/entropy). */
  crop: { left: number; top: number };
  /** Size the image was resized to before the cut (the plan's; libvips' own cover size for attention/entropy may differ by a pixel). */
  resized: Size;
}

/** Upright (EXIF-applied) size of an image's first page, from its header. */
export async function uprightSize(bytes: Buffer): Promise<Size> {
  const m = await openImage(bytes, { failOn: 'none' }).metadata();
  if (!m.width || !m.height) throw new Error('image has no dimensions');
  return (m.orientation ?? 1) >= 5 ? [m.height, m.width] : [m.width, m.height];
}

/**
 * The bucket-sized image for `plan` (made from this image's upright size). Centre crop reproduces
 * sd-scripts exactly (resize to `plan.resized`, cut at `plan.crop`); attention/entropy let libvips
 * resize to cover the bucket and pick the window, so `resized` may differ from the plan by a pixel.
 */
export async function resizeToBucket(bytes: Buffer, plan: Pick<BucketPlan, 'bucket' | 'resized' | 'crop'>, opts: BucketResizeOptions): Promise<BucketImage> {
  const [bw, bh] = plan.bucket;
  let img = openImage(bytes, { failOn: 'none' })
    .rotate()
    .toColourspace('srgb')
    .flatten({ background: opts.background });
  let crop = plan.crop;
  const resized: Size = plan.resized;
  if (opts.crop === 'center') {
    img = img
      .resize(plan.resized[0], plan.resized[1], { kernel: sharp.kernel.lanczos3, fit: 'fill' })
      .extract({ left: plan.crop.left, top: plan.crop.top, width: bw, height: bh });
  } else {
    img = img.resize(bw, bh, {
      kernel: sharp.kernel.lanczos3,
      fit: 'cover',
      position: opts.crop === 'attention' ? sharp.strategy.attention : sharp.strategy.entropy,
    });
  }
  const encoded = encode(img, opts);
  const { data, info } = await encoded.toBuffer({ resolveWithObject: true });
  if (opts.crop !== 'center') {
    // libvips reports the window it chose as a negative offset into the resized image.
    crop = { left: Math.abs(info.cropOffsetLeft ?? 0), top: Math.abs(info.cropOffsetTop ?? 0) };
  }
  return { bytes: data, ext: opts.format, width: info.width, height: info.height, crop, resized };
}

function encode(img: Sharp, opts: BucketResizeOptions): Sharp {
  switch (opts.format) {
    case 'jpg':
      return img.jpeg({ quality: opts.quality, chromaSubsampling: opts.quality >= 90 ? '4:4:4' : '4:2:0' });
    case 'webp':
      return img.webp({ quality: opts.quality });
    case 'png':
      return img.png({ compressionLevel: 6 });
  }
}
