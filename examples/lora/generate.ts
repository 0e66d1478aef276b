/**
 * A small LoRA training collection as a photographer hands it over (seed 003): a folder of subject
 * photos in mixed formats and aspects with caption files beside most of them (`.txt`, some
 * `.caption`), and a folder of regularization photos of the class. Planted problems: too small,
 * dark, blurry, corrupt, exact and near duplicates, EXIF-rotated, a caption over 75 tokens, a
 * caption that is not UTF-8, two images sharing one caption, images without a caption.
 *
 *   node --import tsx examples/lora/generate.ts OUT_DIR
 *
 * Writes OUT_DIR/subject/*, OUT_DIR/reg/* and OUT_DIR/planted.json (what each file is, for tests).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { describeScene, photoPixels, type SceneKind } from '../../src/demo/synth.js';

export type Problem = 'too_small' | 'dark' | 'blurry' | 'corrupt' | 'duplicate' | 'near_duplicate';

export interface PlantedFile {
  /** Path relative to OUT_DIR. */
  path: string;
  folder: 'subject' | 'reg';
  format: 'jpg' | 'png' | 'webp';
  /** Upright size (after EXIF orientation). */
  width: number;
  height: number;
  /** Set when the stored pixels are rotated and EXIF orientation 6 turns them upright. */
  exif_rotated: boolean;
  problem: Problem | null;
  /** Copy of which file (for duplicates). */
  copy_of?: string;
  /** The caption file written beside it, and its text as raw bytes in latin1 for the non-UTF-8 one. */
  caption_file: string | null;
  caption: string | null;
  caption_problem: 'too_long' | 'not_utf8' | 'shared' | null;
}

// No snow: its white fields are overexposed by the seed's histogram rule, which is right but not the point here.
const KINDS: SceneKind[] = ['beach', 'forest', 'city'];
/** Upright sizes cycling through portrait, landscape and square, all at least 512 on the short side. */
const SIZES: Array<[number, number]> = [[576, 768], [768, 576], [640, 640], [512, 768], [768, 512], [704, 704]];
const POSES = ['sitting at a desk', 'standing by a window', 'walking outdoors', 'looking at the camera', 'reading a book'];
const LIGHT = ['soft daylight', 'golden hour light', 'overcast light', 'studio lighting'];

async function encode(raw: { data: Buffer; width: number; height: number }, format: PlantedFile['format'], rotate: boolean): Promise<Buffer> {
  let img = sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: 3 } });
  // Stored turned 90° anticlockwise; EXIF orientation 6 tells viewers to turn it clockwise back.
  if (rotate) img = sharp(await img.rotate(-90).png().toBuffer()).withMetadata({ orientation: 6 });
  if (format === 'jpg') return img.jpeg({ quality: 90 }).toBuffer();
  if (format === 'webp') return img.webp({ quality: 90 }).toBuffer();
  return img.png().toBuffer();
}

function subjectCaption(i: number, kind: SceneKind, details: string[]): string {
  return [`man with brown hair`, POSES[i % POSES.length], `${kind} background`, ...details.slice(0, 2), LIGHT[i % LIGHT.length], 'photorealistic'].join(', ');
}

