import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_THRESHOLDS, clusterDuplicates, factsOrder, judgePair, type MatchItem } from '../../src/steps/dedup-match.js';
import type { DedupSignalsResult } from '../../src/steps/dedup-signals.js';
import { hammingHex } from '../../src/image/hashes.js';

/** A 16-hex code with the first `k` of the given bit positions flipped. */
function flip(hex: string, bits: number[]): string {
  let v = BigInt('0x' + hex);
  for (const b of bits) v ^= 1n << BigInt(b);
  return v.toString(16).padStart(16, '0');
}

const BASE_P = '9a3c5e71d2b4f608';
const BASE_D = '3c1f0e7a5b2d4869';
/** Mirror hashes far from the plain ones, as for a real photo. */
const far = (hex: string) => flip(hex, Array.from({ length: 32 }, (_, i) => i * 2));
/** Another picture: far from both the plain and the mirror hashes. */
const other = (hex: string) => flip(hex, Array.from({ length: 32 }, (_, i) => i * 2 + 1));

function item(id: string, p: string, d: string, extra: Partial<MatchItem> & { w?: number; h?: number; bytes?: number } = {}): MatchItem {
  const signals: DedupSignalsResult = {
    width: extra.w ?? 100, height: extra.h ?? 100, bytes: extra.bytes ?? 1000, pixel_sha256: `px-${id}`, phash: p,
    variants: { plain: { phash: p, dhash: d }, mirror: { phash: far(p), dhash: far(d) } },
  };
  return { id, path: extra.path ?? `${id}.jpg`, ord: extra.ord ?? 0, sha256: extra.sha256 ?? `sha-${id}`, signals };
}

test('judgePair: exact bytes, exact pixels, perceptual, borderline, different', () => {
  const t = DEFAULT_THRESHOLDS;
  const a = item('a', BASE_P, BASE_D);
  assert.equal(judgePair(a, item('b', BASE_P, BASE_D, { sha256: 'sha-a' }), t).method, 'sha256');
  const px = item('c', other(BASE_P), other(BASE_D));
  px.signals.pixel_sha256 = 'px-a';
  assert.equal(judgePair(a, px, t).method, 'pixels');
  const near = judgePair(a, item('d', flip(BASE_P, [1, 2, 3]), flip(BASE_D, [5, 6])), t);
  assert.deepEqual([near.verdict, near.method, near.distance, near.evidence.dhash], ['duplicate', 'phash', 3, 2]);
  const border = judgePair(a, item('e', flip(BASE_P, [1, 2, 3, 4, 9, 10, 11, 12]), flip(BASE_D, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])), t);
  assert.equal(border.verdict, 'borderline');
  assert.equal(judgePair(a, item('f', other(BASE_P), other(BASE_D)), t).verdict, 'different');
  assert.equal(judgePair(a, item('g', flip(BASE_P, [1]), BASE_D), { ...t, exactOnly: true }).verdict, 'different');
});

test('judgePair: a mirrored copy matches through the mirror variant', () => {
  const a = item('a', BASE_P, BASE_D);
  const m = item('m', far(BASE_P), far(BASE_D));
  // The copy's mirror is the original.
  m.signals.variants.mirror = { phash: BASE_P, dhash: flip(BASE_D, [0]) };
  const v = judgePair(a, m, DEFAULT_THRESHOLDS);
  assert.deepEqual([v.method, v.distance], ['phash_mirrored', 0]);
  assert.match(v.evidence.variants!, /mirror/);
  // Without the mirror variants the two are different pictures.
  const plainOnly = (x: MatchItem): MatchItem => ({ ...x, signals: { ...x.signals, variants: { ...x.signals.variants, mirror: { phash: other(BASE_P), dhash: other(BASE_D) } } } });
  assert.equal(judgePair(plainOnly(a), plainOnly(m), DEFAULT_THRESHOLDS).verdict, 'different');
});

test('clusters never chain: every member is within the thresholds of its kept image', async () => {
  // A chain a - b - c - d, each step 4 pHash bits (and 4 dHash bits), so a and c are 8 apart.
  const steps = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]];
  let p = BASE_P;
  let d = BASE_D;
  const items = [item('a', p, d, { w: 400, h: 400 })];
  for (const [k, bits] of steps.entries()) {
    p = flip(p, bits);
    d = flip(d, bits);
    items.push(item(String.fromCharCode(98 + k), p, d, { w: 300 - k * 10, h: 300 }));
  }
  const { clusters } = await clusterDuplicates(items, { thresholds: DEFAULT_THRESHOLDS, keep: 'largest' });
  // Transitive closure would make one cluster of four; keeper-centred clustering cannot.
  assert.deepEqual(clusters.map((c) => [items[c.keep].id, ...c.members.map((m) => items[m.index].id)]), [['a', 'b'], ['c', 'd']]);
  for (const c of clusters) {
    const keep = items[c.keep];
    for (const m of c.members) {
      const it = items[m.index];
      assert.ok(hammingHex(keep.signals.variants.plain.phash, it.signals.variants.plain.phash) <= DEFAULT_THRESHOLDS.phashThreshold);
    }
    assert.ok(c.minSimilarity <= 1 - 4 / 64 + 1e-9);
  }
});

