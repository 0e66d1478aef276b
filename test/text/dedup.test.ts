import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossDedup, selfDedup } from '../../src/text/dedup.js';
import { normalizeText } from '../../src/text/normalize.js';
import { jaccard, shingleSet } from '../../src/text/minhash.js';
import { naiveMultisetJaccard } from './helpers.js';

const SEED_EXAMPLES = [
  'hyper realistic photo of very friendly and dystopian crater',
  'ramen carved out of fractal rose ebony, in the style of hudson river school',
  'ultrasaurus holding a black bean taco in the woods, near an identical cheneosaurus',
  'a thundering retro robot crane inks on parchment with a droopy french bulldog',
  'portrait painting of a shimmering greek hero, next to a loud frill-necked lizard',
  'an astronaut standing on a engaging white rose, in the midst of by ivory cherry blossoms',
  'Kaggle employee Phil at a donut shop ordering all the best donuts, with a speech bubble that proclaims "Donuts. It\'s what\'s for dinner!"',
];

// The default measure: weighted Jaccard of character 3-gram counts (multiset shingles).
const sim = (a: string, b: string) => naiveMultisetJaccard(normalizeText(a), normalizeText(b));

test('known near-duplicate prompts are removed, with the kept row and the exact similarity', () => {
  const texts = [
    SEED_EXAMPLES[0],
    'a cat',
    SEED_EXAMPLES[3],
    'Hyper realistic photo of a very friendly and dystopian crater',
    'a cat.',
    'A CAT',
    SEED_EXAMPLES[4],
    'a thundering retro robot crane inks on parchment with a droopy french bulldogs',
  ];
  const { removed, figures } = selfDedup(texts, { threshold: 0.85 });
  assert.deepEqual(removed.map((m) => [m.index, m.matched]), [[3, 0], [4, 1], [5, 1], [7, 2]]);
  assert.equal(removed[0].similarity, sim(texts[3], texts[0]));
  assert.equal(removed[0].similarity, 29 / 31);
  assert.equal(removed[1].similarity, 1);
  assert.equal(removed[3].similarity, sim(texts[7], texts[2]));
  assert.ok(removed[3].similarity >= 0.85 && removed[3].similarity < 1);
  assert.deepEqual(
    { rows: figures.rows, removed: figures.removed, kept: figures.kept, exact: figures.exact },
    { rows: 8, removed: 4, kept: 4, exact: 2 },
  );
});

test('short prompts: punctuation kept, "a cat" vs "a cat." is 4/7; different short prompts stay', () => {
  const texts = ['a cat', 'a cat.', 'a dog', 'a', 'a', 'b', ''];
  const keep = { punctuation: 'keep' as const };
  const { removed } = selfDedup(texts, { threshold: 0.5, normalize: keep });
  assert.deepEqual(removed, [
    { index: 1, matched: 0, similarity: 4 / 7 },
    { index: 4, matched: 3, similarity: 1 },
  ]);
  assert.equal(selfDedup(texts, { threshold: 0.6, normalize: keep }).removed.length, 1);
});

test('Korean prompts are compared by their characters', () => {
  const texts = [
    '고양이 한 마리가 소파 위에서 자고 있다',
    '강아지가 공원에서 뛰어놀고 있다',
    '고양이 한 마리가 소파 위에서 자고 있다.',
    '고양이 두 마리가 소파 위에서 자고 있다',
  ];
  const s = sim(texts[3], texts[0]);
  assert.ok(s > 0.6 && s < 0.85, String(s));
  const { removed } = selfDedup(texts, { threshold: 0.6 });
  assert.deepEqual(removed, [
    { index: 2, matched: 0, similarity: 1 },
    { index: 3, matched: 0, similarity: s },
  ]);
  assert.deepEqual(selfDedup(texts, { threshold: 0.85 }).removed.map((m) => m.index), [2]);
});

test('different prompts are not merged', () => {
  assert.deepEqual(selfDedup(SEED_EXAMPLES, { threshold: 0.5 }).removed, []);
  assert.deepEqual(selfDedup(['a red car', 'a blue car', 'a red cat'], { threshold: 0.85 }).removed, []);
});

test('no chaining: a row is compared only with kept rows', () => {
  const a = 'portrait painting of a shimmering greek hero next to a loud lizard at dawn';
  const b = 'portrait painting of a shimmering greek hero next to a loud lizard at dusk';
  const c = 'portrait painting of a glowing greek hero next to a loud lizard at dusk';
  const ab = sim(a, b);
  const bc = sim(b, c);
  const ac = sim(a, c);
  assert.ok(ac < Math.min(ab, bc), `${ab} ${bc} ${ac}`);
  const threshold = (ac + Math.min(ab, bc)) / 2;
  const { removed } = selfDedup([a, b, c], { threshold });
  // b is removed as a copy of a; c is near b only, and b is gone, so c stays.
  assert.deepEqual(removed, [{ index: 1, matched: 0, similarity: ab }]);
  // With b absent from the input c is kept too: the result does not depend on a removed row.
  assert.deepEqual(selfDedup([a, c], { threshold }).removed, []);
});

