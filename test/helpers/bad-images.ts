/**
 * Broken and unusual image files, generated at test time (sharp, plus a hand-written PNG for the
 * bomb), with the probe issues each one must produce. Reused by tests of other steps and by the demo.
 *
 *   import { writeBadImages, BAD_IMAGES } from '../helpers/bad-images.js';
 *   const expected = await writeBadImages(dir);   // { 'truncated.jpg': ['corrupt'], ... }
 *
 * Every file name is unique and its extension is part of the case (e.g. a PNG named .jpg).
 * Generation of the whole set takes well under a second; the bomb is a 48 KB file that claims
 * 20000x20000 pixels.
 */
import sharp from 'sharp';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync, crc32 } from 'node:zlib';
import { photo, rng } from '../../src/demo/synth.js';

export interface BadImage {
  /** File name, extension included. */
  name: string;
  /** What is wrong with it, in a few words. */
  what: string;
  /** Issue types the probe must flag (flagged: true). Empty when the file only carries notes. */
  flagged: string[];
  /** Informational issue types the probe must record with flagged: false. */
  info: string[];
  /** Whether the probe must report that it fully decodes. */
  decodes: boolean;
  make(): Promise<Buffer>;
}

/** A small photo-like JPEG or PNG as the base of most cases. */
async function base(seed: number, format: 'jpeg' | 'png', width = 160, height = 120): Promise<Buffer> {
  const img = await photo({ seed, width, height });
  return format === 'jpeg' ? img.jpeg({ quality: 90 }).toBuffer() : img.png().toBuffer();
}

/** Frames of a short animation, as raw-pixel PNGs for sharp's `join`. */
async function frames(n: number): Promise<Buffer[]> {
  return Promise.all(Array.from({ length: n }, async (_, i) => (await photo({ seed: 100 + i, width: 64, height: 48 })).png().toBuffer()));
}

/**
 * A valid, complete PNG of `size` x `size` 1-bit grey pixels, all black. The zlib stream of the
 * all-zero rows compresses ~1000:1, so a 400-megapixel image is a ~48 KB file.
 */
export function bombPng(size = 20000): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // colour type: greyscale
  // compression, filter, interlace: 0
  const rowBytes = 1 + Math.ceil(size / 8); // filter byte + packed bits
  const idat = deflateSync(Buffer.alloc(rowBytes * size), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const BAD_IMAGES: readonly BadImage[] = [
  {
    name: 'random-bytes.jpg', what: 'random bytes named .jpg', flagged: ['corrupt'], info: [], decodes: false,
    make: async () => {
      const r = rng(7);
      return Buffer.from(Array.from({ length: 4096 }, () => Math.floor(r() * 256)));
    },
  },
  {
    name: 'corrupt-data.jpg',
    what: 'JPEG whose entropy-coded data is overwritten mid-file (shrink-on-load hides it; a full decode does not)',
    flagged: ['corrupt'], info: [], decodes: false,
    make: async () => {
      const jpg = await base(2, 'jpeg', 320, 240);
      const out = Buffer.from(jpg);
      out.fill(0x55, Math.floor(jpg.length * 0.4), Math.floor(jpg.length * 0.55));
      return out;
    },
  },
  {
    name: 'truncated.jpg', what: 'JPEG cut at half its length', flagged: ['corrupt'], info: [], decodes: false,
    make: async () => {
      const jpg = await base(3, 'jpeg');
      return jpg.subarray(0, jpg.length >> 1);
    },
  },
  {
    name: 'truncated.png', what: 'PNG cut at half its length', flagged: ['corrupt'], info: [], decodes: false,
    make: async () => {
      const png = await base(4, 'png');
      return png.subarray(0, png.length >> 1);
    },
  },
  { name: 'empty.jpg', what: 'zero-byte file', flagged: ['corrupt'], info: [], decodes: false, make: async () => Buffer.alloc(0) },
  {
    name: 'text.jpg', what: 'plain text named .jpg', flagged: ['corrupt'], info: [], decodes: false,
    make: async () => Buffer.from('This is not an image.\nIt is a text file that someone saved with a .jpg name.\n'),
  },
  {
    name: 'page.jpg', what: 'HTML error page saved as .jpg (a failed download)', flagged: ['corrupt'], info: [], decodes: false,
    make: async () => Buffer.from('<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n'),
  },
  {
    name: 'png-named.jpg', what: 'valid PNG named .jpg', flagged: ['wrong_extension'], info: [], decodes: true,
    make: () => base(5, 'png'),
  },
  {
    name: 'cmyk.jpg', what: 'CMYK JPEG', flagged: ['cmyk'], info: [], decodes: true,
    make: async () => (await photo({ seed: 6, width: 160, height: 120 })).toColourspace('cmyk').jpeg().toBuffer(),
  },
  {
    name: '16bit.png', what: '16-bit RGB PNG', flagged: [], info: ['high_bit_depth'], decodes: true,
    make: async () => (await photo({ seed: 7, width: 160, height: 120 })).toColourspace('rgb16').png().toBuffer(),
  },
  {
    name: 'animated.gif', what: 'animated GIF, 3 frames', flagged: ['animated'], info: [], decodes: true,
    make: async () => sharp(await frames(3), { join: { animated: true } }).gif().toBuffer(),
  },
  {
    name: 'animated.webp', what: 'animated WebP, 3 frames', flagged: ['animated'], info: [], decodes: true,
    make: async () => sharp(await frames(3), { join: { animated: true } }).webp().toBuffer(),
  },
  {
    name: 'multipage.tiff', what: 'TIFF with 3 pages', flagged: ['animated'], info: [], decodes: true,
    make: async () => sharp(await frames(3), { join: { animated: true } }).tiff().toBuffer(),
  },
  {
    name: 'bomb.png', what: 'decompression bomb: 20000x20000 PNG in ~48 KB', flagged: ['decompression_bomb'], info: [], decodes: false,
    make: async () => bombPng(20000),
  },
  {
    name: 'rotated.jpg', what: 'JPEG with EXIF orientation 6 (stored 160x120, shown 120x160)', flagged: [], info: ['exif_rotated'], decodes: true,
    make: async () => (await photo({ seed: 8, width: 160, height: 120 })).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
  },
];

/** Generate the files in memory: name → bytes. `only` restricts to some names. */
export async function makeBadImages(only?: string[]): Promise<Map<string, Buffer>> {
  const wanted = only ? BAD_IMAGES.filter((b) => only.includes(b.name)) : BAD_IMAGES;
  if (only) {
    const unknown = only.filter((n) => !BAD_IMAGES.some((b) => b.name === n));
    if (unknown.length) throw new Error(`bad-images: unknown fixture(s) ${unknown.join(', ')}`);
  }
  const made = await Promise.all(wanted.map(async (b) => [b.name, await b.make()] as const));
  return new Map(made);
}

/**
 * Write every fixture (or those in `only`) into `dir`, which must exist. Returns name → the issue
 * types the probe must flag ([] for files that only carry informational notes).
 */
export async function writeBadImages(dir: string, only?: string[]): Promise<Record<string, string[]>> {
  const files = await makeBadImages(only);
  const expected: Record<string, string[]> = {};
  for (const [name, bytes] of files) {
    await writeFile(join(dir, name), bytes);
    expected[name] = [...BAD_IMAGES.find((b) => b.name === name)!.flagged];
  }
  return expected;
}
