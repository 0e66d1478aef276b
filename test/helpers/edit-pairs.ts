/**
 * Image-edit pairs with a known edited region, built at test/bench time from real photographs that
 * Debian packages install (scikit-image's and OpenCV's sample images, a Debian desktop preview).
 * Each pair imitates what an editing model returns: the input with one region edited (an object
 * pasted, an object removed by an inpaint-like blur, a region recoloured, an object moved), then
 * re-framed (zoom up to 6 %, shift up to 2 %, rotation up to 1 degree, mild global tone change,
 * sometimes another output size) and re-encoded as JPEG. Also made: unedited re-framed pairs (the
 * mask must stay empty) and pairs of two different photos (alignment must reject them).
 *
 * Packages: python3-skimage (skimage/data), opencv-doc (examples/data), desktop-base (its Plasma and
 * SDDM preview pictures); whichever are installed. Without any of them the generator falls back to src/demo/synth.ts scenes
 * and says so in `source` (`synthetic:<n>`), so tests still run, on easier images.
 */
import { existsSync } from 'node:fs';
import sharp from 'sharp';
import { photoPixels } from '../../src/demo/synth.js';
import { rng } from '../../src/util/random.js';

/** Photographs (not drawings, charts or textures), one per scene: two views of one scene would not be "different photos". */
export const PHOTO_PATHS: readonly string[] = [
  '/usr/lib/python3/dist-packages/skimage/data/astronaut.png',
  '/usr/lib/python3/dist-packages/skimage/data/chelsea.png',
  '/usr/lib/python3/dist-packages/skimage/data/coffee.png',
  '/usr/lib/python3/dist-packages/skimage/data/motorcycle_left.png',
  '/usr/lib/python3/dist-packages/skimage/data/rocket.jpg',
  '/usr/share/doc/opencv-doc/examples/data/aloeL.jpg',
  '/usr/share/doc/opencv-doc/examples/data/apple.jpg',
  '/usr/share/doc/opencv-doc/examples/data/baboon.jpg',
  '/usr/share/doc/opencv-doc/examples/data/building.jpg',
  '/usr/share/doc/opencv-doc/examples/data/butterfly.jpg',
  '/usr/share/doc/opencv-doc/examples/data/fruits.jpg',
  '/usr/share/doc/opencv-doc/examples/data/home.jpg',
  '/usr/share/doc/opencv-doc/examples/data/leuvenA.jpg',
  '/usr/share/doc/opencv-doc/examples/data/messi5.jpg',
  '/usr/share/doc/opencv-doc/examples/data/orange.jpg',
  '/usr/share/doc/opencv-doc/examples/data/squirrel_cls.jpg',
  '/usr/share/doc/opencv-doc/examples/data/stuff.jpg',
  '/usr/share/doc/opencv-doc/examples/data/graf1.png',
  '/usr/share/doc/opencv-doc/examples/data/left.jpg',
  '/usr/share/doc/opencv-doc/examples/alphamat/input_images/plant.jpg',
  '/usr/share/plasma/look-and-feel/org.debian.desktop/contents/previews/fullscreenpreview.jpg',
  '/usr/share/desktop-base/joy-theme/login/sddm-preview.jpg',
];

export type EditKind = 'paste' | 'remove' | 'recolour' | 'move';
export const EDIT_KINDS: readonly EditKind[] = ['paste', 'remove', 'recolour', 'move'];

export interface EditPair {
  name: string;
  /** edited: mask expected; unedited: mask must be empty; different: alignment must fail. */
  kind: 'edited' | 'unedited' | 'different';
  edit?: EditKind;
  input: Buffer;
  output: Buffer;
  width: number;
  height: number;
  outWidth: number;
  outHeight: number;
  /** The edited region in input pixels (1 = edited), width*height; all zero for unedited pairs. */
  truth: Uint8Array;
  /** Where the input photo came from. */
  source: string;
}

/** Packed RGB pixels. */
interface Rgb {
  data: Uint8Array;
  width: number;
  height: number;
}

export interface EditPairOptions {
  /** Long side of the inputs in pixels (default 1024). */
  longSide?: number;
  edited?: number;
  unedited?: number;
  different?: number;
  seed?: number;
  /** Restrict the photos (default: every installed one of PHOTO_PATHS). */
  photos?: string[];
}

/** The photographs of PHOTO_PATHS installed on this machine. */
export function installedPhotos(): string[] {
  return PHOTO_PATHS.filter((p) => existsSync(p));
}

