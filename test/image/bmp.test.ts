import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { BmpBombError, BmpError, decodeBmp } from '../../src/image/bmp.js';
import { openImage } from '../../src/image/open.js';
import { probeImage } from '../../src/image/probe.js';
import { HASH_ALGOS, computeHashes } from '../../src/image/hashes.js';
import { measureQuality } from '../../src/image/quality.js';
import { encodeAs } from '../../src/export/convert.js';
import { photoPixels, photoPng } from '../../src/demo/synth.js';
import { build } from '../../src/exec/build.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { thumbnail } from '../../src/report/thumbs.js';
import { CropParams, cropStep } from '../../src/steps/crop.js';
import { tempDir } from '../helpers/tmp.js';

// ---- a tiny BMP writer, written for this test (independent of src/image/bmp.ts) ----

type Px = { data: Buffer; width: number; height: number; channels: 3 | 4 };

interface BmpWrite {
  bpp: 8 | 16 | 24 | 32;
  topDown?: boolean;
  /** 32-bit only: a V5 header with BI_BITFIELDS masks including alpha (else BI_RGB, BGRX). */
  alpha?: boolean;
  /** 8-bit only: palette of RGB triples, and each pixel's index. */
  palette?: { colours: number[][]; index: Uint8Array };
}

function writeBmp(px: Px, o: BmpWrite): Buffer {
  const { width: w, height: h } = px;
  const headerSize = o.alpha ? 124 : 40;
  const paletteBytes = o.bpp === 8 ? 4 * o.palette!.colours.length : 0;
  const offset = 14 + headerSize + paletteBytes;
  const stride = Math.ceil((o.bpp * w) / 32) * 4;
  const b = Buffer.alloc(offset + stride * h);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(offset, 10);
  b.writeUInt32LE(headerSize, 14);
  b.writeInt32LE(w, 18);
  b.writeInt32LE(o.topDown ? -h : h, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(o.bpp, 28);
  b.writeUInt32LE(o.alpha ? 3 : 0, 30);
  b.writeUInt32LE(stride * h, 34);
  if (o.bpp === 8) b.writeUInt32LE(o.palette!.colours.length, 46);
  if (o.alpha) {
    b.writeUInt32LE(0x00ff0000, 54); b.writeUInt32LE(0x0000ff00, 58);
    b.writeUInt32LE(0x000000ff, 62); b.writeUInt32LE(0xff000000, 66);
  }
  if (o.bpp === 8) o.palette!.colours.forEach(([r, g, bl], i) => { b[54 + 4 * i] = bl; b[55 + 4 * i] = g; b[56 + 4 * i] = r; });
  for (let y = 0; y < h; y++) {
    const row = offset + stride * (o.topDown ? y : h - 1 - y);
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * px.channels;
      const [r, g, bl] = [px.data[s], px.data[s + 1], px.data[s + 2]];
      if (o.bpp === 8) b[row + x] = o.palette!.index[y * w + x];
      else if (o.bpp === 16) b.writeUInt16LE(((r >> 3) << 10) | ((g >> 3) << 5) | (bl >> 3), row + 2 * x);
      else {
        const p = row + (o.bpp / 8) * x;
        b[p] = bl; b[p + 1] = g; b[p + 2] = r;
        if (o.bpp === 32) b[p + 3] = o.alpha ? px.data[s + 3] : 0x5a; // BI_RGB: the 4th byte is padding
      }
    }
  }
  return b;
}

async function photo(width = 37, height = 23, seed = 5): Promise<Px> {
  const p = await photoPixels({ seed, width, height });
  return { ...p, channels: 3 };
}

/** The photo on a 6x6x6 colour cube: a palette image and the RGB pixels it stands for. */
function quantised(px: Px): { expected: Px; palette: NonNullable<BmpWrite['palette']> } {
  const colours: number[][] = [];
  for (let r = 0; r < 6; r++) for (let g = 0; g < 6; g++) for (let b = 0; b < 6; b++) colours.push([r * 51, g * 51, b * 51]);
  const n = px.width * px.height;
  const index = new Uint8Array(n);
  const data = Buffer.alloc(3 * n);
  for (let i = 0; i < n; i++) {
    const q = [0, 1, 2].map((c) => Math.round(px.data[3 * i + c] / 51));
    index[i] = q[0] * 36 + q[1] * 6 + q[2];
    colours[index[i]].forEach((v, c) => (data[3 * i + c] = v));
  }
  return { expected: { ...px, data }, palette: { colours, index } };
}

function assertPixels(got: { data: Buffer; width: number; height: number; channels: number }, want: Px, what: string): void {
  assert.deepEqual([got.width, got.height, got.channels], [want.width, want.height, want.channels], `${what}: size`);
  assert.ok(got.data.equals(want.data), `${what}: pixels differ`);
}

// ---- decoding ----

