import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerTextDedup } from '../../src/cli/text-dedup.js';
import type { CliState } from '../../src/cli/common.js';
import { tempDir } from '../helpers/tmp.js';

async function run(args: string[]): Promise<{ code: number; stderr: string }> {
  const state: CliState = { exitCode: -1 };
  const program = new Command('imgsift').exitOverride();
  registerTextDedup(program, state);
  program.commands.forEach((c) => c.exitOverride());
  const write = process.stderr.write;
  const out = process.stdout.write;
  let stderr = '';
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    await program.parseAsync(['text-dedup', ...args], { from: 'user' });
  } finally {
    process.stderr.write = write;
    process.stdout.write = out;
  }
  return { code: state.exitCode, stderr };
}

const lines = async (p: string) => (await readFile(p, 'utf8')).split('\n').filter(Boolean);

test('text-dedup FILE --against FILE2 writes kept rows, removed rows with reasons, and counts per step', async () => {
  const dir = await tempDir();
  const train = join(dir, 'train.jsonl');
  const valid = join(dir, 'validation.jsonl');
  await writeFile(train, [
    '{"id": 1, "text": "a red car in the rain", "file_name": "1.png", "big": 12345678901234567890}',
    '{"id":2,"text":"A red car in the rain!","file_name":"2.png"}',
    '{"id":3,"text":"an owl reading a book","file_name":"3.png"}',
    '',
    '{"id":4,"text":"고양이 한 마리가 소파 위에서 자고 있다","file_name":"4.png"}',
    '{"id":5,"text":"a cat","file_name":"5.png"}',
  ].join('\n') + '\n');
  await writeFile(valid, '{"id":"v1","text":"An owl reading a book."}\n{"id":"v2","text":"고양이 한 마리가 소파 위에서 자고 있다."}\n');
  const out = join(dir, 'out');
  const r = await run([train, '--field', 'text', '--threshold', '0.85', '--against', valid, '--cross-threshold', '0.75', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await readdir(out)).sort(), ['kept.jsonl', 'removed.jsonl', 'summary.json', 'summary.txt']);

  const kept = await lines(join(out, 'kept.jsonl'));
  // Kept rows are copied byte for byte (the big integer keeps its digits).
  assert.deepEqual(kept, [
    '{"id": 1, "text": "a red car in the rain", "file_name": "1.png", "big": 12345678901234567890}',
    '{"id":5,"text":"a cat","file_name":"5.png"}',
  ]);
  const removed = (await lines(join(out, 'removed.jsonl'))).map((l) => JSON.parse(l));
  assert.deepEqual(removed.map((r) => [r.id, r._reason, r._matched_row.id, r._matched_row.line, r._similarity]), [
    [2, 'self', 1, 1, 1],
    [3, 'cross', 'v1', 1, 1],
    [4, 'cross', 'v2', 2, 1],
  ]);
  assert.equal(removed[0].file_name, '2.png');
  assert.equal(removed[0]._matched_row.file, train);
  assert.equal(removed[1]._matched_row.file, valid);
  assert.equal(removed[1]._matched_row.text, 'An owl reading a book.');

  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.rows_in, 5);
  assert.deepEqual(summary.steps.map((s: { step: string; removed: number; remaining: number }) => [s.step, s.removed, s.remaining]), [['self', 1, 4], ['cross', 2, 2]]);
  assert.equal(summary.kept, 2);
  const txt = await readFile(join(out, 'summary.txt'), 'utf8');
  assert.match(txt, /^rows in +5$/m);
  assert.match(txt, /^self-dedup \(>= 0\.85\) +-1 > 4$/m);
  assert.match(txt, /^cross-dedup \(>= 0\.75\) +-2 > 2 +near .*validation\.jsonl \(2 rows\)$/m);
  assert.match(txt, /^kept +2$/m);
});

