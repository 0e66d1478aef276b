/**
 * A small, strict BMP decoder. sharp's prebuilt libvips has no BMP loader, yet Pillow (and so kohya's
 * sd-scripts) reads BMP, so a training folder may hold them. Supported: BITMAPINFOHEADER (40) and its
 * V2/V3/V4/V5 extensions; 1/4/8-bit palettes; 16/24/32-bit BI_RGB and BI_BITFIELDS; bottom-up and
 * top-down rows. RLE and embedded JPEG/PNG are refused with a clear error. Output is 8-bit RGB, or
 * RGBA when bit fields declare an alpha mask (32-bit BI_RGB's fourth byte is padding, as in Pillow).
 */

export class BmpError extends Error {
  override name = 'BmpError';
}

/** The header says the image has more pixels than the caller allows; nothing was allocated. */
export class BmpBombError extends BmpError {
  override name = 'BmpBombError';
  constructor(readonly width: number, readonly height: number, readonly maxPixels: number) {
    super(`bmp is ${width}x${height} (${width * height} pixels), over the decompression-bomb limit of ${maxPixels} pixels`);
  }
}

export interface BmpHeader {
  width: number;
  height: number;
  /** Rows stored top row first (negative height in the file). */
  topDown: boolean;
  bitsPerPixel: number;
  /** 0 BI_RGB, 3 BI_BITFIELDS, 6 BI_ALPHABITFIELDS. */
  compression: number;
  /** Offset of the pixel array. */
  dataOffset: number;
  /** Channel masks for 16/32-bit pixels (alpha 0 when absent). */
  masks: { r: number; g: number; b: number; a: number } | null;
  /** RGB palette for <= 8-bit pixels. */
  palette: Uint8Array | null;
  /** Decoded channels: 3, or 4 when an alpha mask is present. */
  channels: 3 | 4;
}

export interface DecodedBmp {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

const INFO_HEADER_SIZES = new Set([40, 52, 56, 108, 124]);
const COMPRESSION_NAMES: Record<number, string> = { 1: 'RLE8', 2: 'RLE4', 4: 'embedded JPEG', 5: 'embedded PNG', 11: 'CMYK', 12: 'CMYK RLE8', 13: 'CMYK RLE4' };

/** Whether these bytes start like a BMP file: 'BM' and a known DIB header size (so text starting "BM" is not one). */
export function isBmp(b: Uint8Array): boolean {
  if (b.length < 18 || b[0] !== 0x42 || b[1] !== 0x4d) return false;
  const headerSize = b[14] | (b[15] << 8) | (b[16] << 16) | (b[17] << 24);
  return headerSize === 12 || headerSize === 64 || INFO_HEADER_SIZES.has(headerSize);
}

/** Parse and validate the headers (and palette) without touching the pixel array. */
export function readBmpHeader(input: Uint8Array): BmpHeader {
  const b = asBuffer(input);
  if (!isBmp(b)) throw new BmpError('not a BMP file (no BM signature)');
  const dataOffset = b.readUInt32LE(10);
  const headerSize = b.readUInt32LE(14);
  if (headerSize === 12 || headerSize === 64) throw new BmpError(`unsupported BMP: OS/2 header (${headerSize} bytes)`);
  if (!INFO_HEADER_SIZES.has(headerSize)) throw new BmpError(`unsupported BMP header size ${headerSize}`);
  if (b.length < 14 + headerSize) throw new BmpError(`truncated BMP: ${b.length} bytes, header needs ${14 + headerSize}`);
  const width = b.readInt32LE(18);
  const rawHeight = b.readInt32LE(22);
  const planes = b.readUInt16LE(26);
  const bitsPerPixel = b.readUInt16LE(28);
  const compression = b.readUInt32LE(30);
  const colorsUsed = b.readUInt32LE(46);
  if (width <= 0 || rawHeight === 0 || rawHeight === -0x80000000) throw new BmpError(`invalid BMP size ${width}x${rawHeight}`);
  if (planes !== 1) throw new BmpError(`invalid BMP: ${planes} colour planes (must be 1)`);
  if (COMPRESSION_NAMES[compression]) throw new BmpError(`unsupported BMP compression ${COMPRESSION_NAMES[compression]}`);
  if (compression !== 0 && compression !== 3 && compression !== 6) throw new BmpError(`unknown BMP compression ${compression}`);
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) throw new BmpError(`unsupported BMP bit depth ${bitsPerPixel}`);
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);

  let masks: BmpHeader['masks'] = null;
  let palette: Uint8Array | null = null;
  if (compression === 3 || compression === 6) {
    if (bitsPerPixel !== 16 && bitsPerPixel !== 32) throw new BmpError(`invalid BMP: bit fields with ${bitsPerPixel}-bit pixels`);
    // BITMAPINFOHEADER keeps its masks just after the header; the longer headers hold them inside.
    const maskCount = headerSize === 40 ? (compression === 6 ? 4 : 3) : headerSize === 52 ? 3 : 4;
    const at = 54;
    if (b.length < at + 4 * maskCount) throw new BmpError('truncated BMP: bit field masks missing');
    masks = { r: b.readUInt32LE(at), g: b.readUInt32LE(at + 4), b: b.readUInt32LE(at + 8), a: maskCount === 4 ? b.readUInt32LE(at + 12) : 0 };
    if (bitsPerPixel === 16) for (const k of ['r', 'g', 'b', 'a'] as const) masks[k] &= 0xffff;
    for (const k of ['r', 'g', 'b', 'a'] as const) {
      const m = masks[k];
      if (m !== 0 && !contiguous(m)) throw new BmpError(`invalid BMP: ${k} mask 0x${m.toString(16)} is not contiguous`);
    }
    if (!masks.r && !masks.g && !masks.b) throw new BmpError('invalid BMP: all colour masks are zero');
  } else if (bitsPerPixel === 16) {
    masks = { r: 0x7c00, g: 0x03e0, b: 0x001f, a: 0 };
  } else if (bitsPerPixel <= 8) {
    const count = colorsUsed === 0 ? 1 << bitsPerPixel : colorsUsed;
    if (count > 1 << bitsPerPixel) throw new BmpError(`invalid BMP: ${count} palette colours for ${bitsPerPixel}-bit pixels`);
    const at = 14 + headerSize;
    if (b.length < at + 4 * count) throw new BmpError(`truncated BMP: palette of ${count} colours missing`);
    palette = new Uint8Array(3 * count);
    for (let i = 0; i < count; i++) {
      palette[3 * i] = b[at + 4 * i + 2];
      palette[3 * i + 1] = b[at + 4 * i + 1];
      palette[3 * i + 2] = b[at + 4 * i];
    }
  }
  const channels = masks && masks.a !== 0 ? 4 : 3;
  return { width, height, topDown, bitsPerPixel, compression, dataOffset, masks, palette, channels };
}

