import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { photoJpeg, photoPng } from '../../src/demo/synth.js';
import { formatKohyaReport, isKohyaFolder, validateKohya } from '../../src/validate/kohya.js';
import { tempDir } from '../helpers/tmp.js';

/** A minimal uncompressed 24-bit BMP (bottom-up rows padded to 4 bytes). */
function bmp(w: number, h: number): Buffer {
  const row = Math.ceil((w * 3) / 4) * 4;
  const b = Buffer.alloc(54 + row * h, 0x80);
  b.fill(0, 0, 54); // a real header: BI_RGB, no palette (only the pixels are grey)
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(w, 18);
  b.writeInt32LE(h, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  return b;
}

test('validate kohya: structure, pairs, resolution, format, corruption, captions, bucket fill', async () => {
  const root = await tempDir('imgsift-kohya-validate-');
  const img = join(root, 'img', '10_ohwx man');
  const reg = join(root, 'reg', '1_man');
  await mkdir(img, { recursive: true });
  await mkdir(reg, { recursive: true });
  await mkdir(join(root, 'img', 'no_repeats'), { recursive: true });
  const good = await photoPng({ seed: 1, width: 640, height: 896 });
  await writeFile(join(img, 'a.png'), good);
  await writeFile(join(img, 'a.txt'), 'ohwx, man, at a desk\n');
  await writeFile(join(img, 'a_aug1.png'), await sharp(good).flop().png().toBuffer());
  await writeFile(join(img, 'a_aug1.txt'), 'ohwx, man, at a desk\n');
  await writeFile(join(img, 'g.png'), good);
  await writeFile(join(img, 'g.txt'), 'ohwx, man, by a window\n');
  await writeFile(join(img, 'g_aug1.png'), good);
  await writeFile(join(img, 'g_aug1.txt'), 'ohwx, man, by a window\n');           // a copy's shared caption is fine
  await writeFile(join(img, 'b.jpg'), await photoJpeg({ seed: 2, width: 640, height: 896 }));
  await writeFile(join(img, 'b.txt'), 'a man without the trigger\n');
  await writeFile(join(img, 'c.jpg'), (await photoJpeg({ seed: 3, width: 640, height: 640 })).subarray(0, 3000));
  await writeFile(join(img, 'c.txt'), Buffer.from('caf\xe9, ohwx', 'latin1'));
  await writeFile(join(img, 'd.png'), await photoPng({ seed: 4, width: 320, height: 320 }));   // small, no caption
  await writeFile(join(img, 'e.bmp'), bmp(640, 896));
  await writeFile(join(img, 'e.txt'), 'ohwx, man, at a desk\n');                 // same caption as a
  await writeFile(join(img, 'orphan.txt'), 'ohwx\n');
  await writeFile(join(img, 'notes.md'), 'x');
  await writeFile(join(reg, 'r.jpg'), await photoJpeg({ seed: 5, width: 640, height: 896 }));
  await writeFile(join(reg, 'r.txt'), 'photo of a man\n');

  assert.ok(await isKohyaFolder(root));
  assert.ok(!(await isKohyaFolder(img)));
  const r = await validateKohya(root, { batchSize: 2 });
  const problems = r.problems.map((p) => `${p.file}: ${p.problem}`);
  const expect = [
    'img/no_repeats: folder name is not <repeats>_<name>: kohya will not read it',
    "img/10_ohwx man/b.txt: caption lacks the trigger word 'ohwx'",
    'img/10_ohwx man/c.txt: caption is not UTF-8',
    'img/10_ohwx man/d.png: no .txt caption (kohya falls back to the folder name)',
    'img/10_ohwx man/d.png: 320x320: under 512 px on the short side',
    'img/10_ohwx man/orphan.txt: caption without an image',
    'img/10_ohwx man/notes.md: neither an image kohya reads nor a .txt caption',
    'img/10_ohwx man/a.txt: same caption as 1 other image(s)',
    'img/10_ohwx man/a_aug1.txt: same caption as 1 other image(s)',
    'img/10_ohwx man/e.txt: same caption as 1 other image(s)',
    '320x320: bucket 320x320 holds 1 image(s), fewer than the batch size 2',
  ];
  for (const e of expect) assert.ok(problems.includes(e), `${e}\nin\n${problems.join('\n')}`);
  assert.ok(problems.some((p) => p.startsWith('img/10_ohwx man/c.jpg: corrupt')), 'truncated JPEG');
  assert.ok(!problems.some((p) => p.includes('e.bmp')), 'a sound BMP is accepted, never called corrupt');
  assert.ok(!problems.some((p) => p.includes('/g')), 'augmented copies may share their original\'s caption');
  assert.ok(!problems.some((p) => p.startsWith('reg/')), 'reg captions need no trigger');
  assert.equal(problems.length, expect.length + 1);
  assert.deepEqual(r.folders.map((f) => [f.dir, f.repeats, f.images]), [['img/10_ohwx man', 10, 8], ['reg/1_man', 1, 1]]);
  assert.equal(r.buckets['640x896'], 7, 'the BMP is decoded and counted in its bucket too');
  assert.match(formatKohyaReport(r), /Total images: 9\n[\s\S]*Issues found: 12\n/);
});
