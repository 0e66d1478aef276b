import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { StreamSha256 } from '../../src/export/hash-thread.js';

const sha256 = (chunks: Uint8Array[]) => {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
};

test('StreamSha256 equals sha256 of the concatenated chunks, small (in place) and large (worker), interleaved', async () => {
  const big = randomBytes(6 << 20);
  // Views into a larger buffer, a chunk reused after update, empty chunks, and a small stream.
  const large: Uint8Array[] = [big.subarray(0, 100), big.subarray(100, 3 << 20), Buffer.alloc(0), big.subarray(3 << 20)];
  const small: Uint8Array[] = [Buffer.from('hello '), Buffer.from('world')];
  const reused = Buffer.from('abc');
  const a = new StreamSha256();
  const b = new StreamSha256();
  for (let i = 0; i < Math.max(large.length, small.length); i++) {
    if (large[i]) a.update(large[i]);
    if (small[i]) b.update(small[i]);
  }
  b.update(reused);
  reused.fill(0x7a); // the stream holds its own copy
  assert.equal(await a.digest(), sha256(large));
  assert.equal(await b.digest(), sha256([...small, Buffer.from('abc')]));
  assert.equal(await new StreamSha256().digest(), sha256([]));
  const dropped = new StreamSha256();
  dropped.update(big);
  dropped.drop();
});
