import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import {
  DEMO_SPLITS, DEMO_TRUTH_FILE, METADATA_FILE, generateDemoDataset, planDemoDataset,
  type DemoTruth, type MetadataRow, type NearTransform,
} from '../../src/demo/dataset.js';
import { SCENE_KINDS } from '../../src/demo/synth.js';

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out.sort();
}

/** One hash over every file's relative path and bytes. */
async function treeHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const p of await walk(dir)) h.update(relative(dir, p)).update('\0').update(await readFile(p)).update('\0');
  return h.digest('hex');
}

/** 64-bit perceptual hash (DCT of a 32x32 grey thumbnail, as imagehash's phash), for "looks the same" checks. */
async function phash(input: Buffer | string, flop = false): Promise<number[]> {
  let s = sharp(input).rotate().greyscale();
  if (flop) s = s.flop();
  const N = 32;
  const px = await s.resize(N, N, { fit: 'fill' }).raw().toBuffer();
  const cos = (k: number, n: number) => Math.cos((Math.PI * k * (2 * n + 1)) / (2 * N));
  const coef: number[] = [];
  for (let u = 0; u < 8; u++) {
    for (let v = 0; v < 8; v++) {
      let sum = 0;
      for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) sum += px[y * N + x] * cos(u, y) * cos(v, x);
      coef.push(sum);
    }
  }
  const sorted = [...coef].sort((a, b) => a - b);
  const median = (sorted[31] + sorted[32]) / 2;
  return coef.map((c) => (c > median ? 1 : 0));
}
const hamming = (a: number[], b: number[]) => a.reduce((n, v, i) => n + (v === b[i] ? 0 : 1), 0);

/** Character-bigram Jaccard similarity, a stand-in for text near-dup scores. */
function bigramSimilarity(a: string, b: string): number {
  const grams = (s: string) => new Set(Array.from({ length: s.length - 1 }, (_, i) => s.toLowerCase().slice(i, i + 2)));
  const A = grams(a), B = grams(b);
  let inter = 0;
  for (const g of A) if (B.has(g)) inter++;
  return inter / (A.size + B.size - inter);
}

const readJsonl = async (path: string): Promise<MetadataRow[]> =>
  (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as MetadataRow);

