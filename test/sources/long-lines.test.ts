import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InputError } from '../../src/errors.js';
import { JsonlSource } from '../../src/sources/jsonl.js';
import { readLineBatches, type LineReadOptions, type TextLine } from '../../src/sources/textfile.js';
import { collect, tempDir } from './helpers.js';

async function readAll(file: string, options?: LineReadOptions): Promise<TextLine[]> {
  const out: TextLine[] = [];
  for await (const b of readLineBatches(file, options)) out.push(...b);
  return out;
}

/** A JSONL row carrying `bytes` bytes of caption (non-ASCII, so bytes != characters). */
function bigRow(id: string, bytes: number): string {
  return JSON.stringify({ id, image: 'https://example.com/a.jpg', caption: 'é'.repeat(bytes / 2) });
}

test('line reader: a 16 MB line is read whole, in linear time, between short lines with their numbers', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'big.jsonl');
  const big = bigRow('b', 16 * 1024 * 1024);
  await writeFile(file, `\ufeff{"id":"a"}\r\n${big}\r\n{"id":"c"}`);
  const t0 = performance.now();
  const lines = await readAll(file);
  const ms = performance.now() - t0;
  assert.deepEqual(lines.map((l) => l.line), [1, 2, 3]);
  assert.equal(lines[0].text, '{"id":"a"}');
  assert.equal(lines[1].text, big, 'the long line intact, CR removed');
  assert.equal(lines[2].text, '{"id":"c"}');
  // The quadratic reader took 8.4 s on a 16 MB line; linear is well under a second even on a busy machine.
  assert.ok(ms < 4000, `16 MB line read in ${ms.toFixed(0)} ms`);
});

test('line reader: a line over max_line_bytes is an InputError at file:line, or reported and skipped', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'm.jsonl');
  // Line 2 is 3000 bytes but only 1500 characters: the limit counts bytes.
  await writeFile(file, ['{"id":"a"}', 'x' + 'é'.repeat(1500), '{"id":"c"}', ''].join('\n'));
  await assert.rejects(readAll(file, { maxLineBytes: 2000 }), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.equal(err.location.line, 2);
    assert.match(err.message, /m\.jsonl:2: line longer than max_line_bytes \(2000 bytes/);
    return true;
  });
  const reported: InputError[] = [];
  const lines = await readAll(file, { maxLineBytes: 2000, onTooLong: (e) => reported.push(e) });
  assert.deepEqual(lines.map((l) => [l.line, l.text]), [[1, '{"id":"a"}'], [3, '{"id":"c"}']]);
  assert.deepEqual(reported.map((e) => e.location.line), [2]);
  // Exactly at the limit is accepted, CR not counted; and the last line without a newline is checked too.
  await writeFile(file, 'a'.repeat(2000) + '\r\n' + 'b'.repeat(2001));
  const exact: InputError[] = [];
  const got = await readAll(file, { maxLineBytes: 2000, onTooLong: (e) => exact.push(e) });
  assert.deepEqual(got.map((l) => l.text.length), [2000]);
  assert.deepEqual(exact.map((e) => e.location.line), [2]);
});

test('line reader: a gzipped manifest with a long line spanning many chunks', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'm.jsonl.gz');
  const big = bigRow('b', 1024 * 1024);
  await writeFile(file, gzipSync(`${big}\n{"id":"z"}\n`));
  const lines = await readAll(file);
  assert.deepEqual(lines.map((l) => [l.line, l.text.length]), [[1, big.length], [2, 10]]);
});

test('line reader: an abort stops the read inside one huge line', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'm.jsonl');
  await writeFile(file, 'x'.repeat(48 * 1024 * 1024));
  const ac = new AbortController();
  let chunks = 0;
  const reading = (async () => {
    // Abort from the stream's own progress: after a few chunks of the one line have been read.
    const it = readLineBatches(file, { signal: ac.signal });
    setImmediate(function tick() {
      if (++chunks > 5) ac.abort(new Error('stop'));
      else setImmediate(tick);
    });
    for await (const _ of it) assert.fail('no line should be finished');
  })();
  await assert.rejects(reading, /stop/);
});

test('jsonl source: max_line_bytes makes an over-long row a located bad row; the rest are read', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'm.jsonl');
  await writeFile(file, [bigRow('a', 100), bigRow('b', 10_000), bigRow('c', 100)].join('\n') + '\n');
  const src = new JsonlSource({ path: file, fields: { image: 'image' }, allowAbsolutePaths: false, maxLineBytes: 4096 });
  const { records, bad } = await collect(src);
  assert.deepEqual(records.map((r) => r.id), ['a', 'c']);
  assert.equal(bad.length, 1);
  assert.match(bad[0].message, /m\.jsonl:2: line longer than max_line_bytes \(4096 bytes/);
});
