import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { photoJpeg, photoPng } from '../../src/demo/synth.js';
import { FolderSource } from '../../src/sources/folder.js';
import { ImageFolderSource } from '../../src/sources/imagefolder.js';
import { DEFAULT_IMAGE_EXTENSIONS } from '../../src/sources/config.js';
import { collect, tempDir } from './helpers.js';

const exts = [...DEFAULT_IMAGE_EXTENSIONS];

async function put(root: string, rel: string, seed: number): Promise<void> {
  const full = join(root, rel);
  await mkdir(dirname(full), { recursive: true });
  const img = rel.endsWith('.png') ? await photoPng({ seed, width: 40, height: 30 }) : await photoJpeg({ seed, width: 40, height: 30 });
  await writeFile(full, img);
}

test('folder: sorted walk, labels from class folders, hidden and non-image files skipped', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'data');
  await put(root, 'cat/b.jpg', 1);
  await put(root, 'cat/a.JPG', 2);
  await put(root, 'dog/z/deep.png', 3);
  await put(root, 'top.jpeg', 4);
  await put(root, '.hidden/x.jpg', 5);
  await put(root, 'cat/.y.jpg', 6);
  await writeFile(join(root, 'cat', 'notes.txt'), 'x');
  await put(dir, 'outside/secret.jpg', 7);
  await symlink(join(dir, 'outside'), join(root, 'link-out'));
  await symlink(join(root, 'cat', 'b.jpg'), join(root, 'link-in.jpg'));
  await symlink(root, join(root, 'dog', 'loop'));

  const src = new FolderSource({ path: root, extensions: exts, recursive: true, labels: 'folder' });
  const { records, bad } = await collect(src);
  assert.deepEqual(bad, []);
  assert.deepEqual(records.map((r) => r.id), ['cat/a.JPG', 'cat/b.jpg', 'dog/z/deep.png', 'link-in.jpg', 'top.jpeg']);
  assert.deepEqual(records.map((r) => r.label), ['cat', 'cat', 'dog', undefined, undefined]);
  assert.equal(records[0].files.image, join(root, 'cat/a.JPG'));
  assert.equal(records[0].path, 'cat/a.JPG');
  assert.deepEqual(src.counts, { notImages: 1, hidden: 2, linksRefused: 2 });

  const again = await collect(src);
  assert.deepEqual(again.records, records, 'same order on every read');

  const flat = await collect(new FolderSource({ path: root, extensions: ['png'], recursive: false, labels: 'none' }));
  assert.deepEqual(flat.records, []);
  const one = await collect(new FolderSource({ path: root, extensions: exts, recursive: false, labels: 'none' }));
  assert.deepEqual(one.records.map((r) => [r.id, r.label]), [['link-in.jpg', undefined], ['top.jpeg', undefined]]);
  const limited = await collect(src, { maxRecords: 2 });
  assert.deepEqual(limited.records.map((r) => r.id), ['cat/a.JPG', 'cat/b.jpg']);
});

test('folder: a missing root is a clear error', async (t) => {
  const dir = await tempDir(t);
  const src = new FolderSource({ path: join(dir, 'nope'), extensions: exts, recursive: true, labels: 'none' });
  await assert.rejects(() => collect(src), /nope: source folder does not exist/);
});

test('imagefolder: split folders with class folders and no metadata → split and label', async (t) => {
  const dir = await tempDir(t);
  await put(dir, 'train/cat/1.jpg', 1);
  await put(dir, 'train/dog/2.jpg', 2);
  await put(dir, 'validation/cat/3.jpg', 3);
  await put(dir, 'test/4.jpg', 4);
  await put(dir, 'other/5.jpg', 5);
  const { records, bad } = await collect(new ImageFolderSource({ path: dir, fields: {}, extensions: exts, labels: 'infer' }));
  assert.deepEqual(bad, []);
  assert.deepEqual(
    records.map((r) => [r.id, r.split, r.label]),
    [
      ['test/4.jpg', 'test', undefined],
      ['train/cat/1.jpg', 'train', 'cat'],
      ['train/dog/2.jpg', 'train', 'dog'],
      ['validation/cat/3.jpg', 'validation', 'cat'],
    ],
  );
  assert.equal(records[1].files.image, join(dir, 'train/cat/1.jpg'));
});

test('imagefolder: metadata.jsonl / metadata.csv per split, file_name relative to the metadata folder', async (t) => {
  const dir = await tempDir(t);
  await put(dir, 'train/a.png', 1);
  await put(dir, 'train/sub/b.png', 2);
  await put(dir, 'train/unlisted.png', 3);
  await put(dir, 'val/c.png', 4);
  await writeFile(
    join(dir, 'train', 'metadata.jsonl'),
    [
      JSON.stringify({ file_name: 'a.png', text: 'first prompt', style: 'x' }),
      JSON.stringify({ file_name: 'sub/b.png', text: 'second prompt' }),
      JSON.stringify({ file_name: '../val/c.png', text: 'sneaky' }),
    ].join('\n'),
  );
  await writeFile(join(dir, 'val', 'metadata.csv'), 'file_name,text\nc.png,"third, prompt"\n');
  const { records, bad } = await collect(new ImageFolderSource({ path: dir, fields: {}, extensions: exts, labels: 'infer' }));
  assert.deepEqual(
    records.map((r) => [r.id, r.path, r.split, r.text]),
    [
      ['train/a.png', 'train/a.png', 'train', 'first prompt'],
      ['train/sub/b.png', 'train/sub/b.png', 'train', 'second prompt'],
      ['val/c.png', 'val/c.png', 'val', 'third, prompt'],
    ],
  );
  assert.deepEqual(records[0].meta, { style: 'x' });
  assert.equal(bad.length, 1);
  assert.equal(bad[0].location.file, join(dir, 'train', 'metadata.jsonl'));
  assert.equal(bad[0].location.line, 3);
  assert.match(bad[0].message, /escapes the dataset root/);
});

test('imagefolder: one root metadata file, no split folders; mapped caption column', async (t) => {
  const dir = await tempDir(t);
  await put(dir, 'images/a.jpg', 1);
  await put(dir, 'images/b.jpg', 2);
  await writeFile(join(dir, 'metadata.csv'), 'file_name,prompt,label\nimages/a.jpg,p1,0\nimages/b.jpg,p2,1\n');
  const { records } = await collect(new ImageFolderSource({ path: dir, fields: { text: 'prompt' }, extensions: exts, labels: 'infer' }));
  assert.deepEqual(records.map((r) => [r.id, r.split, r.text, r.label]), [['images/a.jpg', undefined, 'p1', '0'], ['images/b.jpg', undefined, 'p2', '1']]);
});