/**
 * Decode a BMP to raw 8-bit RGB(A), top row first. Throws BmpBombError when width x height exceeds
 * `maxPixels` (checked before any allocation) and BmpError for anything malformed or truncated.
 */
export function decodeBmp(input: Uint8Array, opts: { maxPixels?: number } = {}): DecodedBmp {
  const b = asBuffer(input);
  const h = readBmpHeader(b);
  const { width, height, bitsPerPixel: bpp, channels } = h;
  if (opts.maxPixels !== undefined && width * height > opts.maxPixels) throw new BmpBombError(width, height, opts.maxPixels);
  const stride = Math.ceil((bpp * width) / 32) * 4;
  // The last row's padding is sometimes left off by writers; its pixels are not.
  const need = h.dataOffset + stride * (height - 1) + Math.ceil((bpp * width) / 8);
  if (h.dataOffset < 14 || b.length < need) throw new BmpError(`truncated BMP: ${b.length} bytes, pixel data needs ${need}`);
  const out = Buffer.allocUnsafe(width * height * channels);
  const fields = h.masks ? maskReaders(h.masks) : null;
  for (let y = 0; y < height; y++) {
    const row = h.dataOffset + stride * (h.topDown ? y : height - 1 - y);
    let o = y * width * channels;
    for (let x = 0; x < width; x++, o += channels) {
      if (bpp === 24) {
        const p = row + 3 * x;
        out[o] = b[p + 2]; out[o + 1] = b[p + 1]; out[o + 2] = b[p];
      } else if (bpp === 32 && !fields) {
        const p = row + 4 * x;
        out[o] = b[p + 2]; out[o + 1] = b[p + 1]; out[o + 2] = b[p];
      } else if (fields) {
        const v = bpp === 16 ? b.readUInt16LE(row + 2 * x) : b.readUInt32LE(row + 4 * x);
        out[o] = fields.r(v); out[o + 1] = fields.g(v); out[o + 2] = fields.b(v);
        if (channels === 4) out[o + 3] = fields.a(v);
      } else {
        const bit = x * bpp;
        const index = (b[row + (bit >>> 3)] >>> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        const pal = h.palette!;
        if (3 * index >= pal.length) throw new BmpError(`invalid BMP: pixel (${x}, ${y}) uses colour ${index}, palette has ${pal.length / 3}`);
        out[o] = pal[3 * index]; out[o + 1] = pal[3 * index + 1]; out[o + 2] = pal[3 * index + 2];
      }
    }
  }
  return { data: out, width, height, channels };
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A mask's set bits form one run (0b0111_1100 yes, 0b0101 no). */
function contiguous(m: number): boolean {
  const shifted = m >>> ctz(m);
  return (shifted & (shifted + 1)) === 0;
}

function ctz(m: number): number {
  let n = 0;
  while (n < 32 && ((m >>> n) & 1) === 0) n++;
  return n;
}

/** Per-channel extractors that scale a masked field of any width to 0..255. */
function maskReaders(m: NonNullable<BmpHeader['masks']>): Record<'r' | 'g' | 'b' | 'a', (v: number) => number> {
  const reader = (mask: number) => {
    if (mask === 0) return () => (mask === m.a ? 255 : 0);
    const shift = ctz(mask);
    const max = mask >>> shift;
    return (v: number) => Math.round((((v & mask) >>> shift) * 255) / max);
  };
  return { r: reader(m.r), g: reader(m.g), b: reader(m.b), a: reader(m.a) };
}
