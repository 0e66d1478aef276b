/**
 * The planted set of near-copy kinds behind README's text-dedup table, and the table itself: for
 * each kind, several prompt pairs (short and long), each pair run through selfDedup exactly as the
 * text_dedup step runs it, at seed 004's thresholds (self 0.85, cross 0.75). Printed by
 * bench/text-measures.ts; test/text/measures-table.test.ts checks README.md holds this table.
 */
import { selfDedup, type TextDedupOptions } from '../../src/text/dedup.js';
import { jaccard, shingleSet } from '../../src/text/minhash.js';
import { normalizeText } from '../../src/text/normalize.js';

type Pair = [string, string];

export const KINDS: Array<{ kind: string; pairs: Pair[] }> = [
  { kind: 'same words, case and punctuation changed', pairs: [
    ['a red car in the rain', 'A red car, in the rain!'],
    ['portrait of a greek hero, next to a loud lizard', 'Portrait of a Greek hero next to a loud lizard.'],
    ['an owl', 'An owl!!'],
  ] },
  { kind: 'one word changed, short prompt (≤ 5 words)', pairs: [
    ['a red car', 'a blue car'],
    ['an owl reading a book', 'an owl reading a letter'],
    ['a cat on a sofa', 'a dog on a sofa'],
    ['a small wooden house', 'a small stone house'],
  ] },
  { kind: 'one word changed, long prompt (≥ 15 words)', pairs: [
    ['a thundering retro robot crane inks on parchment with a droopy french bulldog in the style of hudson river school',
      'a thundering retro robot crane inks on parchment with a sleepy french bulldog in the style of hudson river school'],
    ['hyper realistic photo of a very friendly and dystopian crater on the moon at dawn, volumetric fog, highly detailed',
      'hyper realistic photo of a very friendly and dystopian crater on the moon at dusk, volumetric fog, highly detailed'],
    ['ultrasaurus holding a black bean taco in the woods near an identical cheneosaurus, golden hour, sharp focus',
      'ultrasaurus holding a black bean burrito in the woods near an identical cheneosaurus, golden hour, sharp focus'],
  ] },
  { kind: 'plural / one letter', pairs: [
    ['a red car in the rain', 'a red cars in the rain'],
    ['portrait painting of a shimmering greek hero next to a loud frill-necked lizard', 'portrait painting of a shimmering greek hero next to a loud frill-necked lizards'],
  ] },
  { kind: 'added ", 4k" (short prompt)', pairs: [
    ['a red car', 'a red car, 4k'],
    ['an owl reading a book', 'an owl reading a book, 4k'],
    ['a castle at dusk', 'a castle at dusk, 4k'],
  ] },
  { kind: 'added ", 4k" (long prompt)', pairs: [
    ['a thundering retro robot crane inks on parchment with a droopy french bulldog in the style of hudson river school',
      'a thundering retro robot crane inks on parchment with a droopy french bulldog in the style of hudson river school, 4k'],
    ['portrait painting of a shimmering greek hero, next to a loud frill-necked lizard, trending on artstation',
      'portrait painting of a shimmering greek hero, next to a loud frill-necked lizard, trending on artstation, 4k'],
  ] },
  { kind: 'modifiers reordered', pairs: [
    ['a castle on a hill, oil painting, 8k, golden hour', 'golden hour, 8k, a castle on a hill, oil painting'],
    ['portrait of a knight, highly detailed, by greg rutkowski, artstation', 'portrait of a knight, artstation, by greg rutkowski, highly detailed'],
  ] },
  { kind: 'words reordered', pairs: [
    ['a red car in the rain at night', 'at night in the rain a red car'],
    ['an owl reading a book next to a candle', 'next to a candle an owl reading a book'],
  ] },
  { kind: 'paraphrase (same meaning, other words)', pairs: [
    ['a small dog running on the beach', 'a little puppy runs along the shore'],
    ['an old man reading a newspaper in a cafe', 'an elderly gentleman reads the paper at a coffee shop'],
    ['a red car in the rain', 'a crimson automobile during a rainstorm'],
  ] },
  { kind: 'prompt repeated (a cat a cat a cat vs a cat)', pairs: [
    ['a cat', 'a cat a cat a cat'],
    ['a photo of a cat on a mat', 'a photo of a cat on a mat a photo of a cat on a mat'],
    ['an owl reading a book, 8k', 'an owl reading a book, 8k, an owl reading a book, 8k, an owl reading a book, 8k'],
  ] },
  { kind: 'different prompts, shared template', pairs: [
    ['a watercolor sketch of a tiny fox next to a lighthouse', 'a watercolor sketch of a colossal owl next to a windmill'],
    ['an oil painting of a rusty robot in the rain', 'an oil painting of a velvet teapot in the snow'],
  ] },
];

export const MEASURES: Array<{ name: string; options: Omit<TextDedupOptions, 'threshold'> }> = [
  { name: 'char 3-gram multiset (default)', options: { shingles: 'char', ngram: 3, multiset: true } },
  { name: 'char 3-gram set (datasketch-style)', options: { shingles: 'char', ngram: 3, multiset: false } },
  { name: 'word 1-gram multiset', options: { shingles: 'word', ngram: 1, multiset: true } },
  { name: 'word 2-gram multiset', options: { shingles: 'word', ngram: 2, multiset: true } },
];

function exactSimilarity(a: string, b: string, o: Omit<TextDedupOptions, 'threshold'>): number {
  const s = (t: string) => shingleSet(normalizeText(t), o.ngram!, { unit: o.shingles, multiset: o.multiset });
  return jaccard(s(a), s(b));
}

const removed = (pair: Pair, threshold: number, o: Omit<TextDedupOptions, 'threshold'>) =>
  selfDedup(pair, { ...o, threshold }).removed.length;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The embedding method's column: it needs a real text model, which cannot be had offline. */
export const EMBEDDING_COLUMN = 'embedding (`method: embedding`)';
export const EMBEDDING_CELL = 'not measured¹';
export const EMBEDDING_NOTE =
  "¹ `method: embedding` (cosine of `embed_text` vectors) needs a real text model such as CLIP's text tower; " +
  'none can be fetched offline, and the tiny test model gives vectors without meaning, so no figures are given for it. ' +
  'It is the only measure that can catch paraphrases.';

/** README's table: pairs removed at 0.85 · at 0.75 (median similarity) per kind and measure. */
export function measuresTable(): string {
  const header = ['near copy', ...MEASURES.map((m) => m.name), EMBEDDING_COLUMN];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const { kind, pairs } of KINDS) {
    const cells = MEASURES.map(({ options }) => {
      const at85 = pairs.reduce((n, p) => n + removed(p, 0.85, options), 0);
      const at75 = pairs.reduce((n, p) => n + removed(p, 0.75, options), 0);
      const sim = median(pairs.map(([a, b]) => exactSimilarity(a, b, options)));
      return `${at85}/${pairs.length} · ${at75}/${pairs.length} (${sim.toFixed(2)})`;
    });
    lines.push(`| ${kind} | ${[...cells, EMBEDDING_CELL].join(' | ')} |`);
  }
  return `${lines.join('\n')}\n\n${EMBEDDING_NOTE}`;
}
