import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PromptsSource } from '../../src/sources/prompts.js';
import { createSource, SourceConfigSchema } from '../../src/sources/index.js';
import { collect, tempDir } from './helpers.js';

test('prompts: one per line, blank lines skipped and counted, ids by line number', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'open_prompts.txt');
  await writeFile(file, '\ufeffa red car\r\n\n  \nan owl reading  \n고양이 한 마리');
  const src = new PromptsSource({ path: file, id: 'line' });
  const { records, bad } = await collect(src);
  assert.deepEqual(bad, []);
  assert.deepEqual(records.map((r) => [r.id, r.text, r.ref.endsWith(`open_prompts.txt:${r.id.slice(5)}`)]), [
    ['line-1', 'a red car', true], ['line-4', 'an owl reading', true], ['line-5', '고양이 한 마리', true],
  ]);
  assert.deepEqual(records[0].files, {});
  assert.equal(src.skipped, 2);
  assert.equal((await collect(src, { maxRecords: 2 })).records.length, 2);
});

test('prompts: a folder of .txt/.txt.gz files, split from the file name, hash ids', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'lists'));
  await writeFile(join(dir, 'lists', 'train.txt'), 'a red car\nan owl\n');
  await writeFile(join(dir, 'lists', 'Validation.txt.gz'), gzipSync('a red car\n'));
  await writeFile(join(dir, 'lists', 'notes.md'), 'not a prompt list');
  const config = SourceConfigSchema.parse({ format: 'prompts', path: 'lists', split: 'file' });
  const lines = await collect(createSource(config, dir));
  assert.deepEqual(lines.records.map((r) => [r.id, r.split]), [
    ['Validation.txt.gz/line-1', 'validation'], ['train.txt/line-1', 'train'], ['train.txt/line-2', 'train'],
  ]);
  const hashed = await collect(new PromptsSource({ path: join(dir, 'lists'), id: 'hash', split: 'train' }));
  assert.equal(hashed.records[0].id, hashed.records[1].id, 'the same prompt, the same id');
  assert.match(hashed.records[0].id, /^[0-9a-f]{16}$/);
  assert.ok(hashed.records.every((r) => r.split === 'train'));
  assert.throws(() => SourceConfigSchema.parse({ format: 'prompts', path: 'x', split: 'Train Set' }), /split name/);
  assert.throws(() => SourceConfigSchema.parse({ format: 'prompts', path: 'x', fields: { text: 'prompt' } }), /no columns to map/);
});
