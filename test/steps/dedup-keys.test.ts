import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { exactKeys } from '../../src/steps/dedup-keys.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Prefix arrays and a full-digest lookup for these digests ('' = no digest), counting lookups. */
function inputs(digests: string[]) {
  const n = digests.length;
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  const present = new Uint8Array(n);
  digests.forEach((d, i) => {
    if (!d) return;
    hi[i] = parseInt(d.slice(0, 8), 16);
    lo[i] = parseInt(d.slice(8, 16), 16);
    present[i] = 1;
  });
  const asked: number[][] = [];
  const full = async (rows: number[]) => {
    asked.push(rows);
    return rows.map((i) => digests[i]);
  };
  return { prefixes: { hi, lo, present }, full, asked };
}

/** Equal keys exactly when equal digests; -1 exactly when none; keys dense from 0. */
function assertKeys(keys: Int32Array, digests: string[]): void {
  const seen = new Map<string, number>();
  digests.forEach((d, i) => {
    if (!d) return assert.equal(keys[i], -1, `row ${i} has no digest`);
    assert.ok(keys[i] >= 0);
    const k = seen.get(d);
    if (k === undefined) {
      assert.ok(![...seen.values()].includes(keys[i]), `row ${i}: a new digest reuses key ${keys[i]}`);
      seen.set(d, keys[i]);
    } else assert.equal(keys[i], k, `row ${i}: same digest, other key`);
  });
  assert.deepEqual([...new Set([...keys].filter((k) => k >= 0))].sort((a, b) => a - b), [...Array(seen.size).keys()]);
}

test('digests sharing their first 64 bits are told apart by the full digest; copies share a key', async () => {
  const a = sha('a');
  const b = sha('b');
  // Same first 16 hex digits as a, different afterwards: a prefix collision.
  const aTwin = a.slice(0, 16) + sha('twin').slice(16);
  const digests = [a, b, '', aTwin, a, b, sha('c'), '', aTwin, a];
  const { prefixes, full, asked } = inputs(digests);
  const keys = await exactKeys(prefixes, full);
  assertKeys(keys, digests);
  assert.notEqual(keys[0], keys[3]);
  // Only rows in a shared-prefix group were read in full, once, ascending.
  assert.deepEqual(asked, [[0, 1, 3, 4, 5, 8, 9]]);
});

test('distinct digests need no full reads, and a large random set keys exactly', async () => {
  const unique = Array.from({ length: 5000 }, (_, i) => sha(`u${i}`));
  const one = inputs(unique);
  assertKeys(await exactKeys(one.prefixes, one.full), unique);
  assert.equal(one.asked.length, 0);
  // A third repeated, some missing, some prefix twins.
  const mixed = unique.map((d, i) => (i % 3 === 0 ? unique[i >> 1] : i % 17 === 0 ? '' : i % 29 === 0 ? unique[i - 1].slice(0, 16) + d.slice(16) : d));
  const two = inputs(mixed);
  assertKeys(await exactKeys(two.prefixes, two.full), mixed);
});

test('a lookup that returns the wrong number of digests is an error', async () => {
  const { prefixes } = inputs([sha('x'), sha('x')]);
  await assert.rejects(exactKeys(prefixes, async () => []), /asked for 2 digests, got 0/);
});
