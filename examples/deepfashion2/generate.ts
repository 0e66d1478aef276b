/**
 * A small DeepFashion2 sample in the layout the dataset ships in (seed 001):
 *
 *   <root>/<split>/image/000001.jpg   photo-like JPEGs with a garment drawn in each item's box
 *   <root>/<split>/annos/000001.json  {"source": "shop"|"user", "pair_id": N,
 *                                      "item1": {category_id, category_name, style, bounding_box,
 *                                                occlusion, viewpoint, scale, zoom_in, landmarks,
 *                                                segmentation}, "item2": ...}
 *
 * Image ids and pair ids restart in every split, as in the release. Each pair has shop and user
 * photos; its garments cover every case the seed's rules decide on: a style > 0 garment seen by
 * both domains (a kept SKU), one seen only in shop photos in some pairs (dropped: no query), a
 * style 0 garment (never a SKU), several items per photo, and boxes touching the image border.
 * Deterministic: the same options write the same bytes.
 *
 *   node --import tsx examples/deepfashion2/generate.ts OUT_DIR
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { photoPixels } from '../../src/demo/synth.js';
import { rng } from '../../src/util/random.js';

/** DeepFashion2's thirteen categories, by category_id. */
export const DF2_CATEGORIES: Readonly<Record<number, string>> = {
  1: 'short sleeve top', 2: 'long sleeve top', 3: 'short sleeve outwear', 4: 'long sleeve outwear',
  5: 'vest', 6: 'sling', 7: 'shorts', 8: 'trousers', 9: 'skirt', 10: 'short sleeve dress',
  11: 'long sleeve dress', 12: 'vest dress', 13: 'sling dress',
};

export interface GenerateOptions {
  /** Pairs per split (default train 6, validation 3, test 2). */
  pairs?: Record<string, number>;
  /** Every photo gets exactly this many items (the benchmark); default 1 to 3 by the pair's plan. */
  itemsPerImage?: number;
  /** Photos per pair and domain when fixed (the benchmark); default 1 or 2 at random. */
  imagesPerDomain?: number;
  /** Smallest photo width and height (default 240 × 300; each photo adds up to 80 px). */
  imageSize?: [number, number];
  seed?: number;
}

interface Garment {
  category_id: number;
  style: number;
  /** Which domains' photos show it. */
  in: Array<'shop' | 'user'>;
  hue: number;
}

/** Write the sample under `root`; returns the number of images and items written. */
export async function generateDeepFashion2(root: string, options: GenerateOptions = {}): Promise<{ images: number; items: number }> {
  const pairs = options.pairs ?? { train: 6, validation: 3, test: 2 };
  let images = 0;
  let items = 0;
  for (const [s, [split, count]] of Object.entries(pairs).entries()) {
    const r = rng((options.seed ?? 1) * 1000 + s);
    await mkdir(join(root, split, 'image'), { recursive: true });
    await mkdir(join(root, split, 'annos'), { recursive: true });
    let imageNo = 0;
    for (let p = 1; p <= count; p++) {
      const garments = planGarments(p, r);
      for (const source of ['shop', 'user'] as const) {
        const n = options.imagesPerDomain ?? 1 + Math.floor(r() * 2);
        for (let k = 0; k < n; k++) {
          imageNo++;
          const shown = garments.filter((g) => g.in.includes(source));
          const list = options.itemsPerImage ? fill(shown, options.itemsPerImage, r) : shown;
          const [minW, minH] = options.imageSize ?? [240, 300];
          const width = minW + 16 * Math.floor(r() * 6);
          const height = minH + 16 * Math.floor(r() * 6);
          const anno = annotation(source, p, list, width, height, imageNo, r);
          const id = String(imageNo).padStart(6, '0');
          await writeFile(join(root, split, 'image', `${id}.jpg`), await drawPhoto(anno, width, height, imageNo * 7919 + s));
          await writeFile(join(root, split, 'annos', `${id}.json`), JSON.stringify(anno));
          images++;
          items += list.length;
        }
      }
    }
  }
  return { images, items };
}

/**
 * The garments of pair p: a style-1 SKU both domains show; a style-2 SKU that user photos show
 * only in two pairs out of three (else shop-only, which `--only_pairs` drops); a style-0 garment
 * (worn by the user, not sold: no SKU).
 */
