import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { photoJpeg } from '../../src/demo/synth.js';
import { jpegHeader } from '../../src/image/jpeg-header.js';
import { makeBadImages } from '../helpers/bad-images.js';

test('jpegHeader reads the size and EXIF orientation sharp reads, for every kind of JPEG', async () => {
  const base = await photoJpeg({ seed: 4, width: 203, height: 131 });
  const cases: Array<[string, Buffer]> = [
    ['baseline', base],
    ['progressive', await sharp(base).jpeg({ progressive: true }).toBuffer()],
    ['grey', await sharp(base).greyscale().jpeg().toBuffer()],
    ['cmyk', await sharp(base).toColourspace('cmyk').jpeg().toBuffer()],
    ['4:4:4 with ICC', await sharp(base).withIccProfile('p3').jpeg({ chromaSubsampling: '4:4:4' }).toBuffer()],
    ['arithmetic-free mozjpeg', await sharp(base).jpeg({ mozjpeg: true }).toBuffer()],
  ];
  for (const o of [1, 2, 3, 4, 5, 6, 7, 8]) cases.push([`orientation ${o}`, await sharp(base).withMetadata({ orientation: o }).jpeg().toBuffer()]);
  for (const [what, buf] of cases) {
    const m = await sharp(buf).metadata();
    assert.deepEqual(jpegHeader(buf), { width: m.width, height: m.height, orientation: m.orientation ?? 1 }, what);
  }
});

test('jpegHeader returns null for what is not a complete JPEG header, never throws', async () => {
  const bad = await makeBadImages();
  for (const [name, buf] of bad) {
    const h = jpegHeader(buf);
    if (name === 'truncated.jpg' || name === 'corrupt-data.jpg' || name === 'cmyk.jpg' || name === 'rotated.jpg') assert.ok(h, name);
    else assert.equal(h, null, name);
  }
  const jpg = await photoJpeg({ seed: 5, width: 64, height: 48 });
  // Cut inside the header: every prefix short of the whole frame header is null, never a wrong size.
  const sof = jpg.indexOf(Buffer.from([0xff, 0xc0]));
  const sofEnd = sof + 2 + jpg.readUInt16BE(sof + 2);
  for (let n = 0; n < sofEnd; n++) assert.equal(jpegHeader(jpg.subarray(0, n)), null, `${n} bytes`);
  assert.deepEqual(jpegHeader(jpg.subarray(0, sofEnd)), { width: 64, height: 48, orientation: 1 });
});
