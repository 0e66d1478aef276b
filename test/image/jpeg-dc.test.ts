import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { photoPixels } from '../../src/demo/synth.js';
import { decodeProgressiveDc, type DcImage } from '../../src/image/jpeg-dc.js';
import { cropPixels, orientPixels } from '../../src/image/raw-geometry.js';
import { dcPathApplies, processImage, type ResizeOptions } from '../../src/download/resizer.js';

/**
 * The reference is libjpeg-turbo's own 1/8 scaled decode (`djpeg -scale 1/8`, Debian's
 * libjpeg-turbo-progs), the same code path as sharp's shrink-on-load. Luma must match exactly;
 * RGB too wherever libjpeg reduces chroma with the 1x1 IDCT (4:4:4, 4:2:2); for 4:2:0 libjpeg
 * uses the 2x2 IDCT on chroma (AC coefficients), which the DC path approximates by bilinear
 * upsampling of the chroma DC plane, hence a tolerance there (mean and max absolute difference).
 */

const TOOLS = ['/usr/bin/djpeg', '/usr/bin/cjpeg', '/usr/bin/jpegtran'];
const missing = TOOLS.filter((t) => !existsSync(t));
const skip = missing.length ? `needs ${missing.join(', ')} (apt-get install -y libjpeg-turbo-progs)` : false;

