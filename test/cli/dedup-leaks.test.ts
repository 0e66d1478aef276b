import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Command } from 'commander';
import { photoJpeg } from '../../src/demo/synth.js';
import { registerDedup } from '../../src/cli/dedup.js';
import { LEAKS_CSV_HEADER, registerLeaks, summaryPathFor } from '../../src/cli/leaks.js';
import type { CliState } from '../../src/cli/common.js';
import { tempDir } from '../helpers/tmp.js';

const root = await tempDir();

/** Run one command in-process, as the binary would; returns the exit code. */
async function run(register: (p: Command, s: CliState) => void, args: string[]): Promise<number> {
  const state: CliState = { exitCode: 0 };
  const program = new Command().exitOverride();
  register(program, state);
  await program.parseAsync(['node', 'imgsift', ...args, '--quiet', '--workers', '2']);
  return state.exitCode;
}

const photo = (seed: number) => photoJpeg({ seed, width: 360, height: 270 });
const resized = async (b: Buffer) => sharp(b).resize(200).jpeg({ quality: 80 }).toBuffer();
const mirrored = async (b: Buffer) => sharp(b).flop().jpeg({ quality: 90 }).toBuffer();

test('dedup DIR --out OUT writes clusters.jsonl and duplicates.csv; exit 1 when an image cannot be decoded', async () => {
  const dir = join(root, 'dedup-in');
  await mkdir(join(dir, 'sub'), { recursive: true });
  const a = await photo(101);
  const b = await photo(202);
  await writeFile(join(dir, 'a.jpg'), a);
  await writeFile(join(dir, 'sub/a_copy.jpg'), a);
  await writeFile(join(dir, 'a_small.jpg'), await resized(a));
  await writeFile(join(dir, 'b.jpg'), b);
  await writeFile(join(dir, 'b_mirror.jpg'), await mirrored(b));
  for (let s = 0; s < 3; s++) await writeFile(join(dir, `other_${s}.jpg`), await photo(300 + s));
  const out = join(root, 'dedup-out');
  assert.equal(await run(registerDedup, ['dedup', dir, '--out', out]), 0);

  const clusters = (await readFile(join(out, 'clusters.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(clusters.length, 2);
  for (const c of clusters) {
    for (const k of ['cluster', 'keep', 'members', 'min_similarity', 'evidence']) assert.ok(k in c, `${k} in ${JSON.stringify(c)}`);
  }
  const byKeep = new Map(clusters.map((c) => [c.keep, c]));
  // keep: largest → the full-size original; a byte-identical tie goes to the first path.
  assert.deepEqual(byKeep.get('a.jpg').members, ['a.jpg', 'a_small.jpg', 'sub/a_copy.jpg']);
  assert.deepEqual(byKeep.get('b.jpg')?.members ?? byKeep.get('b_mirror.jpg')?.members, byKeep.has('b.jpg') ? ['b.jpg', 'b_mirror.jpg'] : ['b_mirror.jpg', 'b.jpg']);
  const csv = (await readFile(join(out, 'duplicates.csv'), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'cluster,path,kept,method,distance');
  assert.equal(csv.length, 1 + 5);
  const rowOf = (p: string) => csv.find((l) => l.split(',')[1] === p)!.split(',');
  assert.deepEqual(rowOf('a.jpg').slice(2), ['true', 'keep', '0']);
  assert.deepEqual(rowOf('sub/a_copy.jpg').slice(2), ['false', 'sha256', '0']);
  assert.equal(rowOf('a_small.jpg')[3], 'phash');
  assert.equal(rowOf(byKeep.has('b.jpg') ? 'b_mirror.jpg' : 'b.jpg')[3], 'phash_mirrored');

  await writeFile(join(dir, 'broken.jpg'), Buffer.from('not an image at all'));
  assert.equal(await run(registerDedup, ['dedup', dir, '--out', out]), 1);
  assert.equal((await readFile(join(out, 'clusters.jsonl'), 'utf8')).trim().split('\n').length, 2);
});

test('leaks --train --test --methods exact perceptual --phash-threshold 5 --output R.csv writes the report and R_summary.txt', async () => {
  const train = join(root, 'train');
  const test_ = join(root, 'test');
  await mkdir(join(train, 'cls'), { recursive: true });
  await mkdir(test_, { recursive: true });
  const photos = await Promise.all([11, 12, 13, 14].map(photo));
  for (const [i, p] of photos.entries()) await writeFile(join(train, 'cls', `t${i}.jpg`), p);
  await writeFile(join(test_, 'same.jpg'), photos[0]);
  await writeFile(join(test_, 'smaller.jpg'), await resized(photos[1]));
  await writeFile(join(test_, 'new1.jpg'), await photo(21));
  await writeFile(join(test_, 'new2.jpg'), await photo(22));
  const output = join(root, 'report', 'R.csv');
  const code = await run(registerLeaks, ['leaks', '--train', train, '--test', test_, '--methods', 'exact', 'perceptual', '--phash-threshold', '5', '--output', output]);
  assert.equal(code, 0);
  const lines = (await readFile(output, 'utf8')).trim().split('\n');
  assert.equal(lines[0], LEAKS_CSV_HEADER.join(','));
  assert.equal(lines[0], 'train_image,test_image,method,similarity,leak_type,hamming_distance');
  const rows = lines.slice(1).map((l) => l.split(','));
  assert.deepEqual(rows.map((r) => [r[0], r[1], r[2], r[4]]), [
    [join(train, 'cls/t0.jpg'), join(test_, 'same.jpg'), 'exact', 'exact_duplicate'],
    [join(train, 'cls/t1.jpg'), join(test_, 'smaller.jpg'), 'perceptual', 'near_duplicate'],
  ]);
  assert.ok(Number(rows[1][5]) <= 5);
  const summary = await readFile(summaryPathFor(output), 'utf8');
  assert.equal(summaryPathFor(output), join(root, 'report', 'R_summary.txt'));
  assert.match(summary, /leaked pairs: 2/);
  assert.match(summary, /exact: 1\n {2}perceptual: 1/);
  assert.match(summary, /exact_duplicate: 1\n {2}near_duplicate: 1/);
  assert.match(summary, /test images with a leak: 2 \(50\.00% of test\)/);

  // semantic without a model: refused up front as bad usage (exit 2), not a crash.
  const sem = await run(registerLeaks, ['leaks', '--train', train, '--test', test_, '--methods', 'semantic', '--output', output]);
  assert.equal(sem, 2);
});
