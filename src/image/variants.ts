/**
 * Perceptual hashes of an image's simple variants, for near-duplicate search: the image as stored,
 * its mirror image, and — when it has a uniform border (letterbox, pillarbox, padding) — its
 * content without the border, and that content mirrored. Comparing every variant of one image
 * with every variant of another makes the match insensitive to mirroring and to padding.
 *
 * All variants come from one reduced decode, so they are consistent with each other across images
 * but are not bit-exact with imagehash (the hash step is; use its values for imagehash semantics).
 */
import { openImage } from './open.js';
import { toLuma } from './luma.js';
import { dHash, pHash, type GreyImage } from './perceptual.js';

/** Shorter side the image is reduced to before hashing; plenty for 32 × 32 and 9 × 8 resamples. */
export const VARIANT_MIN_SIDE = 128;

export const VARIANT_NAMES = ['plain', 'mirror', 'trimmed', 'trimmed_mirror', 'centre'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

export interface VariantHash {
  phash: string;
  dhash: string;
}

/** A border found on each side, as a fraction of the stored width (left, right) or height (top, bottom). */
export interface Border {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface ImageVariants {
  /** Size as stored (no EXIF rotation, like the hash step). */
  width: number;
  height: number;
  plain: VariantHash;
  mirror: VariantHash;
  /** Present only when a uniform border was found and removed. */
  trimmed?: VariantHash;
  trimmed_mirror?: VariantHash;
  /**
   * The central part (CENTRE_FRACTION of each side) of the content: drops what rotation wedges,
   * small crops and corner marks change most, so those copies stay close.
   */
  centre: VariantHash;
  /** pHashes of the EXTRA_VIEWS of the content, in that order (candidate search only). */
  extra: string[];
  border?: Border;
}

export const CENTRE_FRACTION = 0.8;

export interface BorderOptions {
  /** A border row or column has this share of its pixels within `tolerance` of the border's level. */
  coverage?: number;
  /** Grey levels a border pixel may differ from the border's level (JPEG ringing, noise). */
  tolerance?: number;
  /** Smallest border worth trimming, as a fraction of the side it is on. */
  minFraction?: number;
  /** Largest share of a dimension that trimming may remove (both sides together). */
  maxFraction?: number;
}

const BORDER_DEFAULTS: Required<BorderOptions> = { coverage: 0.99, tolerance: 10, minFraction: 0.02, maxFraction: 0.5 };

/** Decode at reduced size to 8-bit luma (Pillow's 'L' weights), as stored. Throws when undecodable. */
export async function decodeGreyReduced(bytes: Buffer, minSide = VARIANT_MIN_SIDE): Promise<{ grey: GreyImage; width: number; height: number }> {
  const img = openImage(bytes, { failOn: 'truncated', autoOrient: false });
  const meta = await img.metadata();
  const width = meta.width;
  const height = meta.height;
  if (!width || !height) throw new Error(`cannot read image size (format: ${meta.format ?? 'unknown'})`);
  const shorter = Math.min(width, height);
  let pipeline = img.toColourspace('srgb');
  if (shorter > 2 * minSide) {
    const f = shorter / minSide;
    pipeline = pipeline.resize({
      width: Math.max(1, Math.round(width / f)), height: Math.max(1, Math.round(height / f)), fit: 'fill', kernel: 'lanczos3',
    });
  }
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { grey: { data: toLuma(data, info.width, info.height, info.channels), width: info.width, height: info.height }, width, height };
}

export function mirrorGrey(img: GreyImage): GreyImage {
  const { width: w, height: h } = img;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) out[row + x] = img.data[row + w - 1 - x];
  }
  return { data: out, width: w, height: h };
}

export function cropGrey(img: GreyImage, left: number, top: number, width: number, height: number): GreyImage {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) out.set(img.data.subarray((top + y) * img.width + left, (top + y) * img.width + left + width), y * width);
  return { data: out, width, height };
}

/**
 * Uniform borders in pixels: from each side inwards, the run of rows (columns) whose pixels are
 * nearly all at one level, the level of the outermost line; kept only as padding on both of two
 * opposite sides. Undefined when there is nothing worth trimming.
 */
export function findBorder(img: GreyImage, options: BorderOptions = {}): { left: number; top: number; right: number; bottom: number } | undefined {
  const o = { ...BORDER_DEFAULTS, ...options };
  const { width: w, height: h, data } = img;
  if (w < 8 || h < 8) return undefined;
  // Pixels of line k from a side: a row (top/bottom) or column (left/right).
  const line = (side: 'top' | 'bottom' | 'left' | 'right', k: number): { at: (i: number) => number; n: number } => {
    switch (side) {
      case 'top': return { at: (i) => data[k * w + i], n: w };
      case 'bottom': return { at: (i) => data[(h - 1 - k) * w + i], n: w };
      case 'left': return { at: (i) => data[i * w + k], n: h };
      case 'right': return { at: (i) => data[i * w + (w - 1 - k)], n: h };
    }
  };
  const median = (l: { at: (i: number) => number; n: number }): number => {
    const hist = new Uint32Array(256);
    for (let i = 0; i < l.n; i++) hist[l.at(i)]++;
    let acc = 0;
    for (let v = 0; v < 256; v++) if ((acc += hist[v]) * 2 >= l.n) return v;
    return 255;
  };
  const depth = (side: 'top' | 'bottom' | 'left' | 'right', limit: number): number => {
    const level = median(line(side, 0));
    let k = 0;
    for (; k < limit; k++) {
      const l = line(side, k);
      let near = 0;
      for (let i = 0; i < l.n; i++) if (Math.abs(l.at(i) - level) <= o.tolerance) near++;
      if (near < o.coverage * l.n) break;
    }
    return k;
  };
  // Padding is added to fit a frame, so it sits on two opposite sides, at one level, about
  // equally wide. Requiring that keeps flat skies and roads (one side, two levels) untrimmed.
  const pair = (a: 'top' | 'left', b: 'bottom' | 'right', extent: number): [number, number] => {
    const limit = Math.floor(extent * o.maxFraction / 2);
    const da = depth(a, limit);
    const db = depth(b, limit);
    const min = Math.max(1, Math.ceil(o.minFraction * extent));
    if (da < min || db < min || Math.max(da, db) > 2 * Math.min(da, db)) return [0, 0];
    if (Math.abs(median(line(a, 0)) - median(line(b, 0))) > o.tolerance) return [0, 0];
    return [da, db];
  };
  const [top, bottom] = pair('top', 'bottom', h);
  const [left, right] = pair('left', 'right', w);
  if (top + bottom + left + right === 0) return undefined;
  return { left, top, right, bottom };
}

