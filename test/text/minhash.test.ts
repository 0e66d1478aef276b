import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MinHasher, bandKeys, candidateProbability, estimateJaccard, jaccard, optimalLshParams, shingleSet,
} from '../../src/text/minhash.js';
import { LshTable, SetPool } from '../../src/text/lsh-index.js';
import { naiveJaccard, naiveShingles } from './helpers.js';

test('shingle sets: one per distinct padded n-gram, so 1–3 character texts still have shingles', () => {
  assert.equal(shingleSet('', 3).length, 0);
  assert.equal(shingleSet('a', 3).length, 1); // ⟨a⟩
  assert.equal(shingleSet('a', 4).length, 1); // shorter than n: the whole marked text
  assert.equal(shingleSet('ab', 3).length, 2);
  assert.equal(shingleSet('a cat', 3).length, 5);
  assert.equal(shingleSet('aaaa', 3).length, 3); // ⟨aa, aaa, aa⟩ — repeats count once
  for (const s of ['a cat', '고양이 한 마리', 'emoji 🐱🐱 cat']) {
    assert.equal(shingleSet(s, 3).length, naiveShingles(s, 3).size, s);
  }
  const set = shingleSet('hyper realistic photo of a crater', 3);
  for (let i = 1; i < set.length; i++) assert.ok(set[i - 1] < set[i], 'sorted and distinct');
});

test('jaccard of shingle sets equals the Jaccard of the n-gram string sets', () => {
  const pairs: Array<[string, string]> = [
    ['a cat', 'a cat.'], ['a cat', 'a cats'], ['a cat', 'a dog'], ['a', 'a'], ['a', 'b'],
    ['고양이 한 마리', '고양이 두 마리'],
    ['hyper realistic photo of very friendly and dystopian crater', 'hyper realistic photo of a very friendly and dystopian crater'],
  ];
  for (const [a, b] of pairs) {
    for (const n of [2, 3, 4]) assert.equal(jaccard(shingleSet(a, n), shingleSet(b, n)), naiveJaccard(a, b, n), `${a} | ${b} | n=${n}`);
  }
  assert.equal(jaccard(shingleSet('a cat'), shingleSet('a cats')), 4 / 7);
  assert.equal(jaccard(shingleSet('a cat'), shingleSet('a dog')), 1 / 9);
});

test('MinHash estimates Jaccard without bias', () => {
  const h = new MinHasher(256, 7);
  const words = 'red blue green cat dog bird tree house river moon sun star cloud rain snow fire'.split(' ');
  let sumErr = 0;
  let sumAbs = 0;
  const pairs = 200;
  for (let p = 0; p < pairs; p++) {
    const a = Array.from({ length: 12 }, (_, i) => words[(p * 7 + i * 3) % words.length]).join(' ');
    const b = a.split(' ').map((w, i) => (i % (2 + (p % 5)) === 0 ? words[(p + i) % words.length] : w)).join(' ');
    const sa = shingleSet(a);
    const sb = shingleSet(b);
    const err = estimateJaccard(h.signature(sa), h.signature(sb)) - jaccard(sa, sb);
    sumErr += err;
    sumAbs += Math.abs(err);
  }
  assert.ok(Math.abs(sumErr / pairs) < 0.01, `mean error ${sumErr / pairs}`);
  assert.ok(sumAbs / pairs < 0.05, `mean absolute error ${sumAbs / pairs}`); // σ ≈ sqrt(J(1-J)/256) ≤ 0.031
  // Identical sets give identical signatures; the signature is deterministic.
  assert.deepEqual(h.signature(shingleSet('a cat')), new MinHasher(256, 7).signature(shingleSet('a cat')));
});

