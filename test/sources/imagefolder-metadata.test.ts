import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { photoJpeg } from '../../src/demo/synth.js';
import { ImageFolderSource } from '../../src/sources/imagefolder.js';
import { DEFAULT_IMAGE_EXTENSIONS } from '../../src/sources/config.js';
import type { Skip } from '../../src/sources/types.js';
import { collect, tempDir } from './helpers.js';

async function put(root: string, rel: string, seed: number): Promise<void> {
  const full = join(root, rel);
  await mkdir(dirname(full), { recursive: true });
  await writeFile(full, await photoJpeg({ seed, width: 40, height: 30 }));
}

test('imagefolder: metadata at any depth lists the files below it; unlisted images are skips, missing files are issues', async (t) => {
  const dir = await tempDir(t);
  // Seed 004's merged layout: split folders holding sub-datasets, each with its own metadata.
  await put(dir, 'train/ddb/a.jpg', 1);
  await put(dir, 'train/ddb/b.jpg', 2);
  await put(dir, 'train/chatgpt/images/c.jpg', 3);
  await put(dir, 'train/chatgpt/images/stray.jpg', 4);
  await put(dir, 'validation/d.jpg', 5);
  await put(dir, 'extra/e.jpg', 6);
  await writeFile(join(dir, 'train', 'ddb', 'metadata.jsonl'), '{"file_name":"a.jpg","text":"alpha"}\n{"file_name":"b.jpg","text":"beta"}\n{"file_name":"gone.jpg","text":"lost"}\n');
  await writeFile(join(dir, 'train', 'chatgpt', 'metadata.csv'), 'file_name,text\nimages/c.jpg,gamma\n');
  await writeFile(join(dir, 'metadata.jsonl'), '{"file_name":"validation/d.jpg","text":"delta"}\n');
  const skips: Skip[] = [];
  const { records, bad } = await collect(
    new ImageFolderSource({ path: dir, fields: {}, extensions: [...DEFAULT_IMAGE_EXTENSIONS], labels: 'infer' }),
    { onSkip: (s) => skips.push(s) },
  );
  assert.deepEqual(bad, []);
  assert.deepEqual(
    records.map((r) => [r.id, r.split, r.text, r.issue]).sort(),
    [
      ['train/chatgpt/images/c.jpg', 'train', 'gamma', undefined],
      ['train/ddb/a.jpg', 'train', 'alpha', undefined],
      ['train/ddb/b.jpg', 'train', 'beta', undefined],
      // The row naming a missing file is kept, with an issue naming the metadata file and line.
      ['train/ddb/gone.jpg', 'train', 'lost', { type: 'missing_file', evidence: { metadata: 'train/ddb/metadata.jsonl', line: 3, file: 'train/ddb/gone.jpg' } }],
      ['validation/d.jpg', 'validation', 'delta', undefined],
    ],
  );
  assert.deepEqual(
    skips.map((s) => [s.path.slice(dir.length + 1), s.reason]).sort(),
    [
      ['extra/e.jpg', 'image not in any metadata file'],
      ['train/chatgpt/images/stray.jpg', 'image not in any metadata file'],
    ],
  );

  // unlisted: ingest reads the unlisted images too, without label or text; the split comes from the path.
  const all: Skip[] = [];
  const ingested = await collect(
    new ImageFolderSource({ path: dir, fields: {}, extensions: [...DEFAULT_IMAGE_EXTENSIONS], labels: 'infer', unlisted: 'ingest' }),
    { onSkip: (s) => all.push(s) },
  );
  assert.deepEqual(all, []);
  const unlisted = ingested.records.filter((r) => r.text === undefined);
  assert.deepEqual(unlisted.map((r) => [r.id, r.split, r.label]).sort(), [
    ['extra/e.jpg', undefined, undefined],
    ['train/chatgpt/images/stray.jpg', 'train', undefined],
  ]);
  assert.equal(ingested.records.length, 7);
});

test('imagefolder: a csv metadata row naming a missing file gives its csv line', async (t) => {
  const dir = await tempDir(t);
  await put(dir, 'a.jpg', 1);
  await writeFile(join(dir, 'metadata.csv'), 'file_name,text\na.jpg,alpha\nsub/none.jpg,nothing\n');
  const { records } = await collect(new ImageFolderSource({ path: dir, fields: {}, extensions: [...DEFAULT_IMAGE_EXTENSIONS], labels: 'infer' }));
  assert.deepEqual(records.map((r) => r.issue), [undefined, { type: 'missing_file', evidence: { metadata: 'metadata.csv', line: 3, file: 'sub/none.jpg' } }]);
});
