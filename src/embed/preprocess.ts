import { openImage } from '../image/open.js';
import type { ImagePreprocess } from './manifest.js';

/**
 * Image → model input tensor, as the presets' Hugging Face image processors do it:
 * apply the EXIF orientation, drop alpha, make 3-channel sRGB; resize ('shortest': the shorter
 * side to `resize_to`, the longer one `floor(resize_to * long / short)`; 'squash': straight to
 * size×size); centre-crop size×size (offsets floor((W - size) / 2)); scale to [0,1], subtract the
 * mean and divide by the std per channel; lay out NCHW or NHWC.
 *
 * libvips' resampling kernels are close to PIL's (both antialias when shrinking) but not bit-exact,
 * so embeddings differ from a Python pipeline in the last digits, not in meaning.
 */

export interface PreprocessedImage {
  /** One image: [3, size, size] (nchw) or [size, size, 3] (nhwc), float32. */
  data: Float32Array;
  /** Size of the image as decoded (after EXIF orientation). */
  width: number;
  height: number;
}

/** The size an image is resized to before cropping. */
export function resizeTarget(width: number, height: number, p: ImagePreprocess): { width: number; height: number } {
  if (p.resize === 'squash') return { width: p.size, height: p.size };
  const target = p.resize_to ?? p.size;
  const short = Math.min(width, height);
  const long = Math.max(width, height);
  const newLong = Math.floor((target * long) / short);
  return width <= height ? { width: target, height: newLong } : { width: newLong, height: target };
}

const KERNEL = { bicubic: 'cubic', bilinear: 'linear', nearest: 'nearest' } as const;

/** Resized and cropped RGB bytes (size×size×3, row-major), before normalisation. */
export async function preprocessPixels(bytes: Buffer, p: ImagePreprocess): Promise<{ rgb: Buffer; width: number; height: number }> {
  const base = openImage(bytes, { failOn: 'error' }).rotate();
  const meta = await base.metadata();
  let { width, height } = meta;
  if (!width || !height) throw new Error('image has no dimensions');
  // EXIF orientations 5–8 swap the axes.
  if ((meta.orientation ?? 1) >= 5) [width, height] = [height, width];
  const t = resizeTarget(width, height, p);
  if (t.width < p.size || t.height < p.size) {
    throw new Error(`resize target ${t.width}x${t.height} is smaller than the crop ${p.size}x${p.size}`);
  }
  let pipe = base.removeAlpha().toColourspace('srgb');
  if (t.width !== width || t.height !== height) {
    pipe = pipe.resize(t.width, t.height, { fit: 'fill', kernel: KERNEL[p.interpolation] });
  }
  if (t.width !== p.size || t.height !== p.size) {
    pipe = pipe.extract({ left: Math.floor((t.width - p.size) / 2), top: Math.floor((t.height - p.size) / 2), width: p.size, height: p.size });
  }
  const { data, info } = await pipe.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3 || info.width !== p.size || info.height !== p.size) {
    throw new Error(`preprocess: expected ${p.size}x${p.size}x3, got ${info.width}x${info.height}x${info.channels}`);
  }
  return { rgb: data, width, height };
}

/** Normalise RGB bytes (size×size×3) into the model's layout. */
export function normalizePixels(rgb: Uint8Array, p: ImagePreprocess): Float32Array {
  const n = p.size * p.size;
  const out = new Float32Array(n * 3);
  const scale = [0, 1, 2].map((c) => 1 / (255 * p.std[c]));
  const shift = [0, 1, 2].map((c) => p.mean[c] / p.std[c]);
  if (p.layout === 'nchw') {
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) out[c * n + i] = rgb[i * 3 + c] * scale[c] - shift[c];
    }
  } else {
    for (let i = 0; i < n * 3; i++) out[i] = rgb[i] * scale[i % 3] - shift[i % 3];
  }
  return out;
}

export async function preprocessImage(bytes: Buffer, p: ImagePreprocess): Promise<PreprocessedImage> {
  const { rgb, width, height } = await preprocessPixels(bytes, p);
  return { data: normalizePixels(rgb, p), width, height };
}
