/**
 * A small pico-banana-400k sample in the real layout (seed 000), deterministic:
 *
 *   OUT_DIR/sft.jsonl                               the manifest, one edit per line
 *   OUT_DIR/cdn/images/positive-edit/<n>.png        edited outputs (output_image is relative to the CDN prefix)
 *   OUT_DIR/cdn/openimages/<id>.jpg                 inputs (open_image_input_url is an absolute URL)
 *
 * Each manifest line: {"open_image_input_url", "text", "output_image", "edit_type", "summarized_text"}.
 * Outputs imitate an editing model: the input with one region edited (an object added, removed,
 * recoloured, moved, resized), re-framed (a few percent of zoom and shift) and saved as PNG. Planted:
 * edit types outside the seed's six, input URLs that 404, and one output of an unrelated photo
 * (alignment must reject it).
 *
 *   node --import tsx examples/pico-banana/generate.ts OUT_DIR [BASE_URL]
 *
 * BASE_URL (default http://127.0.0.1:8000) is where OUT_DIR/cdn will be served (serve.ts); input
 * URLs are written under it, and it is the PB_CDN of the recipe.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { photoPixels, rng } from '../../src/demo/synth.js';

/** The seed's six edit types (config.yaml's list). */
export const SEED_EDIT_TYPES = [
  'Add a new object to the scene',
  'Remove an existing object',
  'Replace one object category with another',
  "Change an object's attribute (e.g., color/material)",
  'Relocate an object (change its position/spatial relation)',
  'Change the size/shape/orientation of an object',
] as const;

/** Edit types of the full dataset that the seed leaves out. */
export const OTHER_EDIT_TYPES = [
  'Strong artistic style transfer (e.g., Van Gogh/anime/etc.)',
  'Change weather conditions (sunny/rainy/snowy)',
  'Add film grain or vintage filter',
] as const;

const INSTRUCTIONS: Record<string, [string, string]> = {
  [SEED_EDIT_TYPES[0]]: ['Add a bright red beach ball resting on the ground near the centre of the picture.', 'Add a red ball.'],
  [SEED_EDIT_TYPES[1]]: ['Remove the object in the middle of the scene and fill the area with the surrounding background.', 'Remove the central object.'],
  [SEED_EDIT_TYPES[2]]: ['Replace the object in the foreground with a blue wooden crate of the same size.', 'Replace the object with a crate.'],
  [SEED_EDIT_TYPES[3]]: ['Change the colour of the main object to a deep green, keeping its texture.', 'Make the object green.'],
  [SEED_EDIT_TYPES[4]]: ['Move the object from the left side of the image to the right side.', 'Move the object right.'],
  [SEED_EDIT_TYPES[5]]: ['Make the object in the scene noticeably larger while keeping its position.', 'Enlarge the object.'],
  [OTHER_EDIT_TYPES[0]]: ['Repaint the whole picture in the style of Van Gogh with thick swirling brush strokes.', 'Van Gogh style.'],
  [OTHER_EDIT_TYPES[1]]: ['Make it look like a rainy day with grey skies and wet ground.', 'Make it rainy.'],
  [OTHER_EDIT_TYPES[2]]: ['Add a warm vintage film look with visible grain.', 'Vintage film look.'],
};

export interface ManifestLine {
  open_image_input_url: string;
  text: string;
  output_image: string;
  edit_type: string;
  summarized_text: string;
}

/** What the generator planted, for tests to check against. */
export interface Planted {
  lines: ManifestLine[];
  /** output_image of lines whose input URL is not served. */
  brokenInputs: string[];
  /** output_image of the line whose output is an unrelated photo. */
  unrelated: string[];
}

const W = 640;
const H = 480;

export interface GenerateOptions {
  /** Edits of the seed's six types (default 36). */
  edits?: number;
  /** Lines of other edit types (default 6). */
  others?: number;
  /** Of the seed-type edits, how many have an input URL that 404s (default 2). */
  broken?: number;
}

