import { fromPixels } from '../image/open.js';
import { MASK_THRESHOLD } from './mask.js';

/** Decoded RGB pixels. */
export interface Rgb {
  data: Buffer;
  width: number;
  height: number;
}

/** Widest overlay written; larger inputs are scaled down so a folder of overlays stays browsable. */
const MAX_OVERLAY_WIDTH = 2048;
const RED: readonly [number, number, number] = [255, 0, 0];
/** How much of the red goes into a masked pixel. */
const ALPHA = 0.55;

/**
 * A JPEG showing the input (left) beside the input with the mask's pixels tinted red (right).
 * A mask of another size is stretched (nearest neighbour) over the input, so a misfit shows.
 */
export async function overlayJpeg(input: Rgb, mask: { data: Uint8Array; width: number; height: number }): Promise<Buffer> {
  const { width: w, height: h } = input;
  let m = mask.data;
  if (mask.width !== w || mask.height !== h) {
    m = await fromPixels(Buffer.from(mask.data), { width: mask.width, height: mask.height, channels: 1 })
      .resize(w, h, { fit: 'fill', kernel: 'nearest' })
      .raw()
      .toBuffer();
  }
  const out = Buffer.alloc(w * 2 * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = (y * w + x) * 3;
      const left = (y * 2 * w + x) * 3;
      const right = left + w * 3;
      const on = m[y * w + x] >= MASK_THRESHOLD;
      for (let c = 0; c < 3; c++) {
        const v = input.data[src + c];
        out[left + c] = v;
        out[right + c] = on ? Math.round(v * (1 - ALPHA) + RED[c] * ALPHA) : v;
      }
    }
  }
  let img = fromPixels(out, { width: 2 * w, height: h, channels: 3 });
  if (2 * w > MAX_OVERLAY_WIDTH) img = img.resize({ width: MAX_OVERLAY_WIDTH });
  return img.jpeg({ quality: 85 }).toBuffer();
}