describe('generateDemoDataset', () => {
  let dir: string;
  let truth: DemoTruth;
  const rows = new Map<string, MetadataRow>(); // keyed by path relative to dir
  const at = (file: string) => join(dir, file);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imgsift-demo-'));
    // A count below the planted minimum: the dataset shrinks to its smallest form, all problems kept.
    truth = await generateDemoDataset(dir, { seed: 7, count: 10 });
    for (const s of DEMO_SPLITS) for (const row of await readJsonl(join(dir, s, METADATA_FILE))) rows.set(`${s}/${row.file_name}`, row);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('writes an imagefolder layout whose metadata lists exactly the files on disk', async () => {
    const onDisk = (await walk(dir)).map((p) => relative(dir, p)).filter((p) => p !== DEMO_TRUTH_FILE && !p.endsWith(METADATA_FILE));
    assert.deepEqual([...rows.keys()].sort(), onDisk);
    assert.equal(truth.count, onDisk.length);
    for (const s of DEMO_SPLITS) assert.equal(truth.splits[s], onDisk.filter((p) => p.startsWith(`${s}/`)).length);
    assert.ok(truth.splits.test > 0 && truth.splits.train > truth.splits.test);
    for (const s of DEMO_SPLITS) {
      const lines = (await readFile(join(dir, s, METADATA_FILE), 'utf8')).split('\n');
      assert.equal(lines.pop(), '', 'metadata ends with a newline');
      for (const line of lines) {
        const row = JSON.parse(line) as MetadataRow;
        assert.deepEqual(Object.keys(row), ['file_name', 'text', 'label']);
        assert.ok(SCENE_KINDS.includes(row.label), row.label);
        assert.equal(row.file_name.split('/')[0], row.label, 'class folder matches the label');
        assert.match(row.text, /^[A-Za-z].{10,}$/);
      }
    }
    assert.deepEqual(JSON.parse(await readFile(join(dir, DEMO_TRUTH_FILE), 'utf8')), truth);
  });

  test('every file named in the truth exists and is listed in its split metadata', async () => {
    const named = [
      ...truth.clean, ...truth.broken.map((x) => x.file), ...truth.formats.map((x) => x.file), ...truth.quality.map((x) => x.file),
      ...truth.mislabeled.map((x) => x.file), ...truth.leaks.flatMap((x) => [x.train, x.test]), ...truth.captionDuplicates.flatMap((g) => g.files),
      ...[...truth.exactDuplicates, ...truth.nearDuplicates].flatMap((g) => [g.original, ...g.copies.map((c) => c.file)]),
    ];
    for (const file of named) {
      await stat(at(file));
      assert.ok(rows.has(file), `${file} in metadata`);
    }
  });

  test('plants every problem even at a small count', () => {
    assert.deepEqual(truth.broken.map((x) => x.problem).sort(), ['corrupt', 'empty', 'not_an_image', 'truncated']);
    assert.deepEqual(truth.formats.map((x) => x.problem).sort(), ['animated', 'cmyk', 'exif_rotated', 'sixteen_bit', 'wrong_extension']);
    assert.deepEqual(truth.nearDuplicates.map((g) => g.copies[0].transform).sort(),
      ['blurred', 'brightened', 'cropped', 'greyscale', 'letterboxed', 'mirrored', 'recompressed', 'resized', 'rotated', 'watermarked']);
    assert.deepEqual([...new Set(truth.quality.map((x) => x.issue))].sort(),
      ['blurry', 'dark', 'grayscale', 'light', 'low_information', 'odd_aspect_ratio', 'odd_size']);
    assert.deepEqual(truth.leaks.map((l) => l.kind).sort(), ['exact', 'near']);
    assert.ok(truth.exactDuplicates.length >= 2 && truth.mislabeled.length >= 1);
    assert.ok(truth.captionDuplicates.filter((g) => g.kind === 'near').length >= 3);
    // Duplicate originals are distinct photos.
    const originals = [...truth.exactDuplicates, ...truth.nearDuplicates].map((g) => g.original);
    assert.equal(new Set(originals).size, originals.length);
  });

  test('broken files do not decode', async () => {
    for (const { file, problem } of truth.broken) {
      await assert.rejects(sharp(at(file)).stats(), `${problem} should not decode`);
      const bytes = await readFile(at(file));
      if (problem === 'empty') assert.equal(bytes.length, 0);
      if (problem === 'not_an_image') assert.match(bytes.toString('utf8'), /^<!DOCTYPE html>/);
      if (problem === 'corrupt') assert.ok(bytes.length > 1000);
      if (problem === 'truncated') {
        // A real JPEG start with a scan, cut before the end-of-image marker.
        assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xd8]);
        assert.ok(bytes.indexOf(Buffer.from([0xff, 0xda])) > 0);
        assert.notDeepEqual([...bytes.subarray(-2)], [0xff, 0xd9]);
      }
      assert.ok(file.endsWith('.jpg'));
    }
  });

  test('format oddities are what the truth says', async () => {
    const byProblem = Object.fromEntries(truth.formats.map((x) => [x.problem, x.file]));
    const wrong = await sharp(at(byProblem.wrong_extension)).metadata();
    assert.equal(wrong.format, 'png');
    assert.ok(byProblem.wrong_extension.endsWith('.jpg'));
    const cmyk = await sharp(at(byProblem.cmyk)).metadata();
    assert.equal(cmyk.format, 'jpeg');
    assert.equal(cmyk.space, 'cmyk');
    assert.equal(cmyk.channels, 4);
    const deep = await sharp(at(byProblem.sixteen_bit)).metadata();
    assert.equal(deep.format, 'png');
    assert.equal(deep.depth, 'ushort');
    const gif = await sharp(at(byProblem.animated)).metadata();
    assert.equal(gif.format, 'gif');
    assert.ok((gif.pages ?? 1) > 1, `pages ${gif.pages}`);
    const rotated = await sharp(at(byProblem.exif_rotated)).metadata();
    assert.equal(rotated.orientation, 6);
    assert.ok(rotated.autoOrient.width === rotated.height && rotated.autoOrient.height === rotated.width);
  });

  test('exact duplicates and the exact leak are byte copies', async () => {
    for (const g of truth.exactDuplicates) {
      const orig = await readFile(at(g.original));
      for (const c of g.copies) {
        assert.notEqual(c.file, g.original);
        assert.ok(orig.equals(await readFile(at(c.file))), `${c.file} equals ${g.original}`);
      }
    }
    const exact = truth.leaks.find((l) => l.kind === 'exact')!;
    assert.ok(exact.train.startsWith('train/') && exact.test.startsWith('test/'));
    assert.ok((await readFile(at(exact.train))).equals(await readFile(at(exact.test))));
  });

  test('near duplicates differ in bytes but look like their originals', async () => {
    const clean = truth.clean.filter((f) => !truth.nearDuplicates.some((g) => g.original === f));
    for (const g of truth.nearDuplicates) {
      const { file, transform } = g.copies[0];
      const [a, b] = [await readFile(at(g.original)), await readFile(at(file))];
      assert.ok(!a.equals(b), `${transform} copy is not a byte copy`);
      assert.equal(g.original.split('/')[0], file.split('/')[0], 'copy is in the same split');
      const [ma, mb] = [await sharp(a).metadata(), await sharp(b).metadata()];
      let copy: Buffer = b;
      if (transform === 'letterboxed') {
        assert.ok(mb.height > ma.height && mb.width === ma.width);
        // (stats() ignores the pipeline, so read the pixels.)
        const top = await sharp(b).extract({ left: 0, top: 0, width: mb.width, height: 4 }).raw().toBuffer();
        assert.ok(Math.max(...top) < 30, 'padding is black');
        copy = await sharp(b).trim({ threshold: 20 }).toBuffer();
      }
      const distance = hamming(await phash(a, transform === 'mirrored'), await phash(copy));
      // A 3° tilt moves phash most (typically 4–16 bits on these scenes); the rest stay within 10.
      assert.ok(distance <= (transform === 'rotated' ? 16 : 10), `${transform}: phash distance ${distance}`);
      // ... while an unrelated photo is far away, so the check above means something.
      const other = clean[truth.nearDuplicates.indexOf(g) % clean.length];
      assert.ok(hamming(await phash(a), await phash(at(other))) > distance);
      const checks: Partial<Record<NearTransform, () => void>> = {
        resized: () => assert.ok(mb.width < ma.width * 0.7),
        cropped: () => assert.ok(mb.width < ma.width && mb.width > ma.width * 0.9),
        recompressed: () => assert.ok(b.length < a.length),
      };
      checks[transform as NearTransform]?.();
      if (transform === 'greyscale') {
        const st = await sharp(b).stats();
        assert.ok(Math.abs(st.channels[0].mean - st.channels[2].mean) < 2);
      }
    }
    const near = truth.leaks.find((l) => l.kind === 'near')!;
    assert.ok(near.train.startsWith('train/') && near.test.startsWith('test/'));
    const [lt, ls] = [await readFile(at(near.train)), await readFile(at(near.test))];
    assert.ok(!lt.equals(ls));
    assert.ok(hamming(await phash(lt), await phash(ls)) <= 6);
  });

  test('quality problems have the planted sizes and pixel statistics', async () => {
    const cleanSharpness: number[] = [];
    for (const f of truth.clean.slice(0, 10)) cleanSharpness.push((await sharp(at(f)).stats()).sharpness);
    const minCleanSharp = Math.min(...cleanSharpness);
    for (const q of truth.quality) {
      const meta = await sharp(at(q.file)).metadata();
      assert.deepEqual([meta.width, meta.height], [q.width, q.height], q.issue);
      const st = await sharp(at(q.file)).stats();
      const mean = st.channels.slice(0, 3).reduce((s, c) => s + c.mean, 0) / Math.min(3, st.channels.length);
      switch (q.issue) {
        case 'odd_size': assert.ok(Math.max(q.width, q.height) <= 64); break;
        case 'odd_aspect_ratio': assert.ok(q.width / q.height >= 5); break;
        case 'dark': assert.ok(mean < 30, `dark mean ${mean}`); break;
        case 'light': assert.ok(mean > 215, `light mean ${mean}`); break;
        case 'blurry': assert.ok(st.sharpness < minCleanSharp / 2, `sharpness ${st.sharpness} vs ${minCleanSharp}`); break;
        case 'low_information': assert.ok(st.channels.every((c) => c.stdev < 8), 'near flat'); break;
        case 'grayscale': assert.equal(meta.channels, 1); break;
      }
    }
    // The darkest ordinary photos (night scenes) stay well above the planted dark one.
    for (const f of truth.clean.filter((x) => x.includes('/night/')).slice(0, 5)) {
      const px = await sharp(at(f)).greyscale().raw().toBuffer();
      const mean = px.reduce((s, v) => s + v, 0) / px.length;
      assert.ok(mean > 28, `${f} mean ${mean}`);
    }
  });

  test('clean photos are ordinary 8-bit RGB images of 320–800 px', async () => {
    for (const f of truth.clean) {
      const m = await sharp(at(f)).metadata();
      assert.ok(['jpeg', 'png'].includes(m.format) && f.endsWith(m.format === 'jpeg' ? '.jpg' : '.png'), f);
      assert.equal(m.channels, 3);
      assert.equal(m.depth, 'uchar');
      const long = Math.max(m.width, m.height);
      assert.ok(long >= 320 && long <= 800, `${f}: ${m.width}x${m.height}`);
    }
  });

  test('mislabeled photos carry the wrong label in folder and metadata', () => {
    for (const m of truth.mislabeled) {
      assert.notEqual(m.label, m.actual);
      assert.equal(rows.get(m.file)!.label, m.label);
      assert.equal(m.file.split('/')[1], m.label);
    }
  });

  test('caption duplicates: exact groups share text, near pairs are close but not equal', () => {
    for (const g of truth.captionDuplicates) {
      const texts = g.files.map((f) => rows.get(f)!.text);
      if (g.kind === 'exact') assert.equal(new Set(texts).size, 1);
      else {
        assert.notEqual(texts[0], texts[1]);
        assert.ok(bigramSimilarity(texts[0], texts[1]) >= 0.75, texts.join(' | '));
      }
    }
    // The exact groups are complete: no other rows share a caption.
    const byText = new Map<string, number>();
    for (const r of rows.values()) byText.set(r.text, (byText.get(r.text) ?? 0) + 1);
    const shared = [...byText.values()].filter((n) => n > 1).reduce((a, b) => a + b, 0);
    assert.equal(shared, truth.captionDuplicates.filter((g) => g.kind === 'exact').reduce((n, g) => n + g.files.length, 0));
  });
});