test('the best match is reported: highest similarity among kept rows', () => {
  const texts = ['a shimmering greek hero at dawn', 'a shimmering greek hero at dusk!', 'a shimmering greek hero at dusk'];
  const t = Math.min(sim(texts[2], texts[0]), sim(texts[1], texts[0])) - 0.01;
  // texts[1] is near texts[0]: removed; texts[2] then matches texts[0] (texts[1] is not kept).
  const { removed } = selfDedup(texts, { threshold: t });
  assert.deepEqual(removed.map((m) => [m.index, m.matched]), [[1, 0], [2, 0]]);
  // Once both candidates are kept rows, the more similar one wins.
  const two = selfDedup(['a shimmering greek hero at dawn', 'a glowing greek hero at dusk', 'a shimmering greek hero at dusk'], { threshold: 0.5 });
  assert.deepEqual(two.removed.map((m) => [m.index, m.matched]), [[2, 0]]);
  const last = two.removed[0];
  assert.equal(last.similarity, Math.max(sim('a shimmering greek hero at dusk', 'a shimmering greek hero at dawn'), sim('a shimmering greek hero at dusk', 'a glowing greek hero at dusk')));
});

test('cross-dedup removes only train rows near a reference row', () => {
  const train = ['a red car in the rain', 'A red car in the rain!', 'a blue sky over the sea', 'a red car in the snow', null];
  const validation = ['blue', 'a red car in the rain.', 'a red car in the rain'];
  const { removed, figures } = crossDedup(train, validation, { threshold: 0.75 });
  assert.deepEqual(removed, [
    { index: 0, matched: 1, similarity: 1 },
    { index: 1, matched: 1, similarity: 1 },
  ]);
  assert.equal(figures.empty, 1);
  assert.equal(figures.kept, 3);
  const s = sim('a red car in the snow', 'a red car in the rain');
  const lower = crossDedup(train, validation, { threshold: s });
  assert.deepEqual(lower.removed.map((m) => m.index), [0, 1, 3]);
  assert.equal(lower.removed[2].similarity, s);
  // The direction matters: validation rows are never removed, whatever is in train.
  assert.deepEqual(crossDedup(validation, train, { threshold: 0.75 }).removed.map((m) => m.index), [1, 2]);
});

test('LSH finds nearly every near-duplicate a brute-force search finds', () => {
  const words = 'red blue green cat dog bird tree house river moon sun star cloud rain snow fire ship lamp rose owl'.split(' ');
  let s = 99;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const texts: string[] = [];
  for (let i = 0; i < 600; i++) {
    if (i > 0 && rand() < 0.3) {
      const w = texts[Math.floor(rand() * i)].split(' ');
      w[Math.floor(rand() * w.length)] = words[Math.floor(rand() * words.length)];
      texts.push(w.join(' '));
    } else texts.push(Array.from({ length: 10 }, () => words[Math.floor(rand() * words.length)]).join(' '));
  }
  const threshold = 0.7;
  const { removed } = selfDedup(texts, { threshold });
  // Brute force with the same greedy rule (exact Jaccard of hashed sets: checked against the
  // string sets in minhash.test.ts).
  const sets = texts.map((t) => shingleSet(normalizeText(t), 3, { multiset: true }));
  const kept: number[] = [];
  const brute: number[] = [];
  sets.forEach((x, i) => (kept.some((k) => jaccard(x, sets[k]) >= threshold) ? brute.push(i) : kept.push(i)));
  const removedSet = new Set(removed.map((m) => m.index));
  for (const m of removed) {
    assert.ok(m.matched < m.index && !removedSet.has(m.matched), 'matched a kept earlier row');
    assert.equal(m.similarity, sim(texts[m.index], texts[m.matched]));
    assert.ok(m.similarity >= threshold);
  }
  assert.ok(brute.length > 100, `${brute.length} near duplicates planted`);
  assert.ok(removed.length >= 0.97 * brute.length, `LSH ${removed.length} vs brute force ${brute.length}`);
});

test('bad options are refused with the allowed range', () => {
  assert.throws(() => selfDedup(['a'], { threshold: 1.5 }), /threshold must be in \(0, 1\]/);
  assert.throws(() => selfDedup(['a'], { threshold: 0.8, ngram: 0 }), /ngram must be a whole number from 1 to 32/);
});
