import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { photo, photoJpeg, rng } from '../../src/demo/synth.js';
import { bigIntToHex, computeHashes, hammingHex, HASH_ALGOS, hexToBigInt, type HashAlgo } from '../../src/image/hashes.js';
import { resizeLanczos } from '../../src/image/lanczos.js';
import { toLuma } from '../../src/image/luma.js';

const PY = '/usr/bin/python3';
const REF = resolve('test/fixtures/imagehash_ref.py');
const DEBIAN = 'apt-get install -y python3-pil python3-numpy python3-scipy python3-pywt';

type RefRow = Record<HashAlgo, string> & { path: string; error?: string };

/** Hashes from the Python reference (Pillow/SciPy/PyWavelets); fails, never skips, without them. */
function pythonHashes(files: string[]): RefRow[] {
  const res = spawnSync(PY, [REF, ...files], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (res.error || res.status !== 0) {
    assert.fail(`the imagehash reference needs Debian's Python with PIL, NumPy, SciPy and PyWavelets at ${PY}: ${DEBIAN}\n${res.error?.message ?? res.stderr}`);
  }
  return res.stdout.trim().split('\n').map((l) => JSON.parse(l) as RefRow);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'imgsift-hash-test-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('agreement with Python imagehash', () => {
  const files: string[] = [];

  before(async () => {
    const sizes = [[2000, 1500], [1024, 768], [1001, 757], [640, 480], [333, 251], [1500, 2000], [97, 131], [1280, 720], [512, 512], [801, 599]];
    const r = rng(11);
    for (let i = 0; i < 40; i++) {
      const [w, h] = sizes[i % sizes.length];
      const p = await photo({ seed: 300 + i, width: w, height: h });
      let buf: Buffer;
      let ext: string;
      switch (i % 5) {
        case 0: case 1: buf = await p.jpeg({ quality: 80 + (i % 15) }).toBuffer(); ext = 'jpg'; break;
        case 2: buf = await p.greyscale().jpeg({ quality: 90 }).toBuffer(); ext = 'jpg'; break;
        case 3: buf = await p.png().toBuffer(); ext = 'png'; break;
        default: buf = await p.ensureAlpha(0.4 + r() * 0.6).png().toBuffer(); ext = 'png'; break;
      }
      const f = join(dir, `g${i}_${w}x${h}.${ext}`);
      writeFileSync(f, buf);
      files.push(f);
    }
  });

  test('default (reduced decode): median distance 0 and >= 95% within 4 bits, per algorithm', async () => {
    const ref = pythonHashes(files);
    for (const algo of HASH_ALGOS) {
      const d: number[] = [];
      for (let i = 0; i < files.length; i++) {
        const h = await computeHashes(readFileSync(files[i]), [algo], { pixel: false });
        assert.match(h[algo]!, /^[0-9a-f]{16}$/);
        d.push(hammingHex(h[algo]!, ref[i][algo]));
      }
      const within4 = d.filter((x) => x <= 4).length / d.length;
      assert.equal(quantile(d, 0.5), 0, `${algo}: median distance ${quantile(d, 0.5)} (all: ${d.join(',')})`);
      assert.ok(within4 >= 0.95, `${algo}: only ${(within4 * 100).toFixed(0)}% within 4 bits (all: ${d.join(',')})`);
    }
  });

  test('exact mode (full-size decode) reproduces imagehash bit for bit', async () => {
    // The smaller half of the set keeps the test quick; exactness does not depend on size.
    const subset = files.filter((_, i) => [2, 3, 4, 6, 8, 9].includes(i % 10));
    const ref = pythonHashes(subset);
    for (let i = 0; i < subset.length; i++) {
      const h = await computeHashes(readFileSync(subset[i]), HASH_ALGOS, { pixel: false, reducedMinSide: 0 });
      for (const algo of HASH_ALGOS) assert.equal(h[algo], ref[i][algo], `${algo} of ${subset[i]}`);
    }
  });

  test('palette PNG, 16-bit PNG, GIF, WebP, a 7x5 image and an EXIF-rotated JPEG (not rotated, like PIL)', async () => {
    const src = async (seed: number, w = 300, h = 200) => photo({ seed, width: w, height: h });
    const bufs = [
      await (await src(1)).png({ palette: true }).toBuffer(),
      await (await src(2)).toColourspace('rgb16').png().toBuffer(),
      await (await src(3)).gif().toBuffer(),
      await (await src(4, 1200, 900)).webp({ quality: 90 }).toBuffer(),
      await (await src(5, 7, 5)).png().toBuffer(),
      await (await src(6, 600, 400)).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
    ];
    const paths = bufs.map((b, i) => {
      const f = join(dir, `odd${i}`);
      writeFileSync(f, b);
      return f;
    });
    const ref = pythonHashes(paths);
    for (let i = 0; i < paths.length; i++) {
      const h = await computeHashes(bufs[i], HASH_ALGOS, { pixel: false, reducedMinSide: 0 });
      for (const algo of HASH_ALGOS) {
        // An upsampled 7x5 image has many equal whash cells; imagehash breaks ties at the median by
        // PyWavelets' rounding noise, which integer block sums do not reproduce.
        if (i === 4 && algo === 'whash') assert.ok(hammingHex(h[algo]!, ref[i][algo]) <= 2, `whash of the 7x5 image: ${h[algo]} vs ${ref[i][algo]}`);
        else assert.equal(h[algo], ref[i][algo], `${algo} of case ${i}`);
      }
    }
    const rotated = await computeHashes(bufs[5], ['phash'], { pixel: false });
    assert.equal(rotated.width, 600, 'size as stored, before EXIF rotation');
  });
});