test('min_similarity covers every pair of members, not just the kept image', async () => {
  // b and c are each 3 bits from a, on different bits: 6 apart from each other.
  const items = [
    item('a', BASE_P, BASE_D, { w: 500, h: 500 }),
    item('b', flip(BASE_P, [1, 2, 3]), BASE_D),
    item('c', flip(BASE_P, [20, 21, 22]), BASE_D),
  ];
  const { clusters } = await clusterDuplicates(items, { thresholds: DEFAULT_THRESHOLDS, keep: 'largest' });
  assert.equal(clusters.length, 1);
  assert.equal(clusters[0].members.length, 2);
  assert.equal(clusters[0].minSimilarity, 0.9063); // 1 - 6/64, to 4 decimals
  assert.equal(clusters[0].minSimilarityScope, 'all_pairs');
});

test('keeper rule: largest resolution, then file size, then path; first; path — with the reason', async () => {
  const mk = () => [
    item('small', BASE_P, BASE_D, { w: 100, h: 100, bytes: 9000, ord: 0, path: 'a/small.jpg' }),
    item('big', flip(BASE_P, [1]), BASE_D, { w: 200, h: 200, bytes: 10, ord: 2, path: 'c/big.jpg' }),
    item('big2', flip(BASE_P, [2]), BASE_D, { w: 200, h: 200, bytes: 500, ord: 1, path: 'b/big2.jpg' }),
  ];
  const run = async (keep: 'largest' | 'first' | 'path') => {
    const items = mk();
    const { clusters } = await clusterDuplicates(items, { thresholds: DEFAULT_THRESHOLDS, keep });
    assert.equal(clusters.length, 1);
    return { keep: items[clusters[0].keep].id, reason: clusters[0].keepReason };
  };
  assert.deepEqual(await run('largest'), { keep: 'big2', reason: 'largest file (500 bytes) among the largest resolution (200x200)' });
  assert.deepEqual(await run('first'), { keep: 'small', reason: 'first in the dataset (keep: first)' });
  assert.deepEqual(await run('path'), { keep: 'small', reason: 'first path in sort order (keep: path)' });
  const items = mk();
  items[1].signals.width = 300;
  const facts = (i: MatchItem) => ({ path: i.path, ord: i.ord, width: i.signals.width, height: i.signals.height, bytes: i.signals.bytes });
  assert.equal(factsOrder('largest')(facts(items[1]), facts(items[2])) < 0, true);
  const { clusters } = await clusterDuplicates(items, { thresholds: DEFAULT_THRESHOLDS, keep: 'largest' });
  assert.equal(clusters[0].keepReason, 'largest resolution (300x200)');
});

test('borderline pairs are decided by the geometric check, with its evidence', async () => {
  const items = [
    item('a', BASE_P, BASE_D, { w: 500, h: 500 }),
    item('b', flip(BASE_P, [1, 2, 3, 4, 5, 6, 7, 8]), flip(BASE_D, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14])),
    item('c', flip(BASE_P, [31, 32, 33, 34, 35, 36, 37, 38]), flip(BASE_D, [31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44])),
  ];
  const asked: string[] = [];
  const { clusters, stats } = await clusterDuplicates(items, {
    thresholds: DEFAULT_THRESHOLDS,
    keep: 'largest',
    geometric: async (x, y) => {
      asked.push(`${x.id}-${y.id}`);
      const same = y.id === 'b';
      return { same, keypoints: [500, 500], matches: same ? 200 : 10, inliers: same ? 190 : 4, inlierRatio: same ? 0.95 : 0.4 };
    },
  });
  assert.deepEqual(asked.sort(), ['a-b', 'a-c']);
  assert.equal(stats.geometricChecks, 2);
  assert.equal(stats.geometricConfirmed, 1);
  assert.equal(clusters.length, 1);
  const m = clusters[0].members[0];
  assert.equal(items[m.index].id, 'b');
  assert.equal(m.verdict.method, 'geometric');
  assert.equal(m.verdict.evidence.inliers, 190);
  // Without the check, borderline pairs are not duplicates.
  const none = await clusterDuplicates(items, { thresholds: DEFAULT_THRESHOLDS, keep: 'largest' });
  assert.equal(none.clusters.length, 0);
});

test('a variant near an extra view of the other image makes the pair borderline (and a candidate)', async () => {
  const a = item('a', BASE_P, BASE_D, { w: 500, h: 500 });
  // b's hashes are far from a's, but one of a's extra views (say its 90% crop) is 9 bits from b's plain.
  const bp = other(BASE_P);
  const b = item('b', bp, other(BASE_D));
  a.signals.extra = [other(bp), flip(bp, [1, 2, 3, 4, 5, 6, 7, 8, 9])];
  const v = judgePair(a, b, DEFAULT_THRESHOLDS);
  assert.deepEqual([v.verdict, v.distance, v.evidence.variants], ['borderline', 9, 'extra:1/plain']);
  assert.equal(judgePair(a, b, { ...DEFAULT_THRESHOLDS, extraRadius: 8 }).verdict, 'different');
  assert.equal(judgePair(a, b, { ...DEFAULT_THRESHOLDS, extraRadius: -1 }).verdict, 'different');
  const asked: string[] = [];
  const { clusters } = await clusterDuplicates([a, b], {
    thresholds: DEFAULT_THRESHOLDS, keep: 'largest',
    geometric: async (x, y) => (asked.push(`${x.id}-${y.id}`), { same: true, keypoints: [0, 0], matches: 36, inliers: 30, inlierRatio: 0.833 }),
  });
  assert.deepEqual(asked, ['a-b']);
  assert.equal(clusters[0].members[0].verdict.method, 'geometric');
});