describe('planDemoDataset', () => {
  test('count sets the number of files once it covers the planted problems', () => {
    assert.equal(planDemoDataset(1, 300).truth.count, 300);
    assert.equal(planDemoDataset(1, 120).truth.count, 120);
    // Below the minimum, the smallest complete dataset.
    assert.equal(planDemoDataset(1, 5).truth.count, planDemoDataset(1, 1).truth.count);
  });
  test('scene classes are roughly balanced', () => {
    const { rows } = planDemoDataset(3, 300);
    const counts = new Map<string, number>();
    for (const r of rows.values()) counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
    assert.equal(counts.size, SCENE_KINDS.length);
    for (const n of counts.values()) assert.ok(n >= 40 && n <= 80, `class count ${n}`);
  });
});

test('the same seed gives a byte-identical tree; another seed does not', async () => {
  const dirs = await Promise.all([1, 2, 3].map(() => mkdtemp(join(tmpdir(), 'imgsift-demo-det-'))));
  try {
    await generateDemoDataset(dirs[0], { seed: 11, count: 20 });
    await generateDemoDataset(dirs[1], { seed: 11, count: 20 });
    await generateDemoDataset(dirs[2], { seed: 12, count: 20 });
    const [a, b, c] = await Promise.all(dirs.map(treeHash));
    assert.equal(a, b);
    assert.notEqual(a, c);
    // Rerunning into a used directory replaces its files and leaves the same tree.
    await generateDemoDataset(dirs[2], { seed: 11, count: 20 });
    assert.equal(await treeHash(dirs[2]), a);
  } finally {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
});