function planGarments(p: number, r: () => number): Garment[] {
  const cat = () => 1 + Math.floor(r() * 13);
  const a = cat();
  let b = cat();
  if (b === a) b = (a % 13) + 1;
  return [
    { category_id: a, style: 1, in: ['shop', 'user'], hue: r() * 360 },
    { category_id: b, style: 2, in: p % 3 === 1 ? ['shop'] : ['shop', 'user'], hue: r() * 360 },
    { category_id: cat(), style: 0, in: ['user'], hue: r() * 360 },
  ];
}

/** Exactly n garments: the shown ones, then extra style-0 garments. */
function fill(shown: Garment[], n: number, r: () => number): Garment[] {
  const out = shown.slice(0, n);
  while (out.length < n) out.push({ category_id: 1 + Math.floor(r() * 13), style: 0, in: ['shop', 'user'], hue: r() * 360 });
  return out;
}

type Anno = Record<string, unknown> & { source: string; pair_id: number };

function annotation(source: 'shop' | 'user', pairId: number, garments: Garment[], w: number, h: number, imageNo: number, r: () => number): Anno {
  const anno: Anno = { source, pair_id: pairId };
  garments.forEach((g, i) => {
    const bw = Math.round(w * (0.3 + r() * 0.4));
    const bh = Math.round(h * (0.25 + r() * 0.4));
    let x1 = Math.floor(r() * (w - bw));
    let y1 = Math.floor(r() * (h - bh));
    // Every third photo has its first item cut by the frame: the box touches the border.
    if (i === 0 && imageNo % 3 === 0) {
      if (imageNo % 2 === 0) x1 = 0;
      else y1 = h - bh;
    }
    const box = [x1, y1, x1 + bw, y1 + bh];
    anno[`item${i + 1}`] = {
      segmentation: [[x1 + 4, y1 + 2, x1 + bw - 4, y1 + 2, x1 + bw - 2, y1 + bh - 2, x1 + 2, y1 + bh - 2]],
      scale: 1 + Math.floor(r() * 3),
      viewpoint: source === 'shop' && r() < 0.4 ? 1 : 2 + Math.floor(r() * 2),
      zoom_in: 1 + Math.floor(r() * 3),
      landmarks: [x1 + bw / 2, y1 + 2, 2, x1 + 3, y1 + bh / 3, 2, x1 + bw - 3, y1 + bh / 3, 1].map(Math.round),
      style: g.style,
      bounding_box: box,
      category_id: g.category_id,
      occlusion: 1 + Math.floor(r() * 3),
      category_name: DF2_CATEGORIES[g.category_id],
    };
  });
  // The garments' colours are for the drawing only, not part of the annotation.
  drawHues.set(anno, garments.map((g) => g.hue));
  return anno;
}

const drawHues = new WeakMap<Anno, number[]>();

/** A photo-like scene with each item's garment drawn in its box. */
async function drawPhoto(anno: Anno, w: number, h: number, seed: number): Promise<Buffer> {
  const { data } = await photoPixels({ seed, width: w, height: h, noise: 0.25 });
  const hues = drawHues.get(anno) ?? [];
  const shapes = hues.map((hue, i) => {
    const [x1, y1, x2, y2] = (anno[`item${i + 1}`] as { bounding_box: number[] }).bounding_box;
    const bw = x2 - x1;
    const bh = y2 - y1;
    return `<g><path d="M${x1 + bw * 0.2},${y1} L${x1 + bw * 0.8},${y1} L${x2},${y1 + bh * 0.3} L${x1 + bw * 0.85},${y1 + bh * 0.35} L${x1 + bw * 0.85},${y2} L${x1 + bw * 0.15},${y2} L${x1 + bw * 0.15},${y1 + bh * 0.35} L${x1},${y1 + bh * 0.3} Z" fill="hsl(${hue.toFixed(0)},55%,45%)" opacity="0.9"/>` +
      `<path d="M${x1 + bw * 0.4},${y1} Q${x1 + bw * 0.5},${y1 + bh * 0.12} ${x1 + bw * 0.6},${y1}" stroke="hsl(${hue.toFixed(0)},40%,20%)" stroke-width="3" fill="none"/></g>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${shapes.join('')}</svg>`;
  return sharp(data, { raw: { width: w, height: h, channels: 3 } })
    .composite([{ input: Buffer.from(svg) }])
    .jpeg({ quality: 90 })
    .toBuffer();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node --import tsx examples/deepfashion2/generate.ts OUT_DIR');
    process.exit(2);
  }
  const { images, items } = await generateDeepFashion2(resolve(out));
  console.log(`wrote ${images} images with ${items} items under ${resolve(out)}`);
}
