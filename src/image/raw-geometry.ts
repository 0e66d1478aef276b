/**
 * Geometry on raw interleaved pixels decoded outside libvips (the JPEG DC path), which reach sharp
 * as raw input: a top-left crop, and EXIF orientation applied as sharp's `.rotate()` (auto-orient)
 * applies it to a file carrying that orientation.
 */

export interface RawPixels {
  width: number;
  height: number;
  channels: number;
  data: Buffer;
}

/** Upright pixels for EXIF orientation 1-8 (1, or anything else, returns the input unchanged). */
export function orientPixels(img: RawPixels, orientation: number): RawPixels {
  if (orientation < 2 || orientation > 8) return img;
  const { width: w, height: h, channels: ch, data } = img;
  const swap = orientation >= 5;
  const ow = swap ? h : w;
  const oh = swap ? w : h;
  const out = Buffer.allocUnsafe(data.length);
  // Source (x, y) of output pixel (X, Y), per orientation (EXIF 2.3, tag 0x0112).
  const src: (X: number, Y: number) => number = {
    2: (X: number, Y: number) => Y * w + (w - 1 - X), // mirrored horizontally
    3: (X: number, Y: number) => (h - 1 - Y) * w + (w - 1 - X), // rotated 180
    4: (X: number, Y: number) => (h - 1 - Y) * w + X, // mirrored vertically
    5: (X: number, Y: number) => X * w + Y, // transposed
    6: (X: number, Y: number) => (h - 1 - X) * w + Y, // rotate 90 clockwise to view
    7: (X: number, Y: number) => (h - 1 - X) * w + (w - 1 - Y), // transversed
    8: (X: number, Y: number) => X * w + (w - 1 - Y), // rotate 90 anticlockwise to view
  }[orientation]!;
  for (let Y = 0; Y < oh; Y++) {
    for (let X = 0; X < ow; X++) {
      const s = src(X, Y) * ch;
      const o = (Y * ow + X) * ch;
      for (let k = 0; k < ch; k++) out[o + k] = data[s + k];
    }
  }
  return { width: ow, height: oh, channels: ch, data: out };
}

/** The top-left width x height of an image (at most its own size). */
export function cropPixels(img: RawPixels, width: number, height: number): RawPixels {
  if (width >= img.width && height >= img.height) return img;
  const w = Math.min(width, img.width);
  const h = Math.min(height, img.height);
  const row = w * img.channels;
  const out = Buffer.allocUnsafe(row * h);
  for (let y = 0; y < h; y++) img.data.copy(out, y * row, y * img.width * img.channels, y * img.width * img.channels + row);
  return { width: w, height: h, channels: img.channels, data: out };
}