test('text-dedup reads CSV and keeps every column', async () => {
  const dir = await tempDir();
  const file = join(dir, 'prompts.csv');
  await writeFile(file, 'id,prompt,seed\na,"a cat, sitting",1\nb,A cat sitting,2\nc,a dog,3\n');
  const out = join(dir, 'out');
  assert.equal((await run([file, '--field', 'prompt', '--out', out, '--quiet'])).code, 0);
  assert.deepEqual((await lines(join(out, 'kept.jsonl'))).map((l) => JSON.parse(l)), [
    { id: 'a', prompt: 'a cat, sitting', seed: '1' }, { id: 'c', prompt: 'a dog', seed: '3' },
  ]);
  const [r] = (await lines(join(out, 'removed.jsonl'))).map((l) => JSON.parse(l));
  assert.deepEqual(r, { id: 'b', prompt: 'A cat sitting', seed: '2', _reason: 'self', _matched_row: { file, line: 2, id: 'a', text: 'a cat, sitting' }, _similarity: 1 });
});

test('a malformed line stops with file and line (exit 2) unless --skip-bad-rows (exit 1)', async () => {
  const dir = await tempDir();
  const file = join(dir, 'p.jsonl');
  await writeFile(file, '{"text":"a cat"}\n{"text": oops}\n{"caption":"no text field"}\n{"text":"a cat."}\n');
  const out = join(dir, 'out');
  const bad = await run([file, '--out', out, '--quiet']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, new RegExp(`${file.replace(/[.]/g, '\\.')}:2: expected one JSON object per line`));
  await assert.rejects(readdir(out), 'nothing written');

  const skipped = await run([file, '--out', out, '--quiet', '--skip-bad-rows']);
  assert.equal(skipped.code, 1);
  assert.match(skipped.stderr, /p\.jsonl:3 \(field 'text'\): no such field/);
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.bad_rows_skipped, 2);
  assert.equal(summary.kept, 1);
  assert.equal(summary.removed, 1);
});

test('bad flags are refused', async () => {
  const dir = await tempDir();
  const file = join(dir, 'p.jsonl');
  await writeFile(file, '{"text":"a"}\n');
  await assert.rejects(run([file, '--out', dir, '--threshold', '1.5']), /--threshold must be a number above 0 and at most 1/);
  const r = await run([join(dir, 'p.txt'), '--out', dir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown file type/);
});

test('text-dedup --shingles word: reordered modifiers are copies; the measure is in the summary; repeats are not copies', async () => {
  const dir = await tempDir();
  const file = join(dir, 'prompts.jsonl');
  await writeFile(file, [
    '{"id":"a","text":"a castle on a hill, oil painting, 8k, golden hour"}',
    '{"id":"b","text":"golden hour, 8k, a castle on a hill, oil painting"}',
    '{"id":"c","text":"a cat"}',
    '{"id":"d","text":"a cat a cat a cat"}',
  ].join('\n') + '\n');
  const word = join(dir, 'word');
  assert.equal((await run([file, '--shingles', 'word', '--out', word, '--quiet'])).code, 0);
  const removed = (await lines(join(word, 'removed.jsonl'))).map((l) => JSON.parse(l).id);
  assert.deepEqual(removed, ['b']);
  assert.match(await readFile(join(word, 'summary.txt'), 'utf8'), /measure: Jaccard of word 1-gram multisets/);
  // Character shingles as plain sets: the repeated prompt is a near copy of the prompt said once.
  const sets = join(dir, 'sets');
  assert.equal((await run([file, '--no-multiset', '--threshold', '0.6', '--out', sets, '--quiet'])).code, 0);
  assert.ok((await lines(join(sets, 'removed.jsonl'))).some((l) => JSON.parse(l).id === 'd'));
  const multi = join(dir, 'multi');
  assert.equal((await run([file, '--threshold', '0.6', '--out', multi, '--quiet'])).code, 0);
  assert.ok(!(await lines(join(multi, 'removed.jsonl'))).some((l) => JSON.parse(l).id === 'd'));
});
