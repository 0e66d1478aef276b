import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lookahead, orderedMap } from '../../src/export/file-export.js';

test('Lookahead hands back results in input order, at most `concurrency` started, plain values without a promise', async () => {
  let running = 0;
  let most = 0;
  const fn = (i: number): number | Promise<number> => {
    if (i % 3 !== 0) return i * 10; // synchronous
    running++;
    most = Math.max(most, running);
    // Later items finish first: order must still be the input's.
    return new Promise((resolve) => setTimeout(() => (running--, resolve(i * 10)), 30 - i));
  };
  const items = Array.from({ length: 25 }, (_, i) => i);
  const got: number[] = [];
  let plain = 0;
  for (const l = new Lookahead(items, fn, 4); l.more(); ) {
    const r = l.next();
    if (!(r instanceof Promise)) plain++;
    got.push(await r);
  }
  assert.deepEqual(got, items.map((i) => i * 10));
  assert.equal(plain, 16, 'the 16 synchronous results come back as values');
  assert.ok(most <= 4 && most >= 2, `in flight at once: ${most}`);
});

test('orderedMap yields in order and surfaces a failure at its place', async () => {
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const r of orderedMap([1, 2, 3, 4], async (i) => {
      if (i === 3) throw new Error('three');
      return i;
    }, 2)) seen.push(r);
  }, /three/);
  assert.deepEqual(seen, [1, 2]);
});