test('bmp: 24-bit bottom-up and top-down decode to the source pixels (odd width: row padding)', async () => {
  const px = await photo();
  assertPixels(decodeBmp(writeBmp(px, { bpp: 24 })), px, '24-bit bottom-up');
  assertPixels(decodeBmp(writeBmp(px, { bpp: 24, topDown: true })), px, '24-bit top-down');
  // The same rows read in the other order are not the photo: row order matters to the check above.
  const flipped = writeBmp(px, { bpp: 24 });
  flipped.writeInt32LE(-px.height, 22);
  assert.ok(!decodeBmp(flipped).data.equals(px.data));
});

test('bmp: 32-bit BI_RGB is RGB (the fourth byte is padding); V5 bit fields with an alpha mask are RGBA', async () => {
  const px = await photo(30, 17, 8);
  assertPixels(decodeBmp(writeBmp(px, { bpp: 32 })), px, '32-bit BI_RGB');
  const rgba = Buffer.alloc(px.width * px.height * 4);
  for (let i = 0; i < px.width * px.height; i++) {
    px.data.copy(rgba, 4 * i, 3 * i, 3 * i + 3);
    rgba[4 * i + 3] = (i * 7) & 0xff;
  }
  const withAlpha: Px = { ...px, data: rgba, channels: 4 };
  assertPixels(decodeBmp(writeBmp(withAlpha, { bpp: 32, alpha: true, topDown: true })), withAlpha, '32-bit V5 bit fields');
});

test('bmp: 8-bit palette and 16-bit 5-5-5 decode to the colours they stand for', async () => {
  const px = await photo(41, 19, 9);
  const { expected, palette } = quantised(px);
  assertPixels(decodeBmp(writeBmp(px, { bpp: 8, palette })), expected, '8-bit palette');

  const five = (v: number) => Math.round(((v >> 3) * 255) / 31);
  const want16: Px = { ...px, data: Buffer.from(px.data.map(five)) };
  assertPixels(decodeBmp(writeBmp(px, { bpp: 16, topDown: true })), want16, '16-bit');
});

test('bmp: bombs are refused before allocating; truncated, RLE and malformed files are clear errors', async () => {
  const px = await photo(8, 8);
  const bmp = writeBmp(px, { bpp: 24 });
  const bomb = Buffer.from(bmp);
  bomb.writeInt32LE(50_000, 18);
  bomb.writeInt32LE(50_000, 22);
  // 2.5 G pixels x 3 bytes could not be allocated at all: only a check before allocating passes.
  assert.throws(() => decodeBmp(bomb, { maxPixels: 178_956_970 }), (e: unknown) => e instanceof BmpBombError && e.width === 50_000);
  assert.throws(() => decodeBmp(bmp.subarray(0, bmp.length - 40)), /truncated BMP/);
  const rle = Buffer.from(bmp);
  rle.writeUInt32LE(1, 30);
  assert.throws(() => decodeBmp(rle), /unsupported BMP compression RLE8/);
  const planes = Buffer.from(bmp);
  planes.writeUInt16LE(3, 26);
  assert.throws(() => decodeBmp(planes), (e: unknown) => e instanceof BmpError && /colour planes/.test(e.message));
});

// ---- the rest of the tool reads BMP through openImage ----

test('probe: a BMP is format bmp and decodes; truncated is corrupt; 50000x50000 is a bomb, not corrupt', async () => {
  const px = await photo();
  const bmp = writeBmp(px, { bpp: 24 });
  const ok = await probeImage(bmp, 'a.bmp');
  assert.equal(ok.format, 'bmp');
  assert.equal(ok.decodes, true, ok.error ?? '');
  assert.deepEqual([ok.width, ok.height, ok.channels, ok.has_alpha], [37, 23, 3, false]);
  assert.deepEqual(ok.issues, []);

  const cut = await probeImage(bmp.subarray(0, bmp.length - 100), 'cut.bmp');
  assert.equal(cut.decodes, false);
  assert.equal(cut.issues[0].type, 'corrupt');
  assert.match(String(cut.error), /truncated/);

  const bomb = Buffer.from(bmp);
  bomb.writeInt32LE(50_000, 18);
  bomb.writeInt32LE(-50_000, 22);
  const big = await probeImage(bomb, 'big.bmp');
  assert.equal(big.decodes, false);
  assert.deepEqual(big.issues.map((i) => i.type), ['decompression_bomb']);
  assert.deepEqual(big.issues[0].evidence, { width: 50_000, height: 50_000, pixels: 2_500_000_000, max_pixels: 178_956_970 });

  const named = await probeImage(bmp, 'a.png');
  assert.ok(named.issues.some((i) => i.type === 'wrong_extension'), 'a BMP named .png is still caught');
});

