import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tar from 'tar-stream';
import { photoJpeg, photoPng } from '../../src/demo/synth.js';
import { DEFAULT_IMAGE_EXTENSIONS } from '../../src/sources/config.js';
import { WebDatasetSource, splitMemberName } from '../../src/sources/webdataset.js';
import { parseTarMemberUri, readUri } from '../../src/util/uri.js';
import { collect, tempDir } from './helpers.js';

const exts = [...DEFAULT_IMAGE_EXTENSIONS];

type Entry = { name: string; data?: Buffer | string; type?: 'file' | 'directory' };

/** A real tar written by tar-stream. */
async function writeTar(file: string, entries: Entry[]): Promise<void> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((res, rej) => {
    pack.on('end', () => res());
    pack.on('error', rej);
  });
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' });
    else pack.entry({ name: e.name, mtime: new Date(0) }, e.data ?? '');
  }
  pack.finalize();
  await done;
  await writeFile(file, Buffer.concat(chunks));
}

test('splitMemberName follows the webdataset rule', () => {
  assert.deepEqual(splitMemberName('a/b/001.seg.PNG'), { key: 'a/b/001', ext: 'seg.png' });
  assert.deepEqual(splitMemberName('x.jpg'), { key: 'x', ext: 'jpg' });
  assert.equal(splitMemberName('README'), null);
  assert.equal(splitMemberName('dir/.hidden'), null);
});

test('webdataset: samples grouped, image located without reading it, text/cls/json read', async (t) => {
  const dir = await tempDir(t);
  const img0 = await photoJpeg({ seed: 1, width: 64, height: 48 });
  const img1 = await photoPng({ seed: 2, width: 32, height: 32 });
  const mask = await photoPng({ seed: 3, width: 32, height: 32 });
  const longDir = 'deep/' + 'x'.repeat(120);
  await writeTar(join(dir, 'shard-000.tar'), [
    { name: 'deep', type: 'directory' },
    { name: '000000.jpg', data: img0 },
    { name: '000000.txt', data: 'a hill at dusk\n' },
    { name: '000000.cls', data: '7' },
    { name: '000000.json', data: JSON.stringify({ source: 'synth', score: 0.5 }) },
    { name: `${longDir}/000001.input.png`, data: img1 },
    { name: `${longDir}/000001.mask.png`, data: mask },
    { name: `${longDir}/000001.summary.txt`, data: 'summary' },
    { name: '000002.txt', data: 'no image here' },
  ]);
  await writeTar(join(dir, 'shard-001.tar'), [{ name: '000003.webp', data: img0 }]);

  const src = new WebDatasetSource({ path: join(dir, 'shard-{000..001}.tar'), fields: {}, extensions: exts });
  const { records, bad } = await collect(src);
  assert.deepEqual(records.map((r) => r.id), ['000000', `${longDir}/000001`, '000003']);
  const [r0, r1, r3] = records;
  assert.equal(r0.text, 'a hill at dusk');
  assert.equal(r0.label, '7');
  assert.deepEqual(r0.meta, { source: 'synth', score: 0.5 });
  assert.equal(r0.path, '000000.jpg');
  assert.equal(r0.ref, 'shard-000.tar:000000');
  assert.deepEqual(await readUri(r0.files.image), img0);
  assert.equal(parseTarMemberUri(r0.files.image)?.tar, join(dir, 'shard-000.tar'));
  assert.deepEqual(await readUri(r1.files.image), img1, 'long (pax) names located correctly');
  assert.deepEqual(r1.meta, { 'summary.txt': 'summary' });
  assert.equal(r3.ref, 'shard-001.tar:000003');
  assert.equal(bad.length, 1);
  assert.match(bad[0].message, /shard-000\.tar.*sample '000002'.*no image member \(members: txt\)/);

  // Mapping: the main image by extension, an extra role, text from the json.
  const mapped = new WebDatasetSource({
    path: join(dir, 'shard-000.tar'),
    fields: { image: 'input.png', files: { mask: 'mask.png' }, text: 'summary.txt' },
    extensions: exts,
  });
  const m = await collect(mapped);
  assert.deepEqual(m.records.map((r) => r.id), [`${longDir}/000001`]);
  assert.deepEqual(await readUri(m.records[0].files.mask), mask);
  assert.equal(m.records[0].text, 'summary');
  assert.equal(m.bad.length, 2, 'samples without the mapped image member are reported');

  const folder = await collect(new WebDatasetSource({ path: dir, fields: {}, extensions: exts }), { maxRecords: 2 });
  assert.deepEqual(folder.records.map((r) => r.id), ['000000', `${longDir}/000001`]);
});

