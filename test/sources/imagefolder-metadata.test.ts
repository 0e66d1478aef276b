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

test('imagefolder: metadata at any depth lists the files below it; unlisted images and missing files are skips', async (t) => {
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
    records.map((r) => [r.id, r.split, r.text]).sort(),
    [
      ['train/chatgpt/images/c.jpg', 'train', 'gamma'],
      ['train/ddb/a.jpg', 'train', 'alpha'],
      ['train/ddb/b.jpg', 'train', 'beta'],
      ['validation/d.jpg', 'validation', 'delta'],
    ],
  );
  assert.deepEqual(
    skips.map((s) => [s.path.slice(dir.length + 1), s.reason]).sort(),
    [
      ['extra/e.jpg', 'image not in any metadata file'],
      ['train/chatgpt/images/stray.jpg', 'image not in any metadata file'],
      ['train/ddb/gone.jpg', 'listed in train/ddb/metadata.jsonl but missing'],
    ],
  );
});
