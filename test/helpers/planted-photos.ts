/**
 * A planted leak benchmark of REAL photos, shared by test/steps/matcher-recall.test.ts and
 * bench/matcher.ts. Photos come from Debian packages (mate-backgrounds: large nature photos;
 * python3-skimage: scikit-image's sample photos); nothing is downloaded at run time.
 *
 * Each large source photo gives windows that do not overlap (distinct pictures of one scene):
 *  - `A` (left 45%) goes to train; its transformed copies go to test (the planted leaks);
 *  - `B` (right 45%) goes to test, clean: a similar scene, the same light and camera;
 *  - `H` (the middle 45%, overlapping A by a third of its width) goes to test, clean: the hard
 *    negative a loose matcher confuses with A.
 * Small skimage photos go to train whole, with transformed copies in test.
 * Every transform is applied to every train original, so each is measured on all of them.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { rng } from '../../src/util/random.js';

const MATE = '/usr/share/backgrounds/mate/nature';
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';

/** Large photos (windows of them are the originals). */
export const LARGE_PHOTOS = [
  'Aqua.jpg', 'Blinds.jpg', 'Dune.jpg', 'FreshFlower.jpg', 'Garden.jpg', 'GreenMeadow.jpg', 'LadyBird.jpg',
  'RainDrops.jpg', 'Storm.jpg', 'TwoWings.jpg', 'Wood.jpg', 'YellowFlower.jpg',
].map((f) => join(MATE, f));

/** Smaller photos used whole. */
export const SMALL_PHOTOS = ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg', 'hubble_deep_field.jpg', 'motorcycle_left.png', 'camera.png', 'coins.png', 'moon.png', 'ihc.png', 'retina.jpg'].map((f) =>
  join(SKIMAGE, f),
);

/** The Debian packages the photos come from (CI must install them). */
export const PHOTO_PACKAGES = ['mate-backgrounds', 'python3-skimage'];

export const TRANSFORMS = ['crop', 'rotate', 'watermark', 'caption', 'mirror', 'letterbox', 'jpeg', 'resize'] as const;
export type Transform = (typeof TRANSFORMS)[number];

export interface PlantedLeak {
  train: string;
  test: string;
  transform: Transform;
  /** The transform's figures, in words (e.g. "crop 8% w, 6% h"). */
  detail: string;
}

export interface PlantedSet {
  trainDir: string;
  testDir: string;
  /** File names inside trainDir / testDir. */
  train: string[];
  test: string[];
  leaks: PlantedLeak[];
  /** Test images that are no copy of any train image, with why they are there. */
  clean: Array<{ test: string; kind: 'similar_scene' | 'hard_negative' }>;
}

export interface PlantedOptions {
  /** How many large photos to use (default all). */
  large?: number;
  /** How many small photos to use (default all). */
  small?: number;
  /** Longer side of an original (default 640). */
  side?: number;
  /** Which transforms (default all). */
  transforms?: readonly Transform[];
  seed?: number;
}

/** Whether the photo packages are installed (tests skip with a clear message when not). */
export function photosAvailable(): string | undefined {
  const missing = [...LARGE_PHOTOS, ...SMALL_PHOTOS].filter((p) => !existsSync(p));
  return missing.length ? `missing ${missing.length} photo(s), e.g. ${missing[0]}: apt-get install -y ${PHOTO_PACKAGES.join(' ')}` : undefined;
}

const jpeg = (img: Sharp, quality = 92) => img.jpeg({ quality }).toBuffer();

/** A window [x0, x1) of the width (fractions), full height, scaled so its longer side is `side`. */
async function window(path: string, x0: number, x1: number, side: number): Promise<Buffer> {
  const m = await sharp(path).metadata();
  const w = m.width!;
  const h = m.height!;
  const left = Math.round(w * x0);
  const width = Math.round(w * (x1 - x0));
  return jpeg(sharp(path).removeAlpha().extract({ left, top: 0, width, height: h }).resize(side, side, { fit: 'inside' }).toColourspace('srgb'));
}