async function loadRgb(source: string, longSide: number): Promise<Rgb> {
  if (source.startsWith('synthetic:')) {
    const seed = Number(source.slice('synthetic:'.length));
    const w = longSide;
    const h = Math.round(longSide * 0.75);
    const px = await photoPixels({ seed, width: w, height: h });
    return { data: toRgb(px.data, w, h), width: w, height: h };
  }
  const { data, info } = await sharp(source)
    .rotate()
    .toColourspace('srgb')
    .removeAlpha()
    .resize(longSide, longSide, { fit: 'inside' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: toRgb(data, info.width, info.height, info.channels), width: info.width, height: info.height };
}

/** Drop or expand channels to packed RGB. */
function toRgb(data: Uint8Array, w: number, h: number, channels = data.length / (w * h)): Uint8Array {
  if (channels === 3) return new Uint8Array(data);
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = data[i * channels + (channels >= 3 ? c : 0)];
  }
  return out;
}

async function blurred(img: Rgb, sigma: number): Promise<Uint8Array> {
  const out = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .blur(sigma)
    .raw()
    .toBuffer();
  return new Uint8Array(out);
}

async function resized(img: Rgb, width: number, height: number): Promise<Rgb> {
  const out = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: 'fill' })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(out), width, height };
}

interface Ellipse {
  cx: number;
  cy: number;
  rx: number;
  ry: number;
}

function inEllipse(e: Ellipse, x: number, y: number): boolean {
  const dx = (x - e.cx) / e.rx;
  const dy = (y - e.cy) / e.ry;
  return dx * dx + dy * dy <= 1;
}

function randomEllipse(r: () => number, w: number, h: number): Ellipse {
  const m = Math.min(w, h);
  const rx = m * (0.07 + 0.11 * r());
  const ry = m * (0.07 + 0.11 * r());
  return { cx: rx + r() * (w - 2 * rx), cy: ry + r() * (h - 2 * ry), rx, ry };
}

/** Grey-level variance inside the ellipse: removing a flat patch changes nothing visible. */
function texture(img: Rgb, e: Ellipse): number {
  let n = 0;
  let s = 0;
  let s2 = 0;
  for (let y = Math.floor(e.cy - e.ry); y <= e.cy + e.ry; y += 2) {
    for (let x = Math.floor(e.cx - e.rx); x <= e.cx + e.rx; x += 2) {
      if (x < 0 || y < 0 || x >= img.width || y >= img.height || !inEllipse(e, x, y)) continue;
      const i = (y * img.width + x) * 3;
      const g = (img.data[i] + img.data[i + 1] + img.data[i + 2]) / 3;
      n++;
      s += g;
      s2 += g * g;
    }
  }
  return n ? s2 / n - (s / n) ** 2 : 0;
}

/** The most textured of a few random ellipses. */
function texturedEllipse(r: () => number, img: Rgb): Ellipse {
  let best = randomEllipse(r, img.width, img.height);
  let bestT = texture(img, best);
  for (let i = 0; i < 7; i++) {
    const e = randomEllipse(r, img.width, img.height);
    const t = texture(img, e);
    if (t > bestT) [best, bestT] = [e, t];
  }
  return best;
}

/** Calls fn(x, y, i) for every pixel of the ellipse inside the image and marks it in truth. */
function forEllipse(img: Rgb, e: Ellipse, truth: Uint8Array, fn: (x: number, y: number, i: number) => void): void {
  const y0 = Math.max(0, Math.floor(e.cy - e.ry));
  const y1 = Math.min(img.height - 1, Math.ceil(e.cy + e.ry));
  const x0 = Math.max(0, Math.floor(e.cx - e.rx));
  const x1 = Math.min(img.width - 1, Math.ceil(e.cx + e.rx));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      if (!inEllipse(e, x, y)) continue;
      const i = y * img.width + x;
      truth[i] = 1;
      fn(x, y, i);
    }
  }
}