test('webdataset: GNU and pax tars made by the system tar', async (t) => {
  const dir = await tempDir(t);
  const src = join(dir, 'src');
  const longName = 'n'.repeat(150);
  await mkdir(join(src, 'part'), { recursive: true });
  const imgs: Buffer[] = [];
  for (let i = 0; i < 3; i++) {
    imgs.push(await photoJpeg({ seed: 10 + i, width: 50, height: 40 }));
    await writeFile(join(src, 'part', `${longName}${i}.jpg`), imgs[i]);
    await writeFile(join(src, 'part', `${longName}${i}.txt`), `caption ${i}`);
  }
  const names = [0, 1, 2].flatMap((i) => [`part/${longName}${i}.jpg`, `part/${longName}${i}.txt`]);
  for (const format of ['gnu', 'pax']) {
    const file = join(dir, `${format}.tar`);
    execFileSync('tar', [`--format=${format}`, '-cf', file, '-C', src, ...names]);
    const { records, bad } = await collect(new WebDatasetSource({ path: file, fields: {}, extensions: exts }));
    assert.deepEqual(bad, [], format);
    assert.deepEqual(records.map((r) => r.text), ['caption 0', 'caption 1', 'caption 2'], format);
    assert.equal(records[2].id, `part/${longName}2`);
    for (let i = 0; i < 3; i++) assert.deepEqual(await readUri(records[i].files.image), imgs[i], `${format} #${i}`);
  }
});

test('webdataset: a damaged shard is reported with path and offset; the next shard is read', async (t) => {
  const dir = await tempDir(t);
  const img = await photoJpeg({ seed: 5, width: 64, height: 48 });
  const entries = (prefix: string) =>
    Array.from({ length: 4 }, (_, i) => [
      { name: `${prefix}${i}.jpg`, data: img },
      { name: `${prefix}${i}.txt`, data: `t${i}` },
    ]).flat();
  const a = join(dir, 'a.tar');
  await writeTar(a, entries('a'));
  await writeTar(join(dir, 'b.tar'), entries('b'));
  // Damage the header of the 5th member (sample a2's image).
  const bytes = await readFile(a);
  const memberSpan = 512 + Math.ceil(img.length / 512) * 512;
  const fifth = 2 * (memberSpan + 1024);
  assert.equal(bytes.toString('latin1', fifth, fifth + 6), 'a2.jpg');
  bytes.write('garbage!', fifth + 10, 'latin1');
  await writeFile(a, bytes);

  const { records, bad } = await collect(new WebDatasetSource({ path: join(dir, '*.tar'), fields: {}, extensions: exts }));
  assert.deepEqual(records.map((r) => r.id), ['a0', 'a1', 'b0', 'b1', 'b2', 'b3']);
  assert.equal(bad.length, 1);
  assert.equal(bad[0].location.file, a);
  assert.match(bad[0].message, new RegExp(`damaged tar at byte ${fifth}: header checksum mismatch`));

  // A truncated shard keeps the samples before the cut.
  await writeFile(a, bytes.subarray(0, fifth - 511));
  const cut = await collect(new WebDatasetSource({ path: a, fields: {}, extensions: exts }));
  assert.deepEqual(cut.records.map((r) => r.id), ['a0', 'a1']);
  assert.equal(cut.records[1].text, undefined, 'a1.txt was cut off');
  assert.match(cut.bad[0].message, /runs past the end of the file/);
});
