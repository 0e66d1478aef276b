import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from '../image/sharp.js';
import type { Sharp } from 'sharp';
import { SCENE_KINDS, describeScene, photoPixels, rng, type PhotoOptions, type SceneInfo, type SceneKind } from './synth.js';

/**
 * The demo's sample dataset: a Hugging Face imagefolder (train/ and test/, each with class folders
 * and a metadata.jsonl) of photo-like scenes in five classes, with planted problems that a build
 * should find. Everything planted is listed in the returned DemoTruth and in `truth.json`, so the
 * demo (and tests) can check what the pipeline found against what is really there.
 */

export const DEMO_TRUTH_FILE = 'truth.json';
export const METADATA_FILE = 'metadata.jsonl';
export const DEMO_SPLITS = ['train', 'test'] as const;
export type DemoSplit = (typeof DEMO_SPLITS)[number];

/** One line of a split's metadata.jsonl; `file_name` is relative to the split folder. */
export interface MetadataRow {
  file_name: string;
  text: string;
  label: SceneKind;
}

/** Files that cannot be decoded (fully). */
export type BrokenProblem = 'corrupt' | 'truncated' | 'empty' | 'not_an_image';
/** Files that decode but are not the plain 8-bit sRGB still image their name promises. */
export type FormatProblem = 'wrong_extension' | 'cmyk' | 'sixteen_bit' | 'animated' | 'exif_rotated';
/** How a near-duplicate copy differs from its original. */
export type NearTransform =
  | 'resized' | 'recompressed' | 'brightened' | 'blurred' | 'greyscale'
  | 'watermarked' | 'letterboxed' | 'cropped' | 'rotated' | 'mirrored';
/** Quality issues, named as cleanvision names them (`odd_size` is the tiny images). */
export type QualityIssue = 'odd_size' | 'odd_aspect_ratio' | 'dark' | 'light' | 'blurry' | 'low_information' | 'grayscale';

/** All paths in the truth are relative to the dataset directory, e.g. `train/beach/beach_0042.jpg`. */
export interface DuplicateGroup {
  original: string;
  copies: { file: string; transform: NearTransform | 'copy' }[];
}

export interface DemoTruth {
  seed: number;
  /** Number of image files written (train + test). */
  count: number;
  labels: readonly SceneKind[];
  splits: Record<DemoSplit, number>;
  /** Ordinary photos with no planted problem (originals of duplicate groups included). */
  clean: string[];
  broken: { file: string; problem: BrokenProblem }[];
  formats: { file: string; problem: FormatProblem; detail: string }[];
  exactDuplicates: DuplicateGroup[];
  /** Each group's original is distinct; every copy lives in the original's split. */
  nearDuplicates: DuplicateGroup[];
  /** The same picture in train and in test. */
  leaks: { train: string; test: string; kind: 'exact' | 'near'; transform: NearTransform | 'copy' }[];
  quality: { file: string; issue: QualityIssue; width: number; height: number }[];
  /** Photos of class `actual` filed and labelled as `label`. */
  mislabeled: { file: string; label: SceneKind; actual: SceneKind }[];
  /**
   * Caption duplicates: every group of identical captions (`exact`, complete), and the planted
   * near-identical pairs (`near`; template captions may also be close by chance).
   */
  captionDuplicates: { files: string[]; kind: 'exact' | 'near' }[];
}

export interface DemoOptions {
  seed?: number;
  /** Approximate number of image files; planted problems are always all present (default 300). */
  count?: number;
}

type Pixels = { data: Buffer; width: number; height: number };
type Rand = () => number;

/** A file derived from a generated photo; gets the photo's pixels and its first output's bytes. */
interface Output {
  file: string;
  make: (px: Pixels, main: Buffer | undefined) => Promise<Buffer>;
}
/** Work for one generated photo: render once, write every file derived from it. */
interface PhotoJob {
  photo: PhotoOptions;
  outputs: Output[];
}
interface BytesJob {
  file: string;
  bytes: Buffer;
}

const MIN_CLEAN = 28; // enough distinct train originals for every duplicate group, leak and mislabel
const TEST_SHARE = 0.15;
const ASPECTS = [4 / 3, 3 / 2, 16 / 9, 1, 5 / 4];

