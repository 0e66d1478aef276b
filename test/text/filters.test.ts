import { test } from 'node:test';
import assert from 'node:assert/strict';
import { longestRepeat, makeTextFilter, nonLatinShare, words } from '../../src/text/filters.js';

test('each named rule rejects what it names and passes ordinary prompts', () => {
  const f = makeTextFilter({
    empty: true, words: { min: 2, max: 12 }, non_latin: { max_share: 0.3 }, urls: true, markup: true, repeated: { times: 3, max_share: 0.5 },
  });
  const cases: Array<[string | null, string | null]> = [
    ['a thundering retro robot crane inks on parchment', null],
    ['very very beautiful owl', null], // two repeats are allowed
    ['portrait of a greek hero, next to a loud frill-necked lizard', null],
    [null, 'empty'],
    ['   ', 'empty'],
    ['ramen', 'words'],
    ['one two three four five six seven eight nine ten eleven twelve thirteen', 'words'],
    ['고양이 한 마리가 소파 위에서 자고 있다', 'non_latin'],
    ['a cat named 고양이 sleeping on a sofa', null], // 3 of 22 letters
    ['a castle, see www.example.com', 'urls'],
    ['a castle, https://x.io/a.png', 'urls'],
    ['a <b>bold</b> castle', 'markup'],
    ['a castle &amp; a moat', 'markup'],
    ['![a castle](castle.png) at dusk', 'markup'],
    ['a cat a cat a cat', 'repeated'],
    ['masterpiece, masterpiece, masterpiece, a fox', 'repeated'],
    ['fox owl fox owl fox bird', 'repeated'], // "fox owl" twice, then fox; fox is 3 of 6 — not above 0.5
  ];
  for (const [text, want] of cases.slice(0, -1)) assert.equal(f(text), want, String(text));
  assert.equal(f('fox owl fox owl fox bird'), null);
  assert.equal(f('fox fox owl fox bird fox fox'), 'repeated'); // fox is 5 of 7
});

test('rules are off unless asked for; the first failing rule in order is reported', () => {
  assert.equal(makeTextFilter({})(''), null);
  assert.equal(makeTextFilter({ empty: true, urls: true })('https://a.b'), 'urls');
  assert.equal(makeTextFilter({ words: { min: 4 }, urls: true })('https://a.b'), 'words');
});

test('helpers: words, non-Latin share, longest back-to-back repeat', () => {
  assert.deepEqual(words("An owl's hat, 8K!"), ["an", "owl's", 'hat', '8k']);
  assert.equal(nonLatinShare('abc'), 0);
  assert.equal(nonLatinShare('ab고양'), 0.5);
  assert.equal(nonLatinShare('1234 !!'), 0);
  assert.equal(nonLatinShare('café Ångström'), 0);
  assert.equal(longestRepeat([]), 0);
  assert.equal(longestRepeat(['a']), 1);
  assert.equal(longestRepeat('a cat a cat a cat'.split(' ')), 3);
  assert.equal(longestRepeat('the big red the big red the big red fox'.split(' ')), 3);
  assert.equal(longestRepeat('a b c d a b c d'.split(' ')), 1); // a 4-word phrase is beyond the limit
});
