import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { StreamMd5 } from '../../src/export/md5-thread.js';

const md5 = (chunks: Uint8Array[]) => {
  const h = createHash('md5');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
};

test('StreamMd5 equals md5 of the concatenated chunks, small (in place) and large (worker), interleaved', async () => {
  const big = randomBytes(6 << 20);
  // Views into a larger buffer, a chunk reused after update, empty chunks, and a small stream.
  const large: Uint8Array[] = [big.subarray(0, 100), big.subarray(100, 3 << 20), Buffer.alloc(0), big.subarray(3 << 20)];
  const small: Uint8Array[] = [Buffer.from('hello '), Buffer.from('world')];
  const reused = Buffer.from('abc');
  const a = new StreamMd5();
  const b = new StreamMd5();
  for (let i = 0; i < Math.max(large.length, small.length); i++) {
    if (large[i]) a.update(large[i]);
    if (small[i]) b.update(small[i]);
  }
  b.update(reused);
  reused.fill(0x7a); // the stream holds its own copy
  assert.equal(await a.digest(), md5(large));
  assert.equal(await b.digest(), md5([...small, Buffer.from('abc')]));
  assert.equal(await new StreamMd5().digest(), md5([]));
  const dropped = new StreamMd5();
  dropped.update(big);
  dropped.drop();
});