const raw = (px: Pixels): Sharp => sharp(px.data, { raw: { width: px.width, height: px.height, channels: 3 } });
const jpeg = (s: Sharp, quality = 88) => s.jpeg({ quality }).toBuffer();

/** The ten near-duplicate transforms; each keeps the scene recognisable but changes the bytes. */
const NEAR: Record<NearTransform, (px: Pixels) => Promise<Buffer>> = {
  resized: (px) => jpeg(raw(px).resize(Math.round(px.width * 0.55))),
  recompressed: (px) => jpeg(raw(px), 22),
  brightened: (px) => jpeg(raw(px).linear(1.12, 22)),
  blurred: (px) => jpeg(raw(px).blur(1.3)),
  greyscale: (px) => jpeg(raw(px).greyscale()),
  watermarked: (px) => jpeg(raw(px).composite([{ input: watermarkSvg(px.width, px.height), top: 0, left: 0 }])),
  letterboxed: (px) => {
    const pad = Math.round(px.height * 0.08);
    return jpeg(raw(px).extend({ top: pad, bottom: pad, background: '#000' }));
  },
  cropped: (px) => {
    const dx = Math.round(px.width * 0.05), dy = Math.round(px.height * 0.05);
    return jpeg(raw(px).extract({ left: Math.round(dx * 0.6), top: Math.round(dy * 0.4), width: px.width - dx, height: px.height - dy }));
  },
  rotated: async (px) => {
    // Rotate and keep the original frame, as a tilted rescan: small black wedges in the corners.
    const { data, info } = await raw(px).rotate(3, { background: '#000' }).raw().toBuffer({ resolveWithObject: true });
    const { width, height } = px;
    return jpeg(sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
      .extract({ left: Math.round((info.width - width) / 2), top: Math.round((info.height - height) / 2), width, height }));
  },
  mirrored: (px) => jpeg(raw(px).flop()),
};