async function whole(path: string, side: number): Promise<Buffer> {
  return jpeg(sharp(path).removeAlpha().resize(side, side, { fit: 'inside', withoutEnlargement: true }).toColourspace('srgb'));
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Apply one transform; `r` draws its figures. */
export async function applyTransform(src: Buffer, t: Transform, r: () => number): Promise<{ bytes: Buffer; detail: string }> {
  const { width: w, height: h } = await sharp(src).metadata() as { width: number; height: number };
  const pick = (lo: number, hi: number) => lo + (hi - lo) * r();
  switch (t) {
    case 'crop': {
      // 5–10% off each dimension, split unevenly between the two sides.
      const fw = pick(0.05, 0.1);
      const fh = pick(0.05, 0.1);
      const cw = Math.round(w * (1 - fw));
      const ch = Math.round(h * (1 - fh));
      const left = Math.round((w - cw) * r());
      const top = Math.round((h - ch) * r());
      return { bytes: await jpeg(sharp(src).extract({ left, top, width: cw, height: ch }), 90), detail: `crop ${(fw * 100).toFixed(1)}% w, ${(fh * 100).toFixed(1)}% h` };
    }
    case 'rotate': {
      const deg = pick(1, 5) * (r() < 0.5 ? -1 : 1);
      const fill = r() < 0.5;
      const rotated = await sharp(src).rotate(deg, { background: { r: 0, g: 0, b: 0 } }).toBuffer();
      if (fill) return { bytes: await jpeg(sharp(rotated), 90), detail: `rotate ${deg.toFixed(1)}° with corners` };
      // Cut the largest centred box of the original aspect that has no corner wedges.
      const m = await sharp(rotated).metadata();
      const a = Math.abs((deg * Math.PI) / 180);
      const s = 1 / (Math.cos(a) + (Math.max(w, h) / Math.min(w, h)) * Math.sin(a));
      const cw = Math.floor(w * s);
      const ch = Math.floor(h * s);
      const left = Math.floor((m.width! - cw) / 2);
      const top = Math.floor((m.height! - ch) / 2);
      return { bytes: await jpeg(sharp(rotated).extract({ left, top, width: cw, height: ch }), 90), detail: `rotate ${deg.toFixed(1)}° cropped` };
    }
    case 'watermark': {
      const text = ['© STOCKPHOTO', 'SAMPLE', 'www.pics-shop.example', 'PREVIEW ONLY'][Math.floor(r() * 4)];
      const size = Math.round(Math.min(w, h) * pick(0.07, 0.12));
      const cx = pick(0.3, 0.7) * w;
      const cy = pick(0.3, 0.8) * h;
      const logo = Math.round(Math.min(w, h) * pick(0.12, 0.2));
      const lx = r() < 0.5 ? logo * 0.7 : w - logo * 0.7;
      const svg = `<svg width="${w}" height="${h}" xmlns="http://www.w3.org/2000/svg">
        <text x="${cx.toFixed(0)}" y="${cy.toFixed(0)}" font-family="sans-serif" font-weight="bold" font-size="${size}" text-anchor="middle"
          fill="white" fill-opacity="0.55" stroke="black" stroke-opacity="0.3">${esc(text)}</text>
        <circle cx="${lx.toFixed(0)}" cy="${(logo * 0.7).toFixed(0)}" r="${(logo / 2).toFixed(0)}" fill="white" fill-opacity="0.6" stroke="black" stroke-width="3"/>
        <text x="${lx.toFixed(0)}" y="${(logo * 0.8).toFixed(0)}" font-family="sans-serif" font-size="${Math.round(logo / 3)}" text-anchor="middle" fill="black">PX</text>
      </svg>`;
      return { bytes: await jpeg(sharp(src).composite([{ input: Buffer.from(svg) }]), 88), detail: `watermark '${text}' ${size}px, logo ${logo}px` };
    }
    case 'caption': {
      const band = Math.round(h * pick(0.1, 0.15));
      const top = r() < 0.3;
      const appended = r() < 0.5;
      const dark = r() < 0.6;
      const text = ['A view I will never forget', 'Photo of the day #1289', 'Summer holidays 2019', 'Nature never stops'][Math.floor(r() * 4)];
      const bandSvg = `<svg width="${w}" height="${band}" xmlns="http://www.w3.org/2000/svg">
        <rect width="${w}" height="${band}" fill="${dark ? 'black' : 'white'}"/>
        <text x="${w / 2}" y="${band * 0.68}" font-family="sans-serif" font-size="${Math.round(band * 0.5)}" text-anchor="middle" fill="${dark ? 'white' : 'black'}">${esc(text)}</text>
      </svg>`;
      const bandImg = await sharp(Buffer.from(bandSvg)).png().toBuffer();
      let img: Sharp;
      if (appended) {
        const canvas = sharp({ create: { width: w, height: h + band, channels: 3, background: { r: 0, g: 0, b: 0 } } });
        img = sharp(await canvas.composite([{ input: src, left: 0, top: top ? band : 0 }, { input: bandImg, left: 0, top: top ? 0 : h }]).png().toBuffer());
      } else {
        img = sharp(src).composite([{ input: bandImg, left: 0, top: top ? 0 : h - band }]);
      }
      return { bytes: await jpeg(img, 90), detail: `caption band ${band}px ${top ? 'top' : 'bottom'}, ${appended ? 'appended' : 'over the photo'}` };
    }
    case 'mirror':
      return { bytes: await jpeg(sharp(src).flop(), 90), detail: 'mirror' };
    case 'letterbox': {
      const square = r() < 0.5;
      const tw = square ? Math.max(w, h) : Math.max(w, Math.round((h * 16) / 9));
      const th = square ? Math.max(w, h) : Math.max(h, Math.round((w * 9) / 16));
      const grey = r() < 0.7 ? 0 : 255;
      const bytes = await jpeg(sharp(src).resize(tw, th, { fit: 'contain', background: { r: grey, g: grey, b: grey } }), 90);
      return { bytes, detail: `letterbox to ${tw}x${th} (${grey ? 'white' : 'black'})` };
    }
    case 'jpeg': {
      const q = Math.round(pick(25, 50));
      return { bytes: await jpeg(sharp(src), q), detail: `JPEG quality ${q}` };
    }
    case 'resize': {
      const s = pick(0.3, 0.6);
      return { bytes: await jpeg(sharp(src).resize(Math.round(w * s)), 85), detail: `resize ×${s.toFixed(2)}` };
    }
  }
}

/**
 * Write the planted set under `root` (train/ and test/). Deterministic for a seed; returns the
 * truth. About half a second per original (its eight copies included) on one core.
 */
export async function plantPhotos(root: string, options: PlantedOptions = {}): Promise<PlantedSet> {
  const side = options.side ?? 640;
  const transforms = options.transforms ?? TRANSFORMS;
  const r = rng(options.seed ?? 16);
  const trainDir = join(root, 'train');
  const testDir = join(root, 'test');
  await mkdir(trainDir, { recursive: true });
  await mkdir(testDir, { recursive: true });
  const set: PlantedSet = { trainDir, testDir, train: [], test: [], leaks: [], clean: [] };
  const originals: Array<{ name: string; bytes: Buffer }> = [];
  for (const p of LARGE_PHOTOS.slice(0, options.large ?? LARGE_PHOTOS.length)) {
    const base = p.split('/').pop()!.replace(/\.\w+$/, '');
    originals.push({ name: `${base}_A.jpg`, bytes: await window(p, 0, 0.45, side) });
    for (const [suffix, x0, kind] of [['B', 0.55, 'similar_scene'], ['H', 0.3, 'hard_negative']] as const) {
      const name = `${base}_${suffix}.jpg`;
      await writeFile(join(testDir, name), await window(p, x0, x0 + 0.45, side));
      set.test.push(name);
      set.clean.push({ test: name, kind });
    }
  }
  for (const p of SMALL_PHOTOS.slice(0, options.small ?? SMALL_PHOTOS.length)) {
    originals.push({ name: `${p.split('/').pop()!.replace(/\.\w+$/, '')}.jpg`, bytes: await whole(p, side) });
  }
  for (const o of originals) {
    await writeFile(join(trainDir, o.name), o.bytes);
    set.train.push(o.name);
    for (const t of transforms) {
      const { bytes, detail } = await applyTransform(o.bytes, t, r);
      const name = `${o.name.replace(/\.jpg$/, '')}__${t}.jpg`;
      await writeFile(join(testDir, name), bytes);
      set.test.push(name);
      set.leaks.push({ train: o.name, test: name, transform: t, detail });
    }
  }
  return set;
}

/** Figures of a run against the truth; `found` holds [train name, test name] pairs. */
export interface PlantedScore {
  recallByTransform: Record<string, { found: number; of: number; recall: number }>;
  /** Share of reported pairs that are planted leaks. */
  precision: number;
  /** Share of leaked test images reported with their train original. */
  leakRecall: number;
  /** Clean test images reported as leaks, with the pairs. */
  cleanFlagged: string[];
  falsePairs: Array<[string, string]>;
  missed: PlantedLeak[];
}

export function scorePlanted(set: PlantedSet, found: Array<[string, string]>): PlantedScore {
  const truth = new Set(set.leaks.map((l) => `${l.train}\u0000${l.test}`));
  const got = new Set(found.map(([a, b]) => `${a}\u0000${b}`));
  const recallByTransform: PlantedScore['recallByTransform'] = {};
  const missed: PlantedLeak[] = [];
  for (const l of set.leaks) {
    const e = (recallByTransform[l.transform] ??= { found: 0, of: 0, recall: 0 });
    e.of++;
    if (got.has(`${l.train}\u0000${l.test}`)) e.found++;
    else missed.push(l);
  }
  for (const e of Object.values(recallByTransform)) e.recall = e.of ? e.found / e.of : 1;
  const falsePairs = found.filter(([a, b]) => !truth.has(`${a}\u0000${b}`));
  const cleanNames = new Set(set.clean.map((c) => c.test));
  const cleanFlagged = [...new Set(found.map(([, b]) => b).filter((b) => cleanNames.has(b)))].sort();
  return {
    recallByTransform,
    precision: got.size ? (got.size - falsePairs.length) / got.size : 1,
    leakRecall: set.leaks.length ? (set.leaks.length - missed.length) / set.leaks.length : 1,
    cleanFlagged,
    falsePairs,
    missed,
  };
}