/** Applies one edit in place; returns the true mask. */
async function applyEdit(kind: EditKind, img: Rgb, donor: Rgb, r: () => number): Promise<Uint8Array> {
  const truth = new Uint8Array(img.width * img.height);
  const d = img.data;
  if (kind === 'paste') {
    // An object from another photo, placed anywhere.
    const e = randomEllipse(r, img.width, img.height);
    const ox = Math.floor(r() * Math.max(1, donor.width - 2 * e.rx)) - (e.cx - e.rx);
    const oy = Math.floor(r() * Math.max(1, donor.height - 2 * e.ry)) - (e.cy - e.ry);
    forEllipse(img, e, truth, (x, y, i) => {
      const sx = Math.min(donor.width - 1, Math.max(0, Math.round(x + ox)));
      const sy = Math.min(donor.height - 1, Math.max(0, Math.round(y + oy)));
      const j = (sy * donor.width + sx) * 3;
      d.set(donor.data.subarray(j, j + 3), i * 3);
    });
  } else if (kind === 'remove') {
    // An object removed: the region replaced by a heavy blur of its surroundings.
    const e = texturedEllipse(r, img);
    const soft = await blurred(img, Math.max(8, e.rx / 2));
    forEllipse(img, e, truth, (_x, _y, i) => d.set(soft.subarray(i * 3, i * 3 + 3), i * 3));
  } else if (kind === 'recolour') {
    // Same shapes, another colour: luminance kept, chroma from a saturated tint.
    const e = randomEllipse(r, img.width, img.height);
    const hue = r() * Math.PI * 2;
    const tint = [0, 1, 2].map((k) => 0.6 + 0.6 * Math.cos(hue + (k * 2 * Math.PI) / 3));
    const tintLum = 0.299 * tint[0] + 0.587 * tint[1] + 0.114 * tint[2];
    forEllipse(img, e, truth, (_x, _y, i) => {
      const lum = 0.299 * d[i * 3] + 0.587 * d[i * 3 + 1] + 0.114 * d[i * 3 + 2];
      const l = 40 + lum * 0.8; // lift shadows so the tint shows
      for (let c = 0; c < 3; c++) d[i * 3 + c] = Math.min(255, Math.round((l * tint[c]) / tintLum));
    });
  } else {
    // An object moved: copied to a place that does not overlap, its old place blurred away.
    const src = texturedEllipse(r, img);
    let dst = randomEllipse(r, img.width, img.height);
    for (let k = 0; k < 20 && Math.hypot(dst.cx - src.cx, dst.cy - src.cy) < src.rx + src.ry + 4; k++) {
      dst = { ...randomEllipse(r, img.width, img.height), rx: src.rx, ry: src.ry };
    }
    dst = { ...dst, rx: Math.min(src.rx, dst.cx, img.width - dst.cx), ry: Math.min(src.ry, dst.cy, img.height - dst.cy) };
    const orig = new Uint8Array(d);
    const soft = await blurred(img, Math.max(8, src.rx / 2));
    forEllipse(img, src, truth, (_x, _y, i) => d.set(soft.subarray(i * 3, i * 3 + 3), i * 3));
    forEllipse(img, dst, truth, (x, y, i) => {
      const sx = Math.min(img.width - 1, Math.max(0, Math.round(x - dst.cx + src.cx)));
      const sy = Math.min(img.height - 1, Math.max(0, Math.round(y - dst.cy + src.cy)));
      const j = (sy * img.width + sx) * 3;
      d.set(orig.subarray(j, j + 3), i * 3);
    });
  }
  return truth;
}

export interface Reframe {
  zoom: number;
  /** Degrees. */
  rotation: number;
  /** Fractions of the width and height. */
  shiftX: number;
  shiftY: number;
  gain: [number, number, number];
  offset: number;
  outWidth: number;
  outHeight: number;
}

export function randomReframe(r: () => number, w: number, h: number): Reframe {
  const g = 0.92 + 0.16 * r();
  const other = r() < 0.35;
  // Editing models often return their own size: a square, or the input scaled.
  const scale = 0.75 + 0.5 * r();
  const outWidth = other ? (r() < 0.5 ? Math.round(Math.max(w, h) * scale) : Math.round(w * scale)) : w;
  const outHeight = other ? (r() < 0.5 ? outWidth : Math.round(h * scale)) : h;
  return {
    zoom: 1 + 0.06 * r(),
    rotation: (r() * 2 - 1) * 1,
    shiftX: (r() * 2 - 1) * 0.02,
    shiftY: (r() * 2 - 1) * 0.02,
    gain: [g * (0.97 + 0.06 * r()), g * (0.97 + 0.06 * r()), g * (0.97 + 0.06 * r())],
    offset: (r() * 2 - 1) * 8,
    outWidth,
    outHeight,
  };
}

/**
 * The output as a model returns it: the output frame stretched over the input frame, then zoomed,
 * rotated and shifted about the centre, toned, sampled bilinearly (edge pixels repeat past the border).
 */
