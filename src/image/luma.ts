/**
 * Greyscale conversion exactly as Pillow's `Image.convert('L')` does it (Convert.c, rgb2l):
 * ITU-R 601-2 luma in 16-bit fixed point, L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
 * Alpha is ignored (Pillow's RGBA→L and LA→L drop it too, without compositing).
 */
export function toLuma(data: Uint8Array, width: number, height: number, channels: number): Uint8Array {
  const n = width * height;
  if (data.length < n * channels) {
    throw new Error(`toLuma: pixel buffer has ${data.length} bytes, expected ${n * channels} for ${width}x${height}x${channels}`);
  }
  if (channels === 1) return data.subarray(0, n);
  const out = new Uint8Array(n);
  if (channels === 2) {
    for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = data[j];
    return out;
  }
  if (channels !== 3 && channels !== 4) {
    throw new Error(`toLuma: channels must be 1, 2, 3 or 4 (got ${channels})`);
  }
  for (let i = 0, j = 0; i < n; i++, j += channels) {
    out[i] = (data[j] * 19595 + data[j + 1] * 38470 + data[j + 2] * 7471 + 0x8000) >>> 16;
  }
  return out;
}