/** A stock-photo style watermark: a translucent logo and text across the lower right. */
function watermarkSvg(w: number, h: number): Buffer {
  const s = Math.min(w, h);
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">
    <circle cx="${w - s * 0.16}" cy="${h - s * 0.16}" r="${s * 0.1}" fill="none" stroke="#fff" stroke-width="${s * 0.02}" opacity="0.7"/>
    <rect x="${w * 0.08}" y="${h * 0.42}" width="${w * 0.84}" height="${h * 0.16}" fill="#fff" opacity="0.15"/>
    <text x="${w / 2}" y="${h * 0.53}" font-family="sans-serif" font-weight="bold" font-size="${s * 0.1}" fill="#fff" opacity="0.75" text-anchor="middle">© STOCKPHOTO</text>
  </svg>`);
}

const KIND_PHRASES: Record<SceneKind, string[]> = {
  beach: ['a beach', 'the seaside', 'a sunny beach', 'the coast'],
  forest: ['a forest', 'the woods', 'a green forest', 'woodland'],
  night: ['a night scene', 'the night sky', 'a landscape at night', 'a quiet night'],
  city: ['a city street', 'downtown', 'an urban scene', 'city buildings'],
  snow: ['a snowy landscape', 'a winter scene', 'snowy hills', 'a frozen valley'],
};
const OPENERS = ['A photo of', 'A picture of', 'An image of', 'A view of', 'A shot of', 'A wide photo of'];
const CLOSERS: Record<SceneKind, string[]> = {
  beach: ['on a summer afternoon', 'in the morning', 'on a hot day', 'during the holidays'],
  forest: ['after the rain', 'in late spring', 'on a calm morning', 'in summer'],
  night: ['on a clear night', 'at midnight', 'late in the evening', 'in winter'],
  city: ['at rush hour', 'on a weekday', 'on a Sunday morning', 'in the afternoon'],
  snow: ['after a snowfall', 'in January', 'on a cold morning', 'on a quiet day'],
};

/** A short caption from what the scene shows, phrased by a seeded template. */
function caption(info: SceneInfo, r: Rand): string {
  const kind = info.kind === 'generic' ? 'beach' : info.kind;
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const details = shuffle(info.details.filter(() => r() < 0.75), r).slice(0, 3);
  const list = details.length <= 1 ? details.join('') : `${details.slice(0, -1).join(', ')} and ${details[details.length - 1]}`;
  const head = `${pick(OPENERS)} ${pick(KIND_PHRASES[kind])}${r() < 0.5 ? ` ${pick(CLOSERS[kind])}` : ''}`;
  return list ? `${head} with ${list}.` : `${head}.`;
}

/** A near-identical rewrite of a caption: the kind of edit that text dedup must still catch. */
function nearCaption(text: string, r: Rand): string {
  const edits = [
    (t: string) => t.replace(/\.$/, ''),
    (t: string) => t.replace(/^A (photo|picture|shot|view|image) of/, 'Photo of'),
    (t: string) => t.replace(/\.$/, ', taken last summer.'),
    (t: string) => t.toLowerCase(),
    (t: string) => t.replace(/ and /, ' & '),
  ];
  const out = edits[Math.floor(r() * edits.length)](text);
  return out === text ? `${text.replace(/\.$/, '')}!` : out;
}

/** Hands out unique, shuffled file numbers, so copies do not sit next to their originals. */
function nameBook(r: Rand) {
  const ids = Array.from({ length: 9999 }, (_, i) => i + 1);
  shuffle(ids, r);
  let next = 0;
  return (split: DemoSplit, label: SceneKind, ext = 'jpg') =>
    `${split}/${label}/${label}_${String(ids[next++]).padStart(4, '0')}.${ext}`;
}

function shuffle<T>(xs: T[], r: Rand): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** Long side 320–800 px in a common aspect ratio, mostly landscape. */
function photoSize(r: Rand): { width: number; height: number } {
  const long = 320 + Math.floor(r() * 481);
  const short = Math.round(long / ASPECTS[Math.floor(r() * ASPECTS.length)]);
  return r() < 0.75 ? { width: long, height: short } : { width: short, height: long };
}

/** The whole dataset as a list of jobs plus its truth; pure and deterministic in the seed. */
export function planDemoDataset(seed: number, count: number): { photos: PhotoJob[]; bytes: BytesJob[]; truth: DemoTruth; rows: Map<string, MetadataRow> } {
  const r = rng(seed);
  const name = nameBook(r);
  const nextSeed = () => Math.floor(r() * 0x7fffffff);
  const kindOf = () => SCENE_KINDS[Math.floor(r() * SCENE_KINDS.length)];
  const photos: PhotoJob[] = [];
  const bytes: BytesJob[] = [];
  const rows = new Map<string, MetadataRow>();
  const truth: DemoTruth = {
    seed, count: 0, labels: SCENE_KINDS, splits: { train: 0, test: 0 }, clean: [], broken: [], formats: [],
    exactDuplicates: [], nearDuplicates: [], leaks: [], quality: [], mislabeled: [], captionDuplicates: [],
  };
  const addRow = (file: string, label: SceneKind, info: SceneInfo) => rows.set(file, { file_name: '', text: caption(info, r), label });

  // Planted files: 4 broken + 5 formats + 4 exact copies + 10 near copies + 2 leaks + 8 quality.
  const PLANTED = 33;
  const nClean = Math.max(MIN_CLEAN, count - PLANTED);
  const nTest = Math.max(3, Math.round(nClean * TEST_SHARE));
  const testSet = new Set(shuffle(Array.from({ length: nClean }, (_, i) => i), r).slice(0, nTest));

  // Clean photos, classes in rotation so they stay balanced; a few are PNG, as scraped sets are.
  const clean: { job: PhotoJob; file: string; split: DemoSplit; kind: SceneKind; info: SceneInfo }[] = [];
  for (let i = 0; i < nClean; i++) {
    const kind = SCENE_KINDS[i % SCENE_KINDS.length];
    const split: DemoSplit = testSet.has(i) ? 'test' : 'train';
    const png = r() < 0.08;
    const quality = 80 + Math.floor(r() * 16);
    const opts: PhotoOptions = { seed: nextSeed(), kind, ...photoSize(r) };
    const file = name(split, kind, png ? 'png' : 'jpg');
    const job: PhotoJob = { photo: opts, outputs: [{ file, make: (px) => (png ? raw(px).png().toBuffer() : jpeg(raw(px), quality)) }] };
    photos.push(job);
    const info = describeScene(opts);
    addRow(file, kind, info);
    clean.push({ job, file, split, kind, info });
  }

  // Originals for copies, leaks and mislabels: distinct train photos, in a seeded order.
  const pool = shuffle(clean.filter((c) => c.split === 'train'), r);
  /** The next original, of `kind` if one is left. */
  const take = (kind?: SceneKind) => {
    if (pool.length === 0) throw new Error('demo plan: not enough train photos for the planted problems');
    const at = pool.findLastIndex((c) => c.kind === kind);
    return pool.splice(at < 0 ? pool.length - 1 : at, 1)[0];
  };
  const copyOf = (orig: (typeof clean)[number], split: DemoSplit, make: Output['make']) => {
    const file = name(split, orig.kind);
    orig.job.outputs.push({ file, make });
    addRow(file, orig.kind, orig.info);
    return file;
  };

  // Mislabels: the photo is filed in (and labelled as) the next class along.
  for (let i = 0; i < 3; i++) {
    const orig = take(SCENE_KINDS[(i * 2) % SCENE_KINDS.length]);
    const label = SCENE_KINDS[(SCENE_KINDS.indexOf(orig.kind) + 1 + i) % SCENE_KINDS.length];
    const file = name(orig.split, label, orig.file.endsWith('.png') ? 'png' : 'jpg');
    rows.set(file, { ...rows.get(orig.file)!, label });
    rows.delete(orig.file);
    orig.job.outputs[0].file = file;
    orig.file = file;
    truth.mislabeled.push({ file, label, actual: orig.kind });
  }

  for (const n of [2, 1, 1]) {
    const orig = take();
    const copies = Array.from({ length: n }, () => ({ file: copyOf(orig, orig.split, async (_px, main) => main!), transform: 'copy' as const }));
    truth.exactDuplicates.push({ original: orig.file, copies });
  }
  for (const transform of Object.keys(NEAR) as NearTransform[]) {
    const orig = take();
    truth.nearDuplicates.push({ original: orig.file, copies: [{ file: copyOf(orig, orig.split, NEAR[transform]), transform }] });
  }
  {
    const orig = take();
    truth.leaks.push({ train: orig.file, test: copyOf(orig, 'test', async (_px, main) => main!), kind: 'exact', transform: 'copy' });
    const orig2 = take();
    truth.leaks.push({ train: orig2.file, test: copyOf(orig2, 'test', NEAR.resized), kind: 'near', transform: 'resized' });
  }
  // A standalone planted photo: its own scene, one file made by `make`.
  const standalone = (split: DemoSplit, size: { width: number; height: number }, ext: string, make: Output['make'], kind = kindOf()) => {
    const opts: PhotoOptions = { seed: nextSeed(), kind, ...size };
    const file = name(split, kind, ext);
    photos.push({ photo: opts, outputs: [{ file, make }] });
    addRow(file, kind, describeScene(opts));
    return file;
  };
  // A file that was meant to be a photo but is not one: a caption as if it were.
  const junk = (split: DemoSplit, data: Buffer) => {
    const kind = kindOf();
    const file = name(split, kind);
    bytes.push({ file, bytes: data });
    addRow(file, kind, describeScene({ seed: nextSeed(), kind, width: 640, height: 480 }));
    return file;
  };

  // Broken files.
  const garbage = Buffer.alloc(4096 + Math.floor(r() * 8192));
  for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(r() * 256);
  garbage.set([0xff, 0xd8, 0xff, 0xe0]); // a JPEG signature, so sniffing by magic bytes is fooled too
  truth.broken.push({ file: junk('train', garbage), problem: 'corrupt' });
  truth.broken.push({ file: standalone('train', photoSize(r), 'jpg', async (px) => truncateJpeg(await jpeg(raw(px), 90))), problem: 'truncated' });
  truth.broken.push({ file: junk('test', Buffer.alloc(0)), problem: 'empty' });
  truth.broken.push({
    file: junk('train', Buffer.from('<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>\n<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p></body></html>\n')),
    problem: 'not_an_image',
  });

  // Unusual formats.
  truth.formats.push({ file: standalone('train', photoSize(r), 'jpg', (px) => raw(px).png().toBuffer()), problem: 'wrong_extension', detail: 'PNG data in a .jpg file' });
  truth.formats.push({ file: standalone('train', photoSize(r), 'jpg', (px) => raw(px).toColourspace('cmyk').jpeg({ quality: 90 }).toBuffer()), problem: 'cmyk', detail: 'CMYK JPEG' });
  truth.formats.push({ file: standalone('test', photoSize(r), 'png', (px) => raw(px).toColourspace('rgb16').png().toBuffer()), problem: 'sixteen_bit', detail: '16-bit per channel PNG' });
  truth.formats.push({ file: standalone('train', { width: 480, height: 360 }, 'gif', animatedGif), problem: 'animated', detail: '4-frame GIF, 240x180' });
  {
    const size = photoSize(r);
    // Pixels stored turned a quarter left; orientation 6 tells viewers to turn them back right.
    const file = standalone('train', size, 'jpg', (px) => raw(px).rotate(270).withMetadata({ orientation: 6 }).jpeg({ quality: 90 }).toBuffer());
    truth.formats.push({ file, problem: 'exif_rotated', detail: `EXIF orientation 6; stored ${size.height}x${size.width}, shown ${size.width}x${size.height}` });
  }

  // Quality problems.
  const q = (issue: QualityIssue, split: DemoSplit, width: number, height: number, make: Output['make'], kind?: SceneKind) =>
    truth.quality.push({ file: standalone(split, { width, height }, 'jpg', make, kind), issue, width, height });
  q('odd_size', 'train', 24, 24, (px) => jpeg(raw(px), 90));
  q('odd_size', 'test', 40, 30, (px) => jpeg(raw(px), 90));
  q('odd_aspect_ratio', 'train', 1200, 120, (px) => jpeg(raw(px), 90));
  // A daylight scene badly underexposed (a night scene would be dark by nature, not by fault).
  q('dark', 'train', 640, 480, (px) => jpeg(raw(px).linear(0.12, 0), 90), 'city');
  q('light', 'train', 640, 480, (px) => jpeg(raw(px).linear(0.06, 240), 90));
  q('blurry', 'test', 640, 480, (px) => jpeg(raw(px).blur(40), 90));
  q('low_information', 'train', 600, 400, (px) => jpeg(flat(px)), 'beach');
  // A single-channel JPEG (the greyscale near-duplicate, by contrast, is stored as RGB).
  q('grayscale', 'train', 600, 450, (px) => raw(px).toColourspace('b-w').jpeg({ quality: 90 }).toBuffer(), 'forest');

  // Near-identical and identical captions on different photos of the same class.
  const used = new Set<string>();
  const byKind = (k: SceneKind) => clean.filter((c) => c.kind === k && !used.has(c.file));
  for (let i = 0; i < 7; i++) {
    const group = shuffle(byKind(SCENE_KINDS[i % SCENE_KINDS.length]), r).slice(0, 2);
    if (group.length < 2) continue;
    for (const c of group) used.add(c.file);
    const [a, b] = group.map((c) => rows.get(c.file)!);
    const exact = i >= 5;
    b.text = exact ? a.text : nearCaption(a.text, r);
    if (!exact) truth.captionDuplicates.push({ files: group.map((c) => c.file).sort(), kind: 'near' });
  }
  const byText = new Map<string, string[]>();
  for (const [file, row] of rows) byText.set(row.text, [...(byText.get(row.text) ?? []), file]);
  for (const files of byText.values()) if (files.length > 1) truth.captionDuplicates.push({ files: files.sort(), kind: 'exact' });
  // Drop near pairs that ended up exactly equal by chance (they are listed as exact).
  truth.captionDuplicates = truth.captionDuplicates.filter((g) => g.kind === 'exact' || rows.get(g.files[0])!.text !== rows.get(g.files[1])!.text);

  // Totals and the clean list.
  const planted = new Set<string>([
    ...truth.broken.map((x) => x.file), ...truth.formats.map((x) => x.file), ...truth.quality.map((x) => x.file),
    ...truth.mislabeled.map((x) => x.file), ...truth.leaks.map((x) => x.test),
    ...[...truth.exactDuplicates, ...truth.nearDuplicates].flatMap((g) => g.copies.map((c) => c.file)),
  ]);
  const all = [...rows.keys()].sort();
  truth.count = all.length;
  for (const s of DEMO_SPLITS) truth.splits[s] = all.filter((f) => f.startsWith(`${s}/`)).length;
  truth.clean = all.filter((f) => !planted.has(f));
  for (const [file, row] of rows) row.file_name = file.slice(file.indexOf('/') + 1);
  return { photos, bytes, truth, rows };
}

/** Cut a JPEG halfway through its entropy-coded scan, as an interrupted download leaves it. */
function truncateJpeg(buf: Buffer): Buffer {
  const sos = buf.indexOf(Buffer.from([0xff, 0xda]));
  const start = sos < 0 ? 0 : sos;
  return buf.subarray(0, start + Math.floor((buf.length - start) * 0.55));
}

/** Four 240x180 frames panning across the photo, as a looping GIF. */
async function animatedGif(px: Pixels): Promise<Buffer> {
  const w = 240, h = 180, frames = 4;
  const stack = Buffer.alloc(w * h * 3 * frames);
  for (let k = 0; k < frames; k++) {
    const frame = await raw(px).extract({ left: k * 60, top: k * 40, width: w, height: h }).raw().toBuffer();
    frame.copy(stack, k * w * h * 3);
  }
  return sharp(stack, { raw: { width: w, height: h * frames, channels: 3, pageHeight: h } }).gif({ delay: 200, loop: 0 }).toBuffer();
}

/** A nearly flat image (a wall, a lens cap): one colour with a faint ghost of the photo. */
function flat(px: Pixels): Sharp {
  const mean = [0, 0, 0];
  for (let i = 0; i < px.data.length; i++) mean[i % 3] += px.data[i];
  const base = mean.map((m) => Math.round(m / (px.width * px.height)));
  const out = Buffer.alloc(px.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = base[i % 3] + ((px.data[i] - 128) >> 7);
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v; // a Buffer would wrap, not clamp
  }
  return raw({ ...px, data: out });
}

/** Run `fn` over `items` with at most `limit` in flight. */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Write the demo dataset into `dir` (creating it) and return what was planted. The `train/` and
 * `test/` folders and `truth.json` are replaced if present; nothing else in `dir` is touched.
 * The same seed and count give byte-identical files.
 */
export async function generateDemoDataset(dir: string, options: DemoOptions = {}): Promise<DemoTruth> {
  const seed = options.seed ?? 1;
  const count = options.count ?? 300;
  const { photos, bytes, truth, rows } = planDemoDataset(seed, count);
  for (const s of DEMO_SPLITS) await rm(join(dir, s), { recursive: true, force: true });
  await rm(join(dir, DEMO_TRUTH_FILE), { force: true });
  for (const d of new Set([...rows.keys()].map((f) => dirname(join(dir, f))))) await mkdir(d, { recursive: true });

  await Promise.all(bytes.map((b) => writeFile(join(dir, b.file), b.bytes)));
  // Rendering runs on libuv threads while texture noise runs here, so a little more than the
  // core count keeps both busy.
  await mapLimit(photos, Math.max(2, Math.min(6, availableParallelism() + 1)), async (job) => {
    const px = await photoPixels(job.photo);
    let main: Buffer | undefined;
    for (const out of job.outputs) {
      const data = await out.make(px, main);
      main ??= data;
      await writeFile(join(dir, out.file), data);
    }
  });

  for (const s of DEMO_SPLITS) {
    const lines = [...rows.entries()]
      .filter(([file]) => file.startsWith(`${s}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, row]) => JSON.stringify({ file_name: row.file_name, text: row.text, label: row.label }));
    await writeFile(join(dir, s, METADATA_FILE), lines.join('\n') + '\n');
  }
  await writeFile(join(dir, DEMO_TRUTH_FILE), JSON.stringify(truth, null, 2) + '\n');
  return truth;
}
