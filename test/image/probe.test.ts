import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { probeImage, canonicalFormat, DEFAULT_MAX_PIXELS, type ProbeResult } from '../../src/image/probe.js';
import { UsageError } from '../../src/errors.js';
import { photo, photoJpeg, photoPng } from '../../src/demo/synth.js';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BAD_IMAGES, makeBadImages, writeBadImages } from '../helpers/bad-images.js';

const flaggedTypes = (r: ProbeResult) => r.issues.filter((i) => i.flagged).map((i) => i.type).sort();
const infoTypes = (r: ProbeResult) => r.issues.filter((i) => !i.flagged).map((i) => i.type).sort();
const issue = (r: ProbeResult, type: string) => r.issues.find((i) => i.type === type);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('every bad-image fixture gets exactly its expected issues and decode status', async () => {
  const files = await makeBadImages();
  assert.equal(files.size, BAD_IMAGES.length);
  for (const spec of BAD_IMAGES) {
    const bytes = files.get(spec.name)!;
    const r = await probeImage(bytes, spec.name);
    assert.deepEqual(flaggedTypes(r), [...spec.flagged].sort(), `${spec.name}: flagged issues`);
    assert.deepEqual(infoTypes(r), [...spec.info].sort(), `${spec.name}: informational issues`);
    assert.equal(r.decodes, spec.decodes, `${spec.name}: decodes`);
    assert.equal(r.error === null, spec.decodes, `${spec.name}: error set iff it does not decode (${r.error})`);
    assert.equal(r.bytes, bytes.length);
    assert.equal(r.sha256, sha(bytes));
    for (const i of r.issues) assert.equal(i.score, 1, `${spec.name}: ${i.type} score`);
  }
});