describe('hex bit order', () => {
  /** A greyscale PNG from a function of (x, y). */
  async function greyPng(w: number, h: number, f: (x: number, y: number) => number): Promise<Buffer> {
    const px = Buffer.alloc(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px[y * w + x] = f(x, y);
    return sharp(px, { raw: { width: w, height: h, channels: 1 } }).png().toBuffer();
  }

  test('aHash: bright top half is ffffffff00000000, bright left half f0f0f0f0f0f0f0f0', async () => {
    const top = await computeHashes(await greyPng(64, 64, (_x, y) => (y < 32 ? 220 : 30)), ['ahash'], { pixel: false });
    assert.equal(top.ahash, 'ffffffff00000000');
    const left = await computeHashes(await greyPng(64, 64, (x) => (x < 32 ? 220 : 30)), ['ahash'], { pixel: false });
    assert.equal(left.ahash, 'f0f0f0f0f0f0f0f0');
  });

  test('dHash: rows brightening to the right in the top half, darkening in the bottom: ffffffff00000000', async () => {
    const png = await greyPng(72, 64, (x, y) => (y < 32 ? 20 + x * 3 : 233 - x * 3));
    const h = await computeHashes(png, ['dhash', 'ahash'], { pixel: false });
    assert.equal(h.dhash, 'ffffffff00000000');
    const f = join(dir, 'dhash-order.png');
    writeFileSync(f, png);
    const [ref] = pythonHashes([f]);
    assert.equal(h.dhash, ref.dhash);
    assert.equal(h.ahash, ref.ahash);
  });

  test('hex and bigint round-trip; Hamming distance counts differing bits', () => {
    assert.equal(hexToBigInt('8000000000000001'), (1n << 63n) | 1n);
    assert.equal(bigIntToHex((1n << 63n) | 1n), '8000000000000001');
    assert.equal(bigIntToHex(255n), '00000000000000ff');
    assert.equal(hammingHex('0000000000000000', 'ffffffffffffffff'), 64);
    assert.equal(hammingHex('8000000000000001', '0000000000000000'), 2);
    assert.equal(hammingHex('a7d225256bab9d18', 'a7d225256bab9d18'), 0);
    assert.throws(() => hexToBigInt('xyz'), /16 hex digits/);
    assert.throws(() => hammingHex('00', '0000'), /length/);
  });
});

describe('robustness of the hashes', () => {
  test('a resized or recompressed copy stays within phash distance 6; different images are far apart', async () => {
    const hashes: string[] = [];
    for (let seed = 0; seed < 8; seed++) {
      const original = await photoJpeg({ seed: 900 + seed, width: 1024, height: 768, quality: 92 });
      const h = await computeHashes(original, ['phash'], { pixel: false });
      hashes.push(h.phash!);
      const smaller = await sharp(original).resize(512, 384).jpeg({ quality: 92 }).toBuffer();
      const recompressed = await sharp(original).jpeg({ quality: 50 }).toBuffer();
      for (const [label, copy] of [['resized', smaller], ['recompressed', recompressed]] as const) {
        const hc = await computeHashes(copy, ['phash'], { pixel: false });
        const d = hammingHex(h.phash!, hc.phash!);
        assert.ok(d <= 6, `seed ${seed}: ${label} copy is ${d} bits away`);
      }
    }
    let sum = 0;
    let pairs = 0;
    for (let i = 0; i < hashes.length; i++) for (let j = i + 1; j < hashes.length; j++, pairs++) sum += hammingHex(hashes[i], hashes[j]);
    assert.ok(sum / pairs > 20, `different images average only ${(sum / pairs).toFixed(1)} bits apart`);
  });
});

describe('pixel sha256', () => {
  test('same pixels in PNG, lossless WebP and with metadata match; the byte sha256 differs', async () => {
    const p = await photo({ seed: 42, width: 320, height: 240 });
    const png = await p.clone().png().toBuffer();
    const webp = await p.clone().webp({ lossless: true }).toBuffer();
    const pngMeta = await p.clone().png().withMetadata({ density: 300 }).toBuffer();
    const [a, b, c] = await Promise.all([png, webp, pngMeta].map((x) => computeHashes(x, ['phash'])));
    assert.notEqual(a.sha256, b.sha256);
    assert.notEqual(a.sha256, c.sha256);
    assert.match(a.pixel_sha256!, /^[0-9a-f]{64}$/);
    assert.equal(b.pixel_sha256, a.pixel_sha256);
    assert.equal(c.pixel_sha256, a.pixel_sha256);
    assert.equal(b.phash, a.phash);
  });

  test('changed pixels or geometry change it', async () => {
    const p = await photo({ seed: 43, width: 320, height: 240 });
    const png = await p.clone().png().toBuffer();
    const jpg = await p.clone().jpeg({ quality: 95 }).toBuffer();
    // The same bytes read as 240x320 must not collide with 320x240.
    const raw = await p.clone().raw().toBuffer();
    const transposed = await sharp(raw, { raw: { width: 240, height: 320, channels: 3 } }).png().toBuffer();
    const [a, b, c] = await Promise.all([png, jpg, transposed].map((x) => computeHashes(x, [])));
    assert.notEqual(a.pixel_sha256, b.pixel_sha256);
    assert.notEqual(a.pixel_sha256, c.pixel_sha256);
  });

  test('pixel: false skips it, and perceptual hashes do not depend on it', async () => {
    const jpg = await photoJpeg({ seed: 44, width: 1024, height: 768 });
    const withPixel = await computeHashes(jpg, HASH_ALGOS);
    const without = await computeHashes(jpg, HASH_ALGOS, { pixel: false });
    assert.equal(without.pixel_sha256, undefined);
    for (const a of HASH_ALGOS) assert.equal(without[a], withPixel[a]);
  });
});

describe('errors', () => {
  test('corrupt and truncated images throw', async () => {
    await assert.rejects(computeHashes(Buffer.from('not an image at all'), ['phash']));
    const jpg = await photoJpeg({ seed: 45, width: 400, height: 300 });
    await assert.rejects(computeHashes(jpg.subarray(0, jpg.length >> 1), ['phash']));
  });

  test('an unknown algorithm is rejected with the allowed list', async () => {
    const jpg = await photoJpeg({ seed: 46, width: 64, height: 64 });
    await assert.rejects(computeHashes(jpg, ['md5' as HashAlgo]), /unknown hash algorithm 'md5' \(allowed: phash, dhash, ahash, whash\)/);
  });
});

describe('building blocks', () => {
  test('luma uses Pillow fixed-point rounding', () => {
    const rgb = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 1, 1, 0, 100, 50, 200]);
    assert.deepEqual([...toLuma(rgb, 5, 1, 3)], [76, 150, 29, 1, 82]);
  });

  test('Lanczos keeps a flat image flat and leaves an unchanged size alone', () => {
    const flat = new Uint8Array(50 * 40).fill(137);
    assert.ok(resizeLanczos(flat, 50, 40, 9, 8).every((v) => v === 137));
    assert.ok(resizeLanczos(flat, 50, 40, 120, 90).every((v) => v === 137));
    assert.equal(resizeLanczos(flat, 50, 40, 50, 40), flat);
  });
});
