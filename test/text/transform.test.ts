import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTransformer, tidy, type TransformRule } from '../../src/text/transform.js';

const SEED_RULES: TransformRule[] = [
  { unicode: 'NFKC' },
  { whitespace: true },
  { case: 'lower' },
  { replace: { pattern: '\\s*\\([^)]*\\)', with: '' } },
  { remove_words: { words: ['greg rutkowski', 'alphonse mucha', 'artgerm', 'trending on artstation'] } },
  { trim_modifiers: {} },
  { max_length: { chars: 120 } },
];

test('each rule does what it says', () => {
  const t = (rules: TransformRule[], s: string) => makeTransformer(rules)(s);
  assert.equal(t([{ unicode: 'NFKC' }], 'ｃａｔ ﬁsh'), 'cat fish');
  assert.equal(t([{ whitespace: true }], '  a\t red\n\n car  '), 'a red car');
  assert.equal(t([{ case: 'lower' }], 'A Red CAR'), 'a red car');
  assert.equal(t([{ replace: { pattern: '(\\d+)k', with: '$1K' } }], 'a car, 8k, 4k'), 'a car, 8K, 4K');
  // Whole words only, any case, phrases longest first; what is left is tidied.
  const names = [{ remove_words: { words: ['Greg Rutkowski', 'greg', 'art'] } }] as TransformRule[];
  assert.equal(t(names, 'a castle by GREG rutkowski, artstation, art, 8k'), 'a castle by, artstation, 8k');
  assert.equal(t(names, 'greg'), '');
  assert.equal(t([{ trim_modifiers: {} }], 'a hero, 8k, highly detailed, 8K, by'), 'a hero, 8k, highly detailed');
  assert.equal(t([{ trim_modifiers: {} }], 'portrait of a hero in the style of'), 'portrait of a hero');
  assert.equal(t([{ trim_modifiers: { duplicates: false } }], 'owl, owl, fox,'), 'owl, owl, fox');
  assert.equal(t([{ trim_modifiers: {} }], 'a knight by and, 8k, in the style of'), 'a knight, 8k');
  assert.equal(t([{ max_length: { chars: 12 } }], 'a red car in the rain'), 'a red car in');
  assert.equal(t([{ max_length: { chars: 3 } }], 'supercalifragilistic'), 'sup');
  assert.equal(t([{ max_length: { words: 3 } }], 'a red car, in the rain'), 'a red car');
  assert.equal(tidy(' , a ,  , b ,'), 'a, b');
});

test('the seed-like rule list cleans a prompt and a second run changes nothing', () => {
  const f = makeTransformer(SEED_RULES);
  const out = f('Portrait of a Knight (detailed) by Greg  Rutkowski and Alphonse Mucha, trending on ArtStation, 8K, 8k');
  assert.equal(out, 'portrait of a knight, 8k');
  assert.equal(f(out), out);
});

/** Prompts with the noise scraped prompt lists have: odd spacing, case, full-width, names, repeats. */
function generatedPrompts(count: number): string[] {
  let s = 7;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rand() * a.length)];
  const pieces = [
    'a', 'red', 'Car', 'in', 'the', 'rain', 'by', 'Greg', 'Rutkowski', 'greg rutkowski', 'of', 'with', '(detailed)', '8k', '8K',
    'ｃａｔ', 'ﬁsh', '고양이', ',', ', ,', '  ', '\t', 'trending on artstation', 'Alphonse', 'mucha', '!', '...', '-', '(', ')',
    'style', 'in the style of', 'artgerm', '🐱', "cat's", 'très', 'e\u0301', 'ÅNGSTRÖM', 'very very very',
  ];
  return Array.from({ length: count }, () => Array.from({ length: 1 + Math.floor(rand() * 30) }, () => pick(pieces)).join(rand() < 0.7 ? ' ' : ''));
}

test('property: transform(transform(x)) == transform(x) over many generated prompts and rule orders', () => {
  const prompts = generatedPrompts(3000);
  const orders: TransformRule[][] = [
    SEED_RULES,
    [...SEED_RULES].reverse(),
    [{ max_length: { words: 5 } }, { remove_words: { words: ['red', 'car in'] } }, { trim_modifiers: {} }, { case: 'upper' }],
    [{ replace: { pattern: 'a+', with: 'a' } }, { unicode: 'NFC' }, { max_length: { chars: 20 } }, { whitespace: true }],
  ];
  for (const rules of orders) {
    const f = makeTransformer(rules);
    for (const p of prompts) {
      const once = f(p);
      assert.equal(f(once), once, `rules ${JSON.stringify(rules.map((r) => Object.keys(r)[0]))}, prompt ${JSON.stringify(p)}`);
    }
  }
});

test('rules that never settle are reported with the text; bad patterns when compiled', () => {
  const grow = makeTransformer([{ replace: { pattern: 'a', with: 'aa' } }]);
  assert.throws(() => grow('a cat'), /do not settle: text "a cat" still changes after 8 passes/);
  assert.throws(() => makeTransformer([{ replace: { pattern: '(', with: '' } }]), /rules\[0\]: replace: invalid pattern/);
  assert.throws(() => makeTransformer([{ max_length: {} }]), /give chars, words or tokens/);
});
