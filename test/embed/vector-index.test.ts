import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorIndex } from '../../src/index/vector.js';
import { rng } from '../../src/demo/synth.js';
import { tempDir } from '../helpers/tmp.js';

function randomUnit(n: number, d: number, seed: number): Float32Array {
  const r = rng(seed);
  const v = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += (v[i * d + j] = r() - 0.5) ** 2;
    for (let j = 0; j < d; j++) v[i * d + j] /= Math.sqrt(s);
  }
  return v;
}

function exactTop(v: Float32Array, d: number, q: Float32Array, k: number): number[] {
  const n = v.length / d;
  const sims = Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += v[i * d + j] * q[j];
    return [i, s] as const;
  });
  return sims.sort((a, b) => b[1] - a[1]).slice(0, k).map((x) => x[0]);
}

test('HNSW search agrees with exact search; filter and radius search; save, reopen, add only new keys', async () => {
  const d = 32, n = 2000;
  const v = randomUnit(n, d, 3);
  const keys = Array.from({ length: n }, (_, i) => `k${i}`);
  const idx = await VectorIndex.create({ dim: d });
  assert.equal(idx.addMissing(keys.slice(0, 1500), v.subarray(0, 1500 * d)), 1500);
  const dir = await tempDir();
  await idx.save(dir, 'm');

  const { index: re, reused } = await VectorIndex.open(dir, 'm', { dim: d });
  assert.equal(reused, true);
  assert.equal(re.size, 1500);
  // Only the 500 new keys are added, though all 2000 are offered.
  assert.equal(re.addMissing(keys, v), 500);
  assert.equal(re.size, 2000);

  const queries = v.subarray(0, 50 * d);
  const res = re.search(queries, 10);
  let recall = 0;
  let self = 0;
  for (let q = 0; q < 50; q++) {
    const truth = new Set(exactTop(v, d, queries.subarray(q * d, (q + 1) * d), 10));
    recall += res[q].filter((m) => truth.has(m.key)).length / 10;
    if (re.keyAt(res[q][0].key) === `k${q}`) {
      self++;
      assert.ok(res[q][0].similarity > 0.99);
    }
  }
  // HNSW is approximate and its multi-threaded insertion order varies: one stored vector in a full
  // run of the suite was once not reached from the entry point. One miss in 50 is allowed, no more.
  assert.ok(self >= 49, `a stored vector is its own nearest neighbour for ${self} of 50 queries`);
  assert.ok(recall / 50 > 0.9, `recall@10 ${recall / 50}`);

  // A filter that rejects most keys still yields k results.
  const even = re.search(queries.subarray(0, d), 10, (key) => key % 50 === 0);
  assert.equal(even[0].length, 10);
  assert.ok(even[0].every((m) => m.key % 50 === 0));

  // Radius: a planted near copy is within 0.99, random vectors are not.
  const near = Float32Array.from(v.subarray(7 * d, 8 * d), (x, j) => x + (j === 0 ? 0.01 : 0));
  re.addMissing(['near7'], near);
  const within = re.within(v.subarray(7 * d, 8 * d), 0.99);
  assert.deepEqual(within[0].map((m) => re.keyAt(m.key)).sort(), ['k7', 'near7']);

  // Different settings: not reused.
  assert.equal((await VectorIndex.open(dir, 'm', { dim: d, quantization: 'i8' })).reused, false);
  assert.equal((await VectorIndex.open(dir, 'other', { dim: d })).reused, false);
});

test('a reopened index searches at the ef_search it is opened with (usearch forgets its own on load)', async () => {
  // 128-d random vectors: hard for HNSW, so a small candidate list misses neighbours a large one finds.
  const d = 128, n = 3000, q = 40, k = 10;
  const v = randomUnit(n, d, 11);
  const queries = randomUnit(q, d, 12);
  const idx = await VectorIndex.create({ dim: d, quantization: 'f32', expansionAdd: 32, threads: 1 }); // one thread: the same graph every run
  idx.addMissing(Array.from({ length: n }, (_, i) => String(i)), v);
  const dir = await tempDir();
  await idx.save(dir, 'r');
  const recall = async (ef: number) => {
    const { index } = await VectorIndex.open(dir, 'r', { dim: d, quantization: 'f32', expansionAdd: 32, expansionSearch: ef });
    const hits = index.search(queries, k);
    let found = 0;
    hits.forEach((h, i) => {
      const truth = new Set(exactTop(v, d, queries.subarray(i * d, (i + 1) * d), k).map(String));
      found += h.filter((x) => truth.has(index.keyAt(x.key))).length;
    });
    return found / (q * k);
  };
  const narrow = await recall(10);
  const wide = await recall(n);
  assert.ok(wide >= 0.99, `ef_search ${n}: recall ${wide}`);
  assert.ok(narrow < wide - 0.1, `ef_search 10 (${narrow}) is measurably below ef_search ${n} (${wide})`);
});
