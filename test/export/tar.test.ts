import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { Readable } from 'node:stream';
import { tarBuffer, tarEntryBytes, TAR_END_BYTES, ustarNameProblem } from '../../src/export/tar.js';
import { tempDir } from '../helpers/tmp.js';

async function readTar(buf: Buffer): Promise<Array<{ name: string; data: Buffer; mtime: number; uid: number; mode: number; type: string; pax: unknown }>> {
  const ex = extract();
  const out: Array<{ name: string; data: Buffer; mtime: number; uid: number; mode: number; type: string; pax: unknown }> = [];
  Readable.from([buf]).pipe(ex as unknown as NodeJS.WritableStream);
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    const h = entry.header;
    out.push({ name: h.name, data: Buffer.concat(chunks), mtime: h.mtime!.getTime(), uid: h.uid!, mode: h.mode!, type: h.type!, pax: h.pax });
  }
  return out;
}

test('archives are byte-identical across runs and have fixed headers', async () => {
  const entries = [
    { name: 'a.txt', data: Buffer.from('hello') },
    { name: 'a.json', data: Buffer.from('{}') },
    { name: 'b.bin', data: Buffer.alloc(1000, 7) },
  ];
  const one = await tarBuffer(entries);
  await new Promise((r) => setTimeout(r, 1100)); // a wall-clock mtime would change across this gap
  const two = await tarBuffer(entries);
  assert.ok(one.equals(two));
  assert.equal(one.length, entries.reduce((s, e) => s + tarEntryBytes(e.data.length), 0) + TAR_END_BYTES);
  const read = await readTar(one);
  assert.deepEqual(read.map((e) => e.name), ['a.txt', 'a.json', 'b.bin']);
  for (const e of read) {
    assert.equal(e.mtime, 0);
    assert.equal(e.uid, 0);
    assert.equal(e.mode, 0o644);
    assert.equal(e.type, 'file');
  }
  assert.ok(read[2].data.equals(entries[2].data));
  // USTAR magic at offset 257 of the first header, and no PAX header anywhere.
  assert.equal(one.subarray(257, 263).toString('latin1'), 'ustar\0');
});

test('long names use the USTAR prefix field and GNU tar reads them back', async () => {
  const dir = await tempDir();
  const long = `${'d'.repeat(120)}/${'f'.repeat(90)}.jpg`;
  assert.equal(ustarNameProblem(long), null);
  const buf = await tarBuffer([{ name: long, data: Buffer.from('x') }]);
  const read = await readTar(buf);
  assert.equal(read[0].name, long);
  assert.equal(read[0].pax, null);
  const path = join(dir, 'long.tar');
  await writeFile(path, buf);
  assert.equal(execFileSync('tar', ['-tf', path], { encoding: 'utf8' }).trim(), long);
});

test('names that do not fit USTAR are rejected with the reason', async () => {
  assert.match(ustarNameProblem('x'.repeat(256))!, /is 256 bytes; USTAR allows at most 255/);
  assert.match(ustarNameProblem('y'.repeat(101))!, /cannot be split into a USTAR prefix/);
  assert.match(ustarNameProblem(`${'p'.repeat(160)}/short`)!, /prefix \(≤ 155 bytes\)/);
  assert.match(ustarNameProblem('café.jpg')!, /printable ASCII/);
  assert.match(ustarNameProblem('../evil')!, /relative/);
  await assert.rejects(tarBuffer([{ name: 'z'.repeat(300), data: Buffer.from('') }]), /USTAR allows at most 255/);
});

test('headers are byte for byte those tar-stream writes for the same members', async () => {
  const { pack } = await import('tar-stream');
  const entries = [
    { name: 'a.jpg', data: Buffer.alloc(0) },
    { name: 'k_0001.txt', data: Buffer.from('x') },
    { name: 'x/y/z.json', data: Buffer.alloc(511, 1) },
    { name: 'b.bin', data: Buffer.alloc(512, 2) },
    { name: 'c.bin', data: Buffer.alloc(513, 3) },
    { name: `${'d'.repeat(120)}/${'f'.repeat(90)}.jpg`, data: Buffer.alloc(70_000, 4) },
    { name: 'n'.repeat(100), data: Buffer.alloc(1, 5) },
  ];
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of entries) {
    await new Promise<void>((res, rej) =>
      p.entry({ name: e.name, size: e.data.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', type: 'file' }, e.data, (err) => (err ? rej(err) : res())),
    );
  }
  p.finalize();
  await done;
  assert.ok((await tarBuffer(entries)).equals(Buffer.concat(chunks)));
});