export async function generate(out: string): Promise<PlantedFile[]> {

  await mkdir(join(out, 'subject'), { recursive: true });
  await mkdir(join(out, 'reg'), { recursive: true });
  const files: PlantedFile[] = [];
  const bytesOf = new Map<string, Buffer>();

  const formats: PlantedFile['format'][] = ['jpg', 'png', 'webp'];
  const N = 34;
  for (let i = 0; i < N; i++) {
    const kind = KINDS[i % KINDS.length];
    // Aspect classes in turn (portrait, landscape, square), shifted every third image so they do not follow the format.
    let [w, h] = SIZES[((i + Math.floor(i / 3)) % 3) + 3 * (Math.floor(i / 9) % 2)];
    let problem: Problem | null = null;
    if (i === N - 1) [w, h] = [768, 576]; // keeps the kept images' aspect shares inside the seed's bands
    if (i === 5 || i === 17) { problem = 'too_small'; [w, h] = i === 5 ? [384, 288] : [320, 448]; }
    if (i === 8 || i === 21) problem = 'dark';
    if (i === 11 || i === 25) problem = 'blurry';
    const rotate = i === 3 || i === 14;
    const format = formats[i % 3];
    const seed = 1000 + i;
    let raw = await photoPixels({ seed, width: w, height: h, kind });
    if (problem === 'dark') {
      const { data, info } = await sharp(raw.data, { raw: { width: w, height: h, channels: 3 } }).linear(0.12, 0).raw().toBuffer({ resolveWithObject: true });
      raw = { data, width: info.width, height: info.height };
    }
    if (problem === 'blurry') {
      const { data, info } = await sharp(raw.data, { raw: { width: w, height: h, channels: 3 } }).blur(12).raw().toBuffer({ resolveWithObject: true });
      raw = { data, width: info.width, height: info.height };
    }
    const name = `subject/photo_${String(i + 1).padStart(3, '0')}.${format}`;
    const bytes = await encode(raw, format, rotate);
    await writeFile(join(out, name), bytes);
    bytesOf.set(name, bytes);

    const details = describeScene({ seed, width: w, height: h, kind }).details;
    let caption: string | null = subjectCaption(i, kind, details);
    let captionFile: string | null = name.replace(/\.[a-z]+$/, i % 6 === 4 ? '.caption' : '.txt');
    let captionProblem: PlantedFile['caption_problem'] = null;
    let captionBytes: Buffer | null = null;
    if (i === 9 || i === 27) { caption = null; captionFile = null; }
    if (i === 12) {
      caption = `${caption}, ${Array.from({ length: 30 }, (_, k) => `detail number ${k + 1}`).join(', ')}`;
      captionProblem = 'too_long';
    }
    if (i === 15) {
      caption = 'man with brown hair, café terrace, ' + LIGHT[0];
      captionBytes = Buffer.from(caption, 'latin1'); // é as one byte 0xE9: not UTF-8
      captionProblem = 'not_utf8';
    }
    if (i === 19 || i === 23) { caption = 'man with brown hair, portrait, plain background'; captionProblem = 'shared'; }
    if (captionFile) await writeFile(join(out, captionFile), captionBytes ?? `${caption}\n`);
    files.push({ path: name, folder: 'subject', format, width: w, height: h, exif_rotated: rotate, problem, caption_file: captionFile, caption, caption_problem: captionProblem });
  }

  // Copies: an exact byte copy and a smaller re-encode of two good photos, with captions of their own.
  for (const [src, kindOf] of [['subject/photo_001.jpg', 'duplicate'], ['subject/photo_003.webp', 'near_duplicate']] as const) {
    const orig = files.find((f) => f.path === src)!;
    const name = `subject/copy_of_${src.slice(8).replace('.', '_')}.jpg`;
    const bytes = kindOf === 'duplicate' && orig.format === 'jpg'
      ? bytesOf.get(src)!
      : await sharp(bytesOf.get(src)!).resize(Math.round(orig.width * 0.9)).jpeg({ quality: 85 }).toBuffer();
    await writeFile(join(out, name), bytes);
    const caption = orig.caption!; // the photographer copied the caption file along with the photo
    await writeFile(join(out, name.replace(/\.jpg$/, '.txt')), caption + '\n');
    const size = await sharp(bytes).metadata();
    files.push({ path: name, folder: 'subject', format: 'jpg', width: size.width!, height: size.height!, exif_rotated: false, problem: kindOf, copy_of: src, caption_file: name.replace(/\.jpg$/, '.txt'), caption, caption_problem: null });
  }

  // A corrupt file: a JPEG cut off half way.
  {
    const raw = await photoPixels({ seed: 2999, width: 640, height: 640, kind: 'city' });
    const full = await encode(raw, 'jpg', false);
    const name = 'subject/photo_broken.jpg';
    await writeFile(join(out, name), full.subarray(0, Math.floor(full.length / 2)));
    files.push({ path: name, folder: 'subject', format: 'jpg', width: 640, height: 640, exif_rotated: false, problem: 'corrupt', caption_file: null, caption: null, caption_problem: null });
  }

  // Regularization images: other scenes of the class, captions without the trigger.
  for (let i = 0; i < 6; i++) {
    const [w, h] = SIZES[(i * 3) % SIZES.length];
    const kind = KINDS[(i + 1) % KINDS.length];
    const seed = 5000 + i;
    const raw = await photoPixels({ seed, width: w, height: h, kind });
    const name = `reg/person_${String(i + 1).padStart(3, '0')}.jpg`;
    await writeFile(join(out, name), await encode(raw, 'jpg', false));
    const caption = `photo of a person, ${kind} background, ${describeScene({ seed, width: w, height: h, kind }).details[0] ?? 'outdoors'}`;
    await writeFile(join(out, name.replace('.jpg', '.txt')), caption + '\n');
    files.push({ path: name, folder: 'reg', format: 'jpg', width: w, height: h, exif_rotated: false, problem: null, caption_file: name.replace('.jpg', '.txt'), caption, caption_problem: null });
  }


  await writeFile(join(out, 'planted.json'), JSON.stringify(files, null, 2) + '\n');
  return files;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node --import tsx examples/lora/generate.ts OUT_DIR');
    process.exit(2);
  }
  const files = await generate(out);
  console.log(`wrote ${files.length} images (${files.filter((f) => f.folder === 'reg').length} regularization) to ${out}`);
}
