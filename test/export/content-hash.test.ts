import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireHasher, contentHash, fileContentHash, releaseHasher } from '../../src/export/content-hash.js';

/** Bytes that are not all alike, `n` long. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) b[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
  return b;
}

test('the content hash is what xxh128sum (Debian xxhash) prints, for files, bytes, and chunks with a rollback', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-xxh-'));
  try {
    // Sizes around XXH3's internal block and stripe lengths, and a file read in several chunks.
    for (const [i, n] of [0, 1, 16, 17, 128, 129, 240, 241, 1024, 65536 + 7, 3_000_001].entries()) {
      const data = bytes(n, i + 1);
      const path = join(dir, `f${i}.bin`);
      await writeFile(path, data);
      const reference = execFileSync('xxh128sum', [path], { encoding: 'utf8' }).split(' ')[0];
      assert.match(reference, /^[0-9a-f]{32}$/);
      assert.deepEqual(await fileContentHash(path), { size: n, xxh128: reference }, `${n} bytes`);
      assert.equal(await contentHash(data), reference);
      // Fed in pieces, with a detour undone by restoring a saved state (as the tar packer rolls back).
      const h = await acquireHasher(); // reused after the first file: reset by acquireHasher
      const cut = Math.floor(n / 3);
      h.update(data.subarray(0, cut));
      const saved = h.save();
      h.update(Buffer.from('a sample left out'));
      h.load(saved);
      h.update(data.subarray(cut));
      assert.equal(h.digest('hex'), reference);
      releaseHasher(h);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('hashers are reused once given back (making one is a WebAssembly instance)', async () => {
  const a = await acquireHasher();
  a.update(Buffer.from('dropped half way'));
  releaseHasher(a);
  const b = await acquireHasher();
  assert.equal(b, a);
  assert.equal(b.update(Buffer.from('abc')).digest('hex'), await contentHash(Buffer.from('abc')), 'reset when handed out again');
  const c = await acquireHasher(); // the one in use is not handed out twice
  assert.notEqual(c, b);
  releaseHasher(b);
  releaseHasher(c);
});
