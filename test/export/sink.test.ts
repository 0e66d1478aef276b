import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalSink, createSink, sameBytes, splitFileTarget } from '../../src/export/sink.js';
import { contentHash } from '../../src/export/content-hash.js';
import { tempDir } from '../helpers/tmp.js';

const xxh128 = (b: string | Buffer) => contentHash(typeof b === 'string' ? Buffer.from(b) : b);

test('LocalSink: complete or absent, identical content left untouched, temporary files never listed', async () => {
  const dir = await tempDir('imgsift-sink-');
  const sink = await createSink('out', dir);
  assert.ok(sink instanceof LocalSink);
  assert.equal(sink.root, join(dir, 'out'));

  const w = await sink.create('a/shard.tar');
  await w.write(Buffer.from('part one, '));
  assert.deepEqual(await sink.list(), [], 'nothing under the final name while writing');
  assert.equal((await readdir(join(dir, 'out', 'a'))).length, 1, 'only the temporary file');
  await w.write(Buffer.from('part two'));
  assert.deepEqual(await w.commit(), { size: 18, xxh128: await xxh128('part one, part two'), written: true });
  assert.equal(await readFile(join(dir, 'out', 'a', 'shard.tar'), 'utf8'), 'part one, part two');

  const mtime = (await stat(join(dir, 'out', 'a', 'shard.tar'))).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await sink.put('a/shard.tar', 'part one, part two')).written, false);
  assert.equal((await stat(join(dir, 'out', 'a', 'shard.tar'))).mtimeMs, mtime, 'identical: not rewritten');
  assert.equal((await sink.put('a/shard.tar', 'changed')).written, true);
  assert.equal(await readFile(join(dir, 'out', 'a', 'shard.tar'), 'utf8'), 'changed');

  const dropped = await sink.create('a/dropped.tar');
  await dropped.write(Buffer.from('x'));
  await dropped.abort();
  assert.deepEqual(await readdir(join(dir, 'out', 'a')), ['shard.tar'], 'abort leaves nothing');

  assert.deepEqual(await sink.stat('a/shard.tar'), { size: 7, xxh128: await xxh128('changed') });
  assert.equal(await sink.stat('a/none'), undefined);
  assert.equal((await sink.get('a/shard.tar'))!.toString(), 'changed');
  assert.equal(await sink.get('a/none'), undefined);
  await sink.put('a/b/c/deep.txt', 'x');
  await sink.put('a/b/kept.txt', 'y');
  await sink.remove('a/b/c/deep.txt');
  assert.deepEqual(await readdir(join(dir, 'out', 'a', 'b')), ['kept.txt'], 'the emptied folder c is gone, b (not empty) stays');
  await sink.remove('a/b/kept.txt');
  await sink.remove('a/shard.tar');
  assert.deepEqual(await sink.list(), []);
  assert.deepEqual(await readdir(join(dir, 'out')), [], 'folders left empty by removals are gone; the root stays');
  await assert.rejects(sink.put('../escape.txt', 'x'), /escapes out/);
});

test('LocalSink.putFile renames a scratch file into place, copies one from elsewhere, and always consumes it', async () => {
  const dir = await tempDir('imgsift-sink-');
  const sink = new LocalSink('out', join(dir, 'out'));
  const scratch = await sink.scratchFile('m/manifest.jsonl');
  await writeFile(scratch, '{"id":1}\n');
  assert.deepEqual(await sink.putFile('m/manifest.jsonl', scratch), { size: 9, xxh128: await xxh128('{"id":1}\n'), written: true });
  assert.deepEqual(await readdir(join(dir, 'out', 'm')), ['manifest.jsonl']);

  const elsewhere = join(dir, 'elsewhere.jsonl');
  await writeFile(elsewhere, '{"id":1}\n');
  assert.equal((await sink.putFile('m/manifest.jsonl', elsewhere)).written, false);
  await assert.rejects(stat(elsewhere), /ENOENT/, 'consumed even when identical');
  await writeFile(elsewhere, '{"id":2}\n');
  assert.equal((await sink.putFile('m/manifest.jsonl', elsewhere)).written, true);
  assert.equal(await readFile(join(dir, 'out', 'm', 'manifest.jsonl'), 'utf8'), '{"id":2}\n');
  await assert.rejects(stat(elsewhere), /ENOENT/);
  assert.deepEqual(await readdir(join(dir, 'out', 'm')), ['manifest.jsonl'], 'no temporary file left');
});

test('sameBytes tells files apart by any byte, past the first MiB too, and by length', async () => {
  const dir = await tempDir('imgsift-sink-');
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  const big = Buffer.alloc((3 << 20) + 5, 7);
  await writeFile(a, big);
  await writeFile(b, big);
  assert.equal(await sameBytes(a, b), true);
  const changed = Buffer.from(big);
  changed[(2 << 20) + 3] = 8;
  await writeFile(b, changed);
  assert.equal(await sameBytes(a, b), false);
  await writeFile(b, big.subarray(0, big.length - 1));
  assert.equal(await sameBytes(a, b), false);
  await writeFile(a, '');
  await writeFile(b, '');
  assert.equal(await sameBytes(a, b), true);
});

test('LocalSink.sweep removes temporary files of processes that are gone, not of live ones', async () => {
  const dir = await tempDir('imgsift-sink-');
  const sink = new LocalSink('out', dir);
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const deadPid = Number(gone.stdout);
  assert.ok(deadPid > 0);
  await mkdir(join(dir, 'train'), { recursive: true });
  await writeFile(join(dir, 'train', `.shard-000000.tar.${deadPid}.0123abcd.tmp`), 'half a shard');
  await mkdir(join(dir, 'train', `.shard-000001.${deadPid}.89abcdef.tmp`)); // a half-extracted --dev folder
  await writeFile(join(dir, 'train', `.shard-000002.tar.${process.pid}.00000000.tmp`), 'being written');
  await writeFile(join(dir, 'train', 'shard-000000.tar'), 'done');
  assert.deepEqual(await sink.list(), ['train/shard-000000.tar']);
  assert.equal(await sink.sweep(), 2);
  assert.deepEqual((await readdir(join(dir, 'train'))).sort(), [`.shard-000002.tar.${process.pid}.00000000.tmp`, 'shard-000000.tar']);
});

test('splitFileTarget and createSink name precise problems', async () => {
  assert.deepEqual(splitFileTarget('out/m.jsonl'), { dir: 'out', name: 'm.jsonl' });
  assert.deepEqual(splitFileTarget('m.jsonl'), { dir: '.', name: 'm.jsonl' });
  assert.deepEqual(splitFileTarget('/abs/m.csv'), { dir: '/abs', name: 'm.csv' });
  assert.deepEqual(splitFileTarget('s3://bucket-a/x/y/m.parquet'), { dir: 's3://bucket-a/x/y', name: 'm.parquet' });
  assert.deepEqual(splitFileTarget('s3://bucket-a/m.parquet'), { dir: 's3://bucket-a', name: 'm.parquet' });
  assert.throws(() => splitFileTarget('s3://bucket-a/'), /name a file under the bucket/);
  assert.throws(() => splitFileTarget('out/..'), /must name a file/);
  await assert.rejects(createSink('http://host/x', '/tmp'), /only local folders and s3:\/\/bucket\/prefix are supported/);
});
