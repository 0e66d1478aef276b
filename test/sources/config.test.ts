import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { photoJpeg } from '../../src/demo/synth.js';
import { createSource, SourceConfigSchema } from '../../src/sources/index.js';
import { collect, tempDir } from './helpers.js';

test('schema: defaults per format', () => {
  const folder = SourceConfigSchema.parse({ format: 'folder', path: './images' });
  assert.deepEqual(folder, {
    format: 'folder',
    path: './images',
    fields: {},
    extensions: ['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'bmp', 'avif', 'heic', 'heif'],
    recursive: true,
    labels: 'none',
  });
  const csv = SourceConfigSchema.parse({ format: 'csv', path: 'm.csv', fields: { image: 'file_name', files: { output: 'out' } } });
  assert.equal(csv.format === 'csv' && csv.delimiter, ',');
  assert.equal(csv.format === 'csv' && csv.allow_absolute_paths, false);
  const wds = SourceConfigSchema.parse({ format: 'webdataset', path: 's.tar', extensions: ['.JPG', 'png'] });
  assert.deepEqual(wds.format === 'webdataset' && wds.extensions, ['jpg', 'png']);
});

test('schema: typos and bad values are refused with the key named', () => {
  const typo = SourceConfigSchema.safeParse({ format: 'folder', path: 'x', recursve: false });
  assert.equal(typo.success, false);
  assert.match(JSON.stringify(typo.error?.issues), /recursve/);
  const badFormat = SourceConfigSchema.safeParse({ format: 'zip', path: 'x' });
  assert.equal(badFormat.success, false);
  const badField = SourceConfigSchema.safeParse({ format: 'jsonl', path: 'x', fields: { caption: 'c' } });
  assert.equal(badField.success, false);
  assert.equal(SourceConfigSchema.safeParse({ format: 'csv', path: 'x', delimiter: ';;' }).success, false);
  assert.equal(SourceConfigSchema.safeParse({ format: 'jsonl' }).success, false);
  assert.equal(SourceConfigSchema.safeParse({ format: 'jsonl', path: 'x', fields: { files: { image: 'y' } } }).success, false);
});

test('createSource: relative path and root resolve against the recipe folder', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'data', 'images'), { recursive: true });
  await writeFile(join(dir, 'data', 'images', 'a.jpg'), await photoJpeg({ seed: 1, width: 32, height: 32 }));
  await writeFile(join(dir, 'data', 'list.jsonl'), '{"image":"a.jpg","text":"x"}\n');
  const config = SourceConfigSchema.parse({ format: 'jsonl', path: 'data/list.jsonl', root: 'data/images' });
  const src = createSource(config, dir);
  assert.match(src.description, /jsonl manifest .*data\/list\.jsonl/);
  const { records } = await collect(src);
  assert.deepEqual(records.map((r) => [r.id, r.files.image, r.text]), [['a.jpg', join(dir, 'data', 'images', 'a.jpg'), 'x']]);

  const folder = createSource(SourceConfigSchema.parse({ format: 'folder', path: 'data/images' }), dir);
  assert.deepEqual((await collect(folder)).records.map((r) => r.id), ['a.jpg']);
});