test('LSH banding favours recall: a pair at the threshold becomes a candidate with probability > 0.9', () => {
  for (const t of [0.5, 0.75, 0.85, 0.95]) {
    const p = optimalLshParams(t, 128);
    assert.ok(p.bands * p.rows <= 128, `${t}: ${p.bands}x${p.rows}`);
    assert.ok(candidateProbability(t, p.bands, p.rows) > 0.9, `${t}: ${candidateProbability(t, p.bands, p.rows)}`);
    assert.ok(candidateProbability(t - 0.3, p.bands, p.rows) < 0.25, `${t}: far pairs are rarely candidates`);
  }
  // datasketch's weights (0.5/0.5) give a stricter curve with fewer candidates.
  const ds = optimalLshParams(0.85, 128, { falsePositive: 0.5, falseNegative: 0.5 });
  assert.ok(candidateProbability(0.85, ds.bands, ds.rows) < candidateProbability(0.85, optimalLshParams(0.85, 128).bands, optimalLshParams(0.85, 128).rows));
  assert.throws(() => optimalLshParams(0, 128), /threshold must be in \(0, 1\]/);
});

test('LshTable returns every item sharing a band key, once, also after growing', () => {
  const table = new LshTable(3, 2);
  const keys = (a: number, b: number, c: number) => Uint32Array.of(a, b, c);
  for (let i = 0; i < 1000; i++) table.add(keys(i, 5000 + (i % 10), 100000 + i));
  const found: number[] = [];
  // One table serves all bands, so keys must differ between bands (bandKeys hashes the band in).
  table.candidates(keys(7, 5003, 999_999), (item) => found.push(item));
  // item 7 shares band 0 and band 1; items ≡ 3 (mod 10) share band 1.
  const expected = new Set([7, ...Array.from({ length: 100 }, (_, k) => 3 + 10 * k)]);
  assert.equal(found.length, expected.size);
  assert.deepEqual(new Set(found), expected);
  const none: number[] = [];
  table.candidates(keys(99999, 99999, 99999), (i) => none.push(i));
  assert.deepEqual(none, []);
});

test('SetPool keeps many sets in one buffer', () => {
  const pool = new SetPool();
  for (let i = 0; i < 5000; i++) pool.add(Uint32Array.from({ length: i % 40 }, (_, k) => i + k));
  assert.equal(pool.size, 5000);
  assert.deepEqual([...pool.get(4321)], Array.from({ length: 4321 % 40 }, (_, k) => 4321 + k));
  assert.equal(pool.length(40), 0);
});

test('band keys differ between bands holding the same values', () => {
  const sig = new Int32Array(8).fill(42);
  const k = bandKeys(sig, { bands: 2, rows: 4 });
  assert.notEqual(k[0], k[1]);
});

test('multiset shingles: Jaccard is the weighted Jaccard of n-gram counts, so repeats are not copies', async () => {
  const { naiveMultisetJaccard } = await import('./helpers.js');
  const pairs: Array<[string, string]> = [
    ['a cat', 'a cat a cat a cat'],
    ['aaaa', 'aaaaaaa'],
    ['a photo of a cat on a mat', 'a photo of a cat on a mat a photo of a cat on a mat'],
    ['고양이 한 마리', '고양이 두 마리'],
  ];
  for (const [a, b] of pairs) {
    for (const unit of ['char', 'word'] as const) {
      for (const n of [1, 2, 3]) {
        const got = jaccard(shingleSet(a, n, { unit, multiset: true }), shingleSet(b, n, { unit, multiset: true }));
        assert.equal(got, naiveMultisetJaccard(a, b, n, unit), `${a} | ${b} | ${unit} ${n}`);
      }
    }
  }
  // As sets, a long prompt pasted twice is nearly itself; as multisets it is half alike.
  const once = 'a photo of a cat on a mat';
  const twice = `${once} ${once}`;
  assert.ok(jaccard(shingleSet(once), shingleSet(twice)) > 0.85);
  assert.ok(jaccard(shingleSet(once, 3, { multiset: true }), shingleSet(twice, 3, { multiset: true })) < 0.55);
});

test('word shingles: words are units, order matters for n >= 2, spelling inside a word is one change', () => {
  const w = (s: string, n: number) => shingleSet(s, n, { unit: 'word' });
  assert.equal(w('a red car', 1).length, 5); // ⟨ a red car ⟩
  assert.equal(jaccard(w('red car', 1), w('car red', 1)), 1);
  assert.ok(jaccard(w('red car', 2), w('car red', 2)) < 0.2);
  assert.equal(jaccard(w('a red car', 2), w('a red car', 2)), 1);
  assert.equal(jaccard(w('a red car', 2), w('a red cars', 2)), 2 / 6);
});