export function reframe(img: Rgb, f: Reframe): Rgb {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(f.outWidth * f.outHeight * 3);
  const cos = Math.cos((f.rotation * Math.PI) / 180);
  const sin = Math.sin((f.rotation * Math.PI) / 180);
  const cx = w / 2;
  const cy = h / 2;
  const sx = w / f.outWidth;
  const sy = h / f.outHeight;
  for (let v = 0; v < f.outHeight; v++) {
    for (let u = 0; u < f.outWidth; u++) {
      // Output pixel centre in input-frame units, then undo shift, zoom, rotation.
      const x = (u + 0.5) * sx - cx - f.shiftX * w;
      const y = (v + 0.5) * sy - cy - f.shiftY * h;
      const px = (cos * x + sin * y) / f.zoom + cx - 0.5;
      const py = (-sin * x + cos * y) / f.zoom + cy - 0.5;
      const x0 = Math.floor(px);
      const y0 = Math.floor(py);
      const ax = px - x0;
      const ay = py - y0;
      const xa = Math.min(w - 1, Math.max(0, x0));
      const xb = Math.min(w - 1, Math.max(0, x0 + 1));
      const ya = Math.min(h - 1, Math.max(0, y0));
      const yb = Math.min(h - 1, Math.max(0, y0 + 1));
      const o = (v * f.outWidth + u) * 3;
      for (let c = 0; c < 3; c++) {
        const val =
          (1 - ay) * ((1 - ax) * data[(ya * w + xa) * 3 + c] + ax * data[(ya * w + xb) * 3 + c]) +
          ay * ((1 - ax) * data[(yb * w + xa) * 3 + c] + ax * data[(yb * w + xb) * 3 + c]);
        out[o + c] = Math.max(0, Math.min(255, Math.round(val * f.gain[c] + f.offset)));
      }
    }
  }
  return { data: out, width: f.outWidth, height: f.outHeight };
}

function jpeg(img: Rgb, quality: number): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).jpeg({ quality }).toBuffer();
}

/**
 * Builds the pairs, deterministic for a seed. Edited pairs cycle through the edit kinds and the
 * photos; different-photo pairs take two distinct photos.
 */
export async function makeEditPairs(options: EditPairOptions = {}): Promise<EditPair[]> {
  const longSide = options.longSide ?? 1024;
  const r = rng(options.seed ?? 12);
  let photos = options.photos ?? installedPhotos();
  if (photos.length < 2) photos = Array.from({ length: 6 }, (_, i) => `synthetic:${i + 1}`);
  const cache = new Map<string, Rgb>();
  const load = async (p: string): Promise<Rgb> => {
    let img = cache.get(p);
    if (!img) cache.set(p, (img = await loadRgb(p, longSide)));
    return { ...img, data: new Uint8Array(img.data) };
  };
  const pairs: EditPair[] = [];
  const finish = async (
    name: string,
    kind: EditPair['kind'],
    source: string,
    input: Rgb,
    outputBase: Rgb,
    truth: Uint8Array,
    edit?: EditKind,
  ): Promise<void> => {
    const f = randomReframe(r, outputBase.width, outputBase.height);
    const out = reframe(outputBase, f);
    pairs.push({
      name,
      kind,
      edit,
      input: await jpeg(input, 92),
      output: await jpeg(out, 90),
      width: input.width,
      height: input.height,
      outWidth: out.width,
      outHeight: out.height,
      truth,
      source,
    });
  };
  for (let i = 0; i < (options.edited ?? 0); i++) {
    const p = photos[i % photos.length];
    const kind = EDIT_KINDS[i % EDIT_KINDS.length];
    const input = await load(p);
    const edited = await load(p);
    const donorImg = await load(photos[(i + 1 + Math.floor(r() * (photos.length - 1))) % photos.length]);
    const donor = donorImg.width === input.width ? donorImg : await resized(donorImg, input.width, input.height);
    const truth = await applyEdit(kind, edited, donor, r);
    await finish(`edited-${i}-${kind}`, 'edited', p, input, edited, truth, kind);
  }
  for (let i = 0; i < (options.unedited ?? 0); i++) {
    const p = photos[(i * 3 + 1) % photos.length];
    const input = await load(p);
    await finish(`unedited-${i}`, 'unedited', p, input, input, new Uint8Array(input.width * input.height));
  }
  for (let i = 0; i < (options.different ?? 0); i++) {
    const a = photos[(i * 5 + 2) % photos.length];
    let b = photos[(i * 7 + 3) % photos.length];
    if (b === a) b = photos[(photos.indexOf(a) + 1) % photos.length];
    const input = await load(a);
    const other = await load(b);
    await finish(`different-${i}`, 'different', `${a} vs ${b}`, input, other, new Uint8Array(input.width * input.height));
  }
  return pairs;
}

/** Intersection over union of a 0/255 (or 0/1) mask and a 0/1 truth of the same size; 1 when both are empty. */
export function iou(mask: Uint8Array, truth: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < truth.length; i++) {
    const m = mask[i] > 0;
    const t = truth[i] > 0;
    if (m && t) inter++;
    if (m || t) union++;
  }
  return union === 0 ? 1 : inter / union;
}