export async function generate(outDir: string, baseUrl = 'http://127.0.0.1:8000', o: GenerateOptions = {}): Promise<Planted> {
  const edits = o.edits ?? 36;
  const others = o.others ?? 6;
  const broken = o.broken ?? 2;
  const base = baseUrl.replace(/\/+$/, '');
  await mkdir(join(outDir, 'cdn/images/positive-edit'), { recursive: true });
  await mkdir(join(outDir, 'cdn/openimages'), { recursive: true });
  const lines: ManifestLine[] = [];
  const planted: Planted = { lines, brokenInputs: [], unrelated: [] };
  const total = edits + others;
  // Lines 3, 10, 17, ... of the seed's types get an input URL that is not served.
  const brokenAt = new Set(Array.from({ length: broken }, (_, i) => 3 + i * 7).filter((n) => n < edits - 1));
  for (let n = 1; n <= total; n++) {
    const r = rng(1000 + n);
    const seedType = n <= edits;
    // Other types are spread through the file, as in the real manifest.
    const editType = seedType ? SEED_EDIT_TYPES[(n - 1) % SEED_EDIT_TYPES.length] : OTHER_EDIT_TYPES[(n - edits - 1) % OTHER_EDIT_TYPES.length];
    const inputId = hex(r, 16);
    const outputImage = `images/positive-edit/${n}.png`;
    const isBroken = brokenAt.has(n);
    const isUnrelated = seedType && n === edits - 1;
    const [text, summary] = INSTRUCTIONS[editType];
    lines.push({
      open_image_input_url: `${base}/openimages/${inputId}${isBroken ? '_missing' : ''}.jpg`,
      text,
      output_image: outputImage,
      edit_type: editType,
      summarized_text: summary,
    });
    if (isBroken) planted.brokenInputs.push(outputImage);
    if (isUnrelated) planted.unrelated.push(outputImage);
    const input = await photoPixels({ seed: 5000 + n, width: W, height: H });
    await writeFile(join(outDir, 'cdn/openimages', `${inputId}.jpg`), await rgbSharp(input.data).jpeg({ quality: 90 }).toBuffer());
    const edited = isUnrelated ? (await photoPixels({ seed: 90_000 + n, width: W, height: H })).data : editRegion(input.data, r);
    await writeFile(join(outDir, 'cdn', outputImage), await reframe(edited, r));
  }
  // Stable key order, one object per line, as the real sft.jsonl.
  await writeFile(join(outDir, 'sft.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return planted;
}

function rgbSharp(data: Buffer, w = W, h = H) {
  return sharp(data, { raw: { width: w, height: h, channels: 3 } });
}

function hex(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(r() * 16).toString(16);
  return s;
}

/** The input with one elliptical region changed: a new colour with the old texture kept (an added or recoloured object). */
function editRegion(src: Buffer, r: () => number): Buffer {
  const out = Buffer.from(src);
  const rx = W * (0.08 + r() * 0.07);
  const ry = H * (0.08 + r() * 0.07);
  const cx = W * (0.3 + r() * 0.4);
  const cy = H * (0.3 + r() * 0.4);
  const tint = [r() * 255, r() * 255, r() * 255];
  for (let y = Math.floor(cy - ry); y <= Math.ceil(cy + ry); y++) {
    for (let x = Math.floor(cx - rx); x <= Math.ceil(cx + rx); x++) {
      if (x < 0 || y < 0 || x >= W || y >= H) continue;
      if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 > 1) continue;
      const i = (y * W + x) * 3;
      const luma = (src[i] + src[i + 1] + src[i + 2]) / 3;
      for (let c = 0; c < 3; c++) out[i + c] = Math.max(0, Math.min(255, tint[c] * 0.7 + (luma - 128) * 0.6 + 40));
    }
  }
  return out;
}

/** What an editing model's output frame looks like: zoomed in 2-5 %, shifted, back at full size, as PNG. */
async function reframe(data: Buffer, r: () => number): Promise<Buffer> {
  const zoom = 1.02 + r() * 0.03;
  const cw = Math.round(W / zoom);
  const ch = Math.round(H / zoom);
  const left = Math.floor(r() * (W - cw));
  const top = Math.floor(r() * (H - ch));
  return rgbSharp(data).extract({ left, top, width: cw, height: ch }).resize(W, H).png().toBuffer();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [out, baseUrl] = process.argv.slice(2);
  if (!out) {
    console.error('usage: node --import tsx examples/pico-banana/generate.ts OUT_DIR [BASE_URL]');
    process.exit(2);
  }
  const p = await generate(out, baseUrl);
  console.log(`wrote ${p.lines.length} manifest lines to ${join(out, 'sft.jsonl')} and images under ${join(out, 'cdn')}`);
  console.log(`planted: ${p.brokenInputs.length} broken input URLs, ${p.unrelated.length} unrelated output(s), ${p.lines.filter((l) => !(SEED_EDIT_TYPES as readonly string[]).includes(l.edit_type)).length} lines of other edit types`);
}