test('writeBadImages writes every fixture and returns the issues each must raise', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-bad-images-'));
  try {
    const expected = await writeBadImages(dir);
    assert.deepEqual((await readdir(dir)).sort(), BAD_IMAGES.map((b) => b.name).sort());
    assert.deepEqual(expected['truncated.jpg'], ['corrupt']);
    assert.deepEqual(expected['rotated.jpg'], []);
    for (const [name, types] of Object.entries(expected)) {
      const r = await probeImage(await readFile(join(dir, name)), name);
      assert.deepEqual(flaggedTypes(r), [...types].sort(), name);
    }
    await assert.rejects(writeBadImages(dir, ['nope.jpg']), /unknown fixture\(s\) nope\.jpg/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('corrupt files say why, in the decoder\'s words or ours', async () => {
  const f = await makeBadImages(['empty.jpg', 'text.jpg', 'page.jpg', 'random-bytes.jpg', 'truncated.jpg', 'truncated.png', 'corrupt-data.jpg']);
  const probe = (n: string) => probeImage(f.get(n)!, n);

  const empty = await probe('empty.jpg');
  assert.equal(empty.error, 'empty file (0 bytes)');
  assert.deepEqual(issue(empty, 'corrupt')!.evidence, { reason: 'empty file (0 bytes)', stage: 'read' });

  assert.equal((await probe('text.jpg')).error, 'not an image: text');
  assert.equal((await probe('page.jpg')).error, 'not an image: HTML document');
  const random = await probe('random-bytes.jpg');
  assert.match(random.error!, /^not an image: unrecognised content/);
  assert.equal(random.format, null);
  assert.equal(random.width, null);

  // Truncation is caught by the full decode: the header still parses, so the size is known.
  const tj = await probe('truncated.jpg');
  assert.equal(tj.format, 'jpeg');
  assert.equal(tj.width, 160);
  assert.match(tj.error!, /premature end of JPEG/);
  assert.match(tj.error!, /truncated/);
  assert.equal((issue(tj, 'corrupt')!.evidence as { stage: string }).stage, 'decode');
  const tp = await probe('truncated.png');
  assert.equal(tp.format, 'png');
  assert.match(tp.error!, /libpng read error.*truncated/);

  const cd = await probe('corrupt-data.jpg');
  assert.match(cd.error!, /Corrupt JPEG data/);
  assert.doesNotMatch(cd.error!, /truncated/, 'the file is complete, only its data is damaged');
});

test('JPEG shrink-on-load hides corrupt data that the probe\'s full decode catches', async () => {
  const bytes = (await makeBadImages(['corrupt-data.jpg'])).get('corrupt-data.jpg')!;
  // This is why the probe does not decode through a small resize: at 1/8 DCT scaling (320 → 20 px)
  // libjpeg reports nothing, even with failOn 'warning'.
  await sharp(bytes, { failOn: 'warning' }).resize(20).raw().toBuffer();
  assert.equal((await probeImage(bytes, 'x.jpg')).decodes, false);
  // A lenient decoder level accepts the damaged data (libjpeg recovers), which the option exposes.
  const lenient = await probeImage(bytes, 'x.jpg', { failOn: 'truncated' });
  assert.equal(lenient.decodes, true);
  assert.deepEqual(lenient.issues, []);
});

test('header fields of the unusual-but-valid fixtures', async () => {
  const f = await makeBadImages(['png-named.jpg', 'cmyk.jpg', '16bit.png', 'animated.gif', 'animated.webp', 'multipage.tiff', 'rotated.jpg', 'bomb.png']);
  const probe = (n: string) => probeImage(f.get(n)!, n);

  const wrong = await probe('png-named.jpg');
  assert.equal(wrong.format, 'png');
  assert.equal(wrong.extension, 'jpg');
  assert.deepEqual(issue(wrong, 'wrong_extension')!.evidence, { extension: 'jpg', detected: 'png', expected: 'jpeg' });

  const cmyk = await probe('cmyk.jpg');
  assert.equal(cmyk.color_space, 'cmyk');
  assert.equal(cmyk.channels, 4);

  const deep = await probe('16bit.png');
  assert.equal(deep.bit_depth, 16);
  assert.equal(deep.depth, 'ushort');
  assert.equal(deep.color_space, 'rgb16');
  assert.equal(issue(deep, 'high_bit_depth')!.flagged, false);

  for (const [name, kind] of [['animated.gif', 'animation'], ['animated.webp', 'animation'], ['multipage.tiff', 'pages']]) {
    const r = await probe(name);
    assert.equal(r.pages, 3, name);
    assert.equal(r.decoded_pages, 3, name);
    assert.equal(r.width, 64, name);
    assert.equal(r.height, 48, `${name}: height is one page, not the strip of all pages`);
    assert.deepEqual(issue(r, 'animated')!.evidence, { pages: 3, kind }, name);
  }

  const rot = await probe('rotated.jpg');
  assert.equal(rot.orientation, 6);
  assert.deepEqual([rot.width, rot.height, rot.display_width, rot.display_height], [160, 120, 120, 160]);

  const bomb = await probe('bomb.png');
  assert.deepEqual([bomb.width, bomb.height, bomb.decodes, bomb.decoded_pages], [20000, 20000, false, 0]);
  assert.match(bomb.error!, /20000x20000 \(400000000 pixels\), over the decompression-bomb limit of 178956970/);
  assert.deepEqual(issue(bomb, 'decompression_bomb')!.evidence, { width: 20000, height: 20000, pixels: 400_000_000, max_pixels: DEFAULT_MAX_PIXELS });
});

test('good JPEG, PNG and WebP photos probe clean', async () => {
  const jpg = await photoJpeg({ seed: 11, width: 320, height: 200 });
  const png = await photoPng({ seed: 12, width: 120, height: 90 });
  const webp = await (await photo({ seed: 13, width: 200, height: 150 })).ensureAlpha(0.8).webp().toBuffer();
  const cases: Array<[string, Buffer, string, number, number, number, boolean]> = [
    ['a/b/photo.JPG', jpg, 'jpeg', 320, 200, 3, false],
    ['photo.png', png, 'png', 120, 90, 3, false],
    ['photo.webp', webp, 'webp', 200, 150, 4, true],
  ];
  for (const [name, bytes, format, w, h, channels, alpha] of cases) {
    const r = await probeImage(bytes, name);
    assert.equal(r.format, format, name);
    assert.deepEqual([r.width, r.height, r.display_width, r.display_height], [w, h, w, h], name);
    assert.equal(r.channels, channels, name);
    assert.equal(r.has_alpha, alpha, name);
    assert.equal(r.bit_depth, 8, name);
    assert.equal(r.color_space, 'srgb', name);
    assert.equal(r.orientation, 1, name);
    assert.equal(r.pages, 1, name);
    assert.equal(r.decodes, true, name);
    assert.equal(r.error, null, name);
    assert.equal(r.bytes, bytes.length, name);
    assert.equal(r.sha256, sha(bytes), name);
    assert.deepEqual(r.issues, [], name);
  }
});

test('extension aliases are one type; unknown or missing extensions are not judged', async () => {
  const jpg = await photoJpeg({ seed: 14, width: 48, height: 32 });
  for (const name of ['x.jpg', 'x.JPEG', 'x.jpe', 'x.jfif', 'x.dat', 'noext', 'dir.v2/x', 'x.constructor']) {
    assert.equal(issue(await probeImage(jpg, name), 'wrong_extension'), undefined, name);
  }
  const tif = await (await photo({ seed: 15, width: 48, height: 32 })).tiff().toBuffer();
  assert.equal(issue(await probeImage(tif, 'x.tif'), 'wrong_extension'), undefined);
  assert.deepEqual(issue(await probeImage(jpg, 'x.webp'), 'wrong_extension')!.evidence, { extension: 'webp', detected: 'jpeg', expected: 'webp' });
  assert.equal(canonicalFormat('JPG'), 'jpeg');
  assert.equal(canonicalFormat('.tif'), 'tiff');
  assert.equal(canonicalFormat('avif'), 'avif');
  assert.equal(canonicalFormat('doc'), undefined);
  assert.equal(canonicalFormat('toString'), undefined);
  // Bytes that crossed a worker boundary come as a plain Uint8Array.
  const view = new Uint8Array(jpg.buffer.slice(jpg.byteOffset, jpg.byteOffset + jpg.length));
  const fromView = await probeImage(view, 'x.jpg');
  assert.deepEqual([fromView.format, fromView.decodes, fromView.sha256], ['jpeg', true, sha(jpg)]);
});

test('a BMP (decoded by src/image/bmp.ts, not libvips) decodes, and its extension is still judged', async () => {
  // 1x1 24-bit BMP: file header, BITMAPINFOHEADER, one padded pixel row.
  const bmp = Buffer.alloc(58);
  bmp.write('BM', 0, 'latin1');
  bmp.writeUInt32LE(58, 2);
  bmp.writeUInt32LE(54, 10);
  bmp.writeUInt32LE(40, 14);
  bmp.writeInt32LE(1, 18);
  bmp.writeInt32LE(1, 22);
  bmp.writeUInt16LE(1, 26);
  bmp.writeUInt16LE(24, 28);
  const r = await probeImage(bmp, 'scan.jpg');
  assert.equal(r.decodes, true, r.error ?? '');
  assert.equal(r.format, 'bmp');
  assert.deepEqual(flaggedTypes(r), ['wrong_extension']);
});

test('maxPixels is the per-page limit, checked before decoding', async () => {
  const png = await photoPng({ seed: 16, width: 64, height: 48 });
  const over = await probeImage(png, 'x.png', { maxPixels: 64 * 48 - 1 });
  assert.deepEqual(flaggedTypes(over), ['decompression_bomb']);
  assert.equal(over.decodes, false);
  const at = await probeImage(png, 'x.png', { maxPixels: 64 * 48 });
  assert.deepEqual(at.issues, []);
  assert.equal(at.decodes, true);

  // An animation whose pages fit one by one but not together: decoded up to its first page only.
  const gif = (await makeBadImages(['animated.gif'])).get('animated.gif')!;
  const partial = await probeImage(gif, 'a.gif', { maxPixels: 64 * 48 * 2 });
  assert.equal(partial.decodes, true);
  assert.equal(partial.decoded_pages, 1);
  assert.deepEqual(flaggedTypes(partial), ['animated']);
});

test('truncation anywhere never throws and never passes', async () => {
  const jpg = await photoJpeg({ seed: 17, width: 200, height: 150 });
  const png = await photoPng({ seed: 18, width: 100, height: 80 });
  const webp = await (await photo({ seed: 19, width: 100, height: 80 })).webp().toBuffer();
  for (const [name, bytes] of [['t.jpg', jpg], ['t.png', png], ['t.webp', webp]] as const) {
    for (const frac of [0.01, 0.1, 0.3, 0.6, 0.9, 0.97]) {
      const cut = bytes.subarray(0, Math.max(1, Math.floor(bytes.length * frac)));
      const r = await probeImage(cut, name);
      assert.equal(r.decodes, false, `${name} cut at ${frac}`);
      assert.deepEqual(flaggedTypes(r), ['corrupt'], `${name} cut at ${frac}`);
    }
  }
});

test('invalid options are rejected with the parameter named', async () => {
  const png = await photoPng({ seed: 20, width: 8, height: 8 });
  for (const maxPixels of [0, -5, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    await assert.rejects(probeImage(png, 'x.png', { maxPixels }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /maxPixels must be a positive integer/);
      return true;
    });
  }
  await assert.rejects(probeImage(png, 'x.png', { failOn: 'sometimes' as never }), /failOn must be one of warning, error, truncated, got sometimes/);
});