function centreOf(img: GreyImage): GreyImage {
  const w = Math.max(1, Math.round(img.width * CENTRE_FRACTION));
  const h = Math.max(1, Math.round(img.height * CENTRE_FRACTION));
  return cropGrey(img, Math.floor((img.width - w) / 2), Math.floor((img.height - h) / 2), w, h);
}

/** Bilinear rotation by `deg` about the centre, same size (corners clamp to the edge). */
export function rotateGrey(img: GreyImage, deg: number): GreyImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(w * h);
  const a = (deg * Math.PI) / 180;
  const c = Math.cos(a);
  const s = Math.sin(a);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const sx = Math.min(w - 1.001, Math.max(0, cx + c * dx - s * dy));
      const sy = Math.min(h - 1.001, Math.max(0, cy + s * dx + c * dy));
      const x0 = sx | 0;
      const y0 = sy | 0;
      const fx = sx - x0;
      const fy = sy - y0;
      const i = y0 * w + x0;
      const top = data[i] + (data[i + 1] - data[i]) * fx;
      const bot = data[i + w] + (data[i + w + 1] - data[i + w]) * fx;
      out[y * w + x] = Math.round(top + (bot - top) * fy);
    }
  }
  return { data: out, width: w, height: h };
}

/** A window of `img` given as fractions: left, top, width, height. */
function viewOf(img: GreyImage, l: number, t: number, fw: number, fh: number): GreyImage {
  const w = Math.max(1, Math.round(img.width * fw));
  const h = Math.max(1, Math.round(img.height * fh));
  const left = Math.min(img.width - w, Math.round(img.width * l));
  const top = Math.min(img.height - h, Math.round(img.height * t));
  return cropGrey(img, left, top, w, h);
}

/**
 * Extra views of the content, hashed with pHash only and used to find candidates (a pair found
 * through them is confirmed by looking at the images): what a copy cropped by 5–10%, rotated by
 * a few degrees, or carrying a caption band on top or bottom looks like, seen from the original.
 */
export const EXTRA_VIEWS: ReadonlyArray<{ name: string; view: (img: GreyImage) => GreyImage }> = [
  // 90% windows on a 3 × 3 grid of offsets: any 5–10% crop is within 2.5% of one.
  ...[0, 0.05, 0.1].flatMap((t) => [0, 0.05, 0.1].map((l) => ({ name: `crop90_${l * 100}_${t * 100}`, view: (img: GreyImage) => viewOf(img, l, t, 0.9, 0.9) }))),
  // Rotated by ±3°, central 85% (no corner wedges): with 'centre' covers rotations to ±5°.
  ...[-3, 3].map((d) => ({ name: `rot${d}`, view: (img: GreyImage) => viewOf(rotateGrey(img, d), 0.075, 0.075, 0.85, 0.85) })),
  // Without the top or bottom 15%: a caption band laid over the picture.
  { name: 'no_top', view: (img: GreyImage) => viewOf(img, 0, 0.15, 1, 0.85) },
  { name: 'no_bottom', view: (img: GreyImage) => viewOf(img, 0, 0, 1, 0.85) },
];

function hashPair(img: GreyImage): VariantHash {
  return { phash: pHash(img), dhash: dHash(img) };
}

/** Hash an image and its variants. Throws when the bytes cannot be decoded. */
export async function computeVariants(bytes: Buffer, options: { trim?: boolean; border?: BorderOptions } = {}): Promise<ImageVariants> {
  const { grey, width, height } = await decodeGreyReduced(bytes);
  const b = options.trim === false ? undefined : findBorder(grey, options.border);
  const content = b ? cropGrey(grey, b.left, b.top, grey.width - b.left - b.right, grey.height - b.top - b.bottom) : grey;
  const out: ImageVariants = { width, height, plain: hashPair(grey), mirror: hashPair(mirrorGrey(grey)), centre: hashPair(centreOf(content)),
    extra: EXTRA_VIEWS.map((v) => pHash(v.view(content))),
  };
  if (b) {
    const inner = content;
    out.trimmed = hashPair(inner);
    out.trimmed_mirror = hashPair(mirrorGrey(inner));
    const r = (v: number, of: number) => Math.round((v / of) * 1e4) / 1e4;
    out.border = { left: r(b.left, grey.width), top: r(b.top, grey.height), right: r(b.right, grey.width), bottom: r(b.bottom, grey.height) };
  }
  return out;
}