const dir = mkdtempSync(join(tmpdir(), 'imgsift-jpeg-dc-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;

function tmp(bytes: Buffer, ext = 'jpg'): string {
  const f = join(dir, `${fileNo++}.${ext}`);
  writeFileSync(f, bytes);
  return f;
}

function run(cmd: string, args: string[], input?: Buffer): Buffer {
  return execFileSync(cmd, args, { input, maxBuffer: 1 << 28 });
}

interface Pnm { width: number; height: number; channels: number; data: Buffer }

function parsePnm(b: Buffer): Pnm {
  const m = /^P([56])\s+(\d+)\s+(\d+)\s+255\s/.exec(b.toString('latin1', 0, 64));
  assert.ok(m, 'djpeg output is PPM/PGM');
  return { channels: m[1] === '6' ? 3 : 1, width: Number(m[2]), height: Number(m[3]), data: b.subarray(m[0].length) };
}

/** djpeg -scale 1/8 (optionally -grayscale: luma only) of these bytes. */
function djpeg8(jpeg: Buffer, grey = false): Pnm {
  return parsePnm(run('/usr/bin/djpeg', [...(grey ? ['-grayscale'] : []), '-scale', '1/8'], jpeg));
}

interface Diff { max: number; p99: number; mean: number }

function diff(a: Buffer, b: Buffer): Diff {
  assert.equal(a.length, b.length);
  const hist = new Uint32Array(256);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    hist[d]++;
  }
  let max = 255;
  while (max > 0 && hist[max] === 0) max--;
  let p99 = 0;
  for (let seen = 0; p99 < 255 && (seen += hist[p99]) < 0.99 * a.length; ) p99++;
  return { max, p99, mean: sum / a.length };
}

function decoded(jpeg: Buffer, grey = false): DcImage {
  const r = decodeProgressiveDc(jpeg, { grey });
  assert.ok(r.ok, r.ok ? '' : `refused: ${r.reason}`);
  return r.image;
}

/**
 * Luma exactly as djpeg's; RGB within `rgb` (99th percentile and mean absolute difference; 0 = exact).
 * Returns the RGB difference for the caller's own checks.
 */
function assertMatchesDjpeg(jpeg: Buffer, what: string, rgb: { p99: number; mean: number }): Diff {
  const y = decoded(jpeg, true);
  const refY = djpeg8(jpeg, true);
  assert.deepEqual([y.width, y.height, y.channels], [refY.width, refY.height, 1], `${what}: size`);
  assert.equal(diff(y.data, refY.data).max, 0, `${what}: luma must be exact`);
  const img = decoded(jpeg);
  const ref = djpeg8(jpeg);
  assert.deepEqual([img.width, img.height, img.channels], [ref.width, ref.height, ref.channels], `${what}: size`);
  const d = diff(img.data, ref.data);
  assert.ok(d.p99 <= rgb.p99 && d.mean <= rgb.mean, `${what}: RGB differs by p99 ${d.p99}, mean ${d.mean.toFixed(3)} (max ${d.max}; allowed p99 ${rgb.p99}, mean ${rgb.mean})`);
  return d;
}

const EXACT = { p99: 0, mean: 0 };
/**
 * 4:2:0 chroma, bilinear DC plane vs libjpeg's 2x2 IDCT. Measured: the real FreshFlower.jpg mean
 * 1.1 (max 58), the noisy synthetic photos here mean 4.5-5.5, p99 30-41, max about 100 at
 * saturated colour edges: the 2x2 IDCT keeps detail inside a chroma block that a DC plane lacks.
 */
const CHROMA_420 = { p99: 48, mean: 6 };

/** A photo-like image with sides that are not multiples of the MCU (partial blocks and MCUs). */
async function photoPpm(seed: number, width = 333, height = 229): Promise<{ ppm: Buffer; raw: Buffer; width: number; height: number }> {
  const p = await photoPixels({ seed, width, height });
  const ppm = Buffer.concat([Buffer.from(`P6\n${width} ${height}\n255\n`, 'latin1'), p.data]);
  return { ppm, raw: p.data, width, height };
}

function cjpeg(ppm: Buffer, args: string[]): Buffer {
  return run('/usr/bin/cjpeg', ['-quality', '88', ...args], ppm);
}

/** The byte offsets of every segment marker outside entropy data, with its code. */
function markers(jpeg: Buffer): Array<{ at: number; code: number }> {
  const out = [];
  let p = 2;
  while (p < jpeg.length) {
    const code = jpeg[p + 1];
    out.push({ at: p, code });
    if (code === 0xd9) break;
    p += 2 + jpeg.readUInt16BE(p + 2);
    if (code === 0xda) {
      while (!(jpeg[p] === 0xff && jpeg[p + 1] !== 0 && (jpeg[p + 1] < 0xd0 || jpeg[p + 1] > 0xd7))) p++;
    }
  }
  return out;
}

test('sharp progressive JPEGs: 4:4:4 and grey exact, 4:2:0 luma exact and chroma close', { skip }, async () => {
  for (const seed of [1, 2]) {
    const p = await photoPpm(seed);
    const img = sharp(p.raw, { raw: { width: p.width, height: p.height, channels: 3 } });
    const j444 = await img.clone().jpeg({ progressive: true, quality: 90, chromaSubsampling: '4:4:4' }).toBuffer();
    const j420 = await img.clone().jpeg({ progressive: true, quality: 90, chromaSubsampling: '4:2:0' }).toBuffer();
    const grey = await img.clone().toColourspace('b-w').jpeg({ progressive: true, quality: 90 }).toBuffer();
    assertMatchesDjpeg(j444, `seed ${seed} 4:4:4`, EXACT);
    const d = assertMatchesDjpeg(j420, `seed ${seed} 4:2:0`, CHROMA_420);
    assert.ok(d.max > 0, '4:2:0 chroma is an approximation here: an exact match would mean the test does not exercise it');
    const g = decoded(grey);
    assert.equal(g.channels, 1);
    assert.equal(diff(g.data, djpeg8(grey).data).max, 0, 'grey exact');
  }
});

test('cjpeg/jpegtran progressive files: 4:2:2 and 4:1:1 exact, restart intervals, refinement after AC scans, non-interleaved DC', { skip }, async () => {
  const p = await photoPpm(3, 411, 203);
  // Exact where libjpeg also uses the 1x1 IDCT for chroma (4:2:2, 4:1:1, 4:4:0).
  for (const sample of ['2x1', '4x1', '1x2']) {
    assertMatchesDjpeg(cjpeg(p.ppm, ['-progressive', '-sample', sample]), `cjpeg ${sample}`, EXACT);
  }
  for (const restart of ['1', '3B', '7B']) {
    const j = cjpeg(p.ppm, ['-progressive', '-restart', restart, '-sample', '2x1']);
    assert.ok(j.includes(Buffer.from([0xff, 0xd0])), `restart ${restart}: has RST markers`);
    assertMatchesDjpeg(j, `cjpeg -restart ${restart} 4:2:2`, EXACT);
    assertMatchesDjpeg(cjpeg(p.ppm, ['-progressive', '-restart', restart]), `cjpeg -restart ${restart} 4:2:0`, CHROMA_420);
  }
  // A scan script: non-interleaved DC first scans (Al 2 and 1), DC refinements placed after AC
  // scans, one of them interleaved; luma's DC completed by a second refinement at the very end.
  const script = tmp(Buffer.from([
    '0: 0 0 0 2;', '1: 0 0 0 1;', '2: 0 0 0 1;',
    '0: 1 5 0 2;', '1: 1 63 0 1;', '2: 1 63 0 1;',
    '0: 0 0 2 1;',
    '0: 6 63 0 2;', '0: 1 63 2 1;',
    '1 2: 0 0 1 0;',
    '1: 1 63 1 0;', '2: 1 63 1 0;', '0: 1 63 1 0;',
    '0: 0 0 1 0;',
  ].join('\n')), 'txt');
  const baseline = cjpeg(p.ppm, ['-sample', '2x1']);
  const scripted = run('/usr/bin/jpegtran', ['-scans', script], baseline);
  const scripted420 = run('/usr/bin/jpegtran', ['-scans', script, '-restart', '2B'], cjpeg(p.ppm, []));
  const sos = markers(scripted).filter((m) => m.code === 0xda);
  assert.equal(sos.length, 14, 'the scan script was used');
  assertMatchesDjpeg(scripted, 'jpegtran scan script 4:2:2', EXACT);
  assertMatchesDjpeg(scripted420, 'jpegtran scan script 4:2:0 with restarts', CHROMA_420);
  assertMatchesDjpeg(run('/usr/bin/jpegtran', ['-progressive', '-restart', '1'], baseline), 'jpegtran -progressive -restart 1', EXACT);

  // Dropping the last scan (luma's final DC refinement): libjpeg decodes the rest (a progressive
  // file may stop after any scan) and so must this; the low DC bit then differs from the full file.
  const last = sos[sos.length - 1].at;
  const eoi = markers(scripted).find((m) => m.code === 0xd9)!.at;
  const dropped = Buffer.concat([scripted.subarray(0, last), scripted.subarray(eoi)]);
  assertMatchesDjpeg(dropped, 'without the last DC refinement', EXACT);
  assert.ok(diff(decoded(dropped, true).data, decoded(scripted, true).data).max > 0, 'the refinement scan changes the image');
});

test('real progressive photos (Debian wallpapers) match libjpeg at 1/8', { skip }, async (t) => {
  const photos = ['/usr/share/backgrounds/mate/abstract/Elephants_3840x2160.jpg', '/usr/share/backgrounds/mate/nature/FreshFlower.jpg'].filter(existsSync);
  if (photos.length === 0) return t.skip('no progressive wallpapers installed (mate-backgrounds)');
  for (const f of photos) assertMatchesDjpeg(readFileSync(f), f, CHROMA_420);
});

test('refused as designed: baseline, truncated, corrupt marker, CMYK, RGB, ICC, 12-bit-free checks', { skip }, async () => {
  const p = await photoPpm(4);
  const img = () => sharp(p.raw, { raw: { width: p.width, height: p.height, channels: 3 } });
  const prog = await img().jpeg({ progressive: true }).toBuffer();
  const refused = (bytes: Buffer, reason: RegExp, what: string) => {
    const r = decodeProgressiveDc(bytes);
    assert.ok(!r.ok, `${what}: should be refused`);
    assert.match(r.reason, reason, what);
  };
  refused(await img().jpeg().toBuffer(), /baseline/, 'baseline');
  for (const cut of [0.3, 0.7, 0.999]) refused(prog.subarray(0, Math.floor(prog.length * cut)), /truncated/, `truncated at ${cut}`);
  refused(prog.subarray(0, prog.length - 2), /truncated/, 'no EOI');
  refused(prog.subarray(0, markers(prog).find((m) => m.code === 0xda)!.at), /truncated/, 'cut at a segment boundary before the first scan');
  // A marker in the middle of the file turned into one libjpeg does not know.
  const dht = markers(prog).filter((m) => m.code === 0xc4);
  const corrupt = Buffer.from(prog);
  corrupt[dht[dht.length - 1].at + 1] = 0x02;
  refused(corrupt, /marker 0x2/, 'corrupt marker');
  // Bytes between header segments (a marker's 0xFF overwritten). After a scan the same bytes would
  // just read as more entropy data, for libjpeg too.
  const garbage = Buffer.from(prog);
  garbage[markers(prog).find((m) => m.code === 0xdb)!.at] = 0x12;
  refused(garbage, /unexpected byte/, 'garbage between segments');
  refused(await img().toColourspace('cmyk').jpeg({ progressive: true }).toBuffer(), /4 components/, 'CMYK');
  refused(cjpeg(p.ppm, ['-rgb', '-progressive']), /RGB|Adobe transform 0/, 'RGB JPEG');
  const icc = await img().withIccProfile('p3').jpeg({ progressive: true }).toBuffer();
  refused(icc, /ICC/, 'ICC profile');
  assert.ok(decodeProgressiveDc(icc, { allowIcc: true }).ok, 'ICC allowed on request');
  refused(Buffer.from('not a jpeg at all'), /SOI/, 'not a JPEG');
  // A scan header with a bad progression (Se < Ss on an AC scan) is a libjpeg error.
  const sos = markers(prog).filter((m) => m.code === 0xda)[1];
  const badScan = Buffer.from(prog);
  const ns = badScan[sos.at + 4];
  badScan[sos.at + 5 + 2 * ns + 1] = 0; // Se = 0 with Ss > 0
  refused(badScan, /progression/, 'bad progression');
});

const RESIZE: ResizeOptions = {
  mode: 'border', size: 32, onlyIfBigger: false, downscale: 'area', upscale: 'lanczos', format: 'jpeg', quality: 95, skipReencode: false, maxPixels: 178_956_970, failOn: 'error',
};

/** The old path (libvips shrink-on-load) for the same file: failOn 'warning' never takes the DC path. */
const OLD: ResizeOptions = { ...RESIZE, failOn: 'warning' };

async function pixelsOf(bytes: Buffer): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

test('the resizer through the DC path: same size and the same pixels as libvips shrink-on-load (4:2:0: close), EXIF-rotated too', { skip }, async () => {
  // 2603x1951: not a multiple of 8 (libvips keeps floor(W/8) of libjpeg's ceil(W/8)), shrink 81x.
  const p = await photoPpm(5, 2603, 1951);
  const img = () => sharp(p.raw, { raw: { width: p.width, height: p.height, channels: 3 } });
  const cases: Array<[string, Buffer, ResizeOptions]> = [
    ['4:4:4', await img().jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer(), RESIZE],
    ['4:2:0', await img().jpeg({ progressive: true }).toBuffer(), RESIZE],
    ['grey', await img().toColourspace('b-w').jpeg({ progressive: true }).toBuffer(), RESIZE],
    ['keep_ratio 200', await img().jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer(), { ...RESIZE, mode: 'keep_ratio', size: 200 }],
  ];
  for (const o of [3, 5, 6, 8]) {
    cases.push([`orientation ${o}`, await img().withMetadata({ orientation: o }).jpeg({ progressive: true, chromaSubsampling: '4:4:4' }).toBuffer(), { ...RESIZE, mode: 'keep_ratio_largest', size: 100 }]);
  }
  for (const [what, jpeg, o] of cases) {
    const r = await processImage(jpeg, o);
    const old = await processImage(jpeg, { ...o, failOn: 'warning' });
    assert.ok(r.ok && old.ok, what);
    const [w, h] = [r.originalWidth, r.originalHeight];
    assert.ok(dcPathApplies(w, h, o) && !dcPathApplies(w, h, { ...o, failOn: 'warning' }), `${what}: the DC path is the one compared`);
    assert.deepEqual([r.width, r.height, r.originalWidth, r.originalHeight], [old.width, old.height, old.originalWidth, old.originalHeight], what);
    const [a, b] = await Promise.all([pixelsOf(r.bytes), pixelsOf(old.bytes)]);
    assert.deepEqual([a.width, a.height], [b.width, b.height], what);
    const d = diff(a.data, b.data);
    // The same 1/8 image gives the same bytes, except 4:2:0 chroma (measured mean 1.1, max 8 here).
    if (what === '4:2:0') assert.ok(d.mean < 1.5 && d.max <= 16, `${what}: mean abs diff ${d.mean.toFixed(3)}, max ${d.max}`);
    else assert.equal(d.max, 0, `${what}: should be identical, differs by up to ${d.max}`);
  }
});

test('the DC path is not taken below a 9x reduction, for failOn warning, for baseline files', { skip }, async () => {
  assert.equal(dcPathApplies(2600, 1950, RESIZE), true);
  assert.equal(dcPathApplies(2600, 1950, OLD), false, 'failOn warning needs the AC data decoded');
  assert.equal(dcPathApplies(287, 200, RESIZE), false, 'shrink 8.97: sharp loads at 1/4 there');
  assert.equal(dcPathApplies(288, 200, RESIZE), true, 'shrink 9');
  assert.equal(dcPathApplies(2600, 250, { ...RESIZE, mode: 'keep_ratio', size: 32 }), false, 'keep_ratio: the smaller side sets the shrink (7.8)');
  assert.equal(dcPathApplies(2600, 1950, { ...RESIZE, mode: 'no' }), false, 'no resize');
  // A truncated progressive file still fails in the resizer (DC path refuses it, libvips decides).
  const p = await photoPpm(6, 640, 480);
  const prog = await sharp(p.raw, { raw: { width: p.width, height: p.height, channels: 3 } }).jpeg({ progressive: true }).toBuffer();
  const r = await processImage(prog.subarray(0, Math.floor(prog.length * 0.8)), RESIZE);
  assert.equal(r.ok, false, 'a truncated file is refused');
});

test('orientPixels is what sharp .rotate() does for each EXIF orientation; cropPixels keeps the top-left', async () => {
  const p = await photoPixels({ seed: 7, width: 37, height: 23 });
  const base = await sharp(p.data, { raw: { width: 37, height: 23, channels: 3 } }).jpeg().toBuffer();
  for (let o = 1; o <= 8; o++) {
    const tagged = await sharp(base).withMetadata({ orientation: o }).jpeg().toBuffer();
    const stored = await sharp(tagged).raw().toBuffer({ resolveWithObject: true });
    const upright = await sharp(tagged).rotate().raw().toBuffer({ resolveWithObject: true });
    const mine = orientPixels({ width: stored.info.width, height: stored.info.height, channels: 3, data: stored.data }, o);
    assert.deepEqual([mine.width, mine.height], [upright.info.width, upright.info.height], `orientation ${o}`);
    assert.ok(mine.data.equals(upright.data), `orientation ${o}: pixels`);
  }
  const c = cropPixels({ width: 37, height: 23, channels: 3, data: p.data }, 36, 22);
  assert.deepEqual([c.width, c.height], [36, 22]);
  assert.ok(c.data.subarray(36 * 3, 72 * 3).equals(p.data.subarray(37 * 3, 37 * 3 + 36 * 3)), 'row 1 starts at source row 1');
});