test('openImage: hashes, quality and PNG/JPEG conversion of a BMP match those of the same pixels as PNG', async () => {
  const px = await photo(96, 64, 21);
  const bmp = writeBmp(px, { bpp: 24 });
  const png = await sharp(px.data, { raw: { width: px.width, height: px.height, channels: 3 } }).png().toBuffer();
  // Everything but the file's own sha256: same pixels, same pixel hash and perceptual hashes.
  const { sha256: _b, ...fromBmp } = await computeHashes(bmp, HASH_ALGOS);
  const { sha256: _p, ...fromPng } = await computeHashes(png, HASH_ALGOS);
  assert.deepEqual(fromBmp, fromPng);
  assert.deepEqual(await measureQuality(bmp), { ...(await measureQuality(png)), format: 'bmp' }, 'the format stays bmp (allowed_formats judges it)');

  const asPng = await encodeAs(bmp, 'bmp', 'png', { quality: 90 });
  assert.equal(asPng.converted, true);
  const back = await sharp(asPng.data).raw().toBuffer({ resolveWithObject: true });
  assertPixels({ data: back.data, ...back.info }, px, 'bmp → png');
  const asJpeg = await encodeAs(bmp, 'bmp', 'jpeg', { quality: 95 });
  assert.equal((await sharp(asJpeg.data).metadata()).format, 'jpeg');
  assert.throws(() => openImage(bmp.subarray(0, 60)), /truncated BMP/);
});

test('build: a folder with a BMP is probed clean and exported to a kohya folder as PNG with equal pixels', { timeout: 120_000 }, async () => {
  const dir = await tempDir('imgsift-bmp-');
  const data = join(dir, 'data', 'subject');
  await mkdir(data, { recursive: true });
  const px = await photo(80, 60, 31);
  await writeFile(join(data, 'a.bmp'), writeBmp(px, { bpp: 24 }));
  await writeFile(join(data, 'a.txt'), 'a photo');
  await writeFile(join(data, 'b.png'), await photoPng({ seed: 32, width: 64, height: 64 }));
  const recipe = join(dir, 'recipe.yaml');
  await writeFile(recipe, [
    'name: bmp', `workdir: ${join(dir, 'work')}`,
    'source:', '  format: folder', `  path: ${join(dir, 'data')}`, '  labels: folder',
    'steps:', '  - probe: {}', '  - hash: {}', '  - filter:', '      drop: [corrupt]',
    'export:', '  - format: kohya', `    to: ${join(dir, 'out')}`, '    trigger: tok', '    class: thing', '',
  ].join('\n'));
  const result = await build(await loadRecipe(recipe), { workers: 1 });
  assert.equal(result.exitCode, 0, JSON.stringify(result.summary.attention));
  const folder = join(dir, 'out', 'img', '10_tok thing');
  const files = (await readdir(folder)).sort();
  const image = files.find((f) => f.startsWith('subject_a_bmp.'));
  assert.equal(image, 'subject_a_bmp.png', `exported files: ${files}`);
  const back = await sharp(await readFile(join(folder, image!))).raw().toBuffer({ resolveWithObject: true });
  assertPixels({ data: back.data, ...back.info }, px, 'exported png');
  assert.ok(files.includes('subject_b_png.png'));
});

test('report thumbnail: a BMP gets a webp thumbnail of its upright pixels', async () => {
  const dir = await tempDir('imgsift-bmp-thumb-');
  const px = await photo(90, 40, 41);
  const path = join(dir, 'a.bmp');
  await writeFile(path, writeBmp(px, { bpp: 24, topDown: true }));
  const url = await thumbnail(path);
  assert.ok(url?.startsWith('data:image/webp;base64,'), String(url));
  const meta = await sharp(Buffer.from(url!.split(',')[1], 'base64')).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 90, 40]);
  assert.equal(await thumbnail(join(dir, 'missing.bmp')), null);
});

test('crop step: a box cut out of a BMP has the pixels of that box', async () => {
  const px = await photo(60, 40, 51);
  const bytes = writeBmp(px, { bpp: 24 });
  const params = CropParams.parse({ box: 'bbox', format: 'png' });
  const out = await cropStep.run({
    id: 's', uri: '/x/a.bmp', name: 'a.bmp', bytes, sha256: 'x', upstream: {},
    roles: { image: { bytes, sha256: 'x', name: 'a.bmp' } }, fields: { bbox: [10, 5, 30, 25] },
  }, params);
  const file = out.files![0];
  const got = await sharp(file.bytes).raw().toBuffer({ resolveWithObject: true });
  const want = Buffer.alloc(20 * 20 * 3);
  for (let y = 0; y < 20; y++) px.data.copy(want, y * 60, ((y + 5) * 60 + 10) * 3, ((y + 5) * 60 + 30) * 3);
  assertPixels({ data: got.data, ...got.info }, { data: want, width: 20, height: 20, channels: 3 }, 'crop');
});
