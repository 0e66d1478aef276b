import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeText, makeNormalizer } from '../../src/text/normalize.js';

test('prompts that differ in case, spacing and punctuation normalise to the same text', () => {
  assert.equal(normalizeText('A  Cat.'), 'a cat');
  assert.equal(normalizeText('  a cat!!  '), 'a cat');
  assert.equal(normalizeText('hyper-realistic, 8k | trending on ArtStation'), 'hyper realistic 8k trending on artstation');
  assert.equal(normalizeText("the cat's toy"), 'the cats toy');
  assert.equal(normalizeText('the cat\u2019s toy'), 'the cats toy');
  assert.equal(normalizeText('tab\tand\nnewline'), 'tab and newline');
});

test('NFKC folds full-width letters; Korean text is kept intact', () => {
  assert.equal(normalizeText('ＣＡＴ'), 'cat');
  assert.equal(normalizeText('고양이 한 마리가 소파 위에서 자고 있다.'), '고양이 한 마리가 소파 위에서 자고 있다');
  assert.equal(normalizeText('ＣＡＴ', { unicode: 'none' }), 'ｃａｔ');
});

test('each option can be switched off', () => {
  assert.equal(normalizeText('A  Cat.', { lowercase: false }), 'A Cat');
  assert.equal(normalizeText('A  Cat.', { punctuation: 'keep' }), 'a cat.');
  assert.equal(normalizeText('A  Cat.', { whitespace: false }), 'a  cat ');
  assert.equal(makeNormalizer({ lowercase: undefined })('ABC'), 'abc');
  // Only punctuation: nothing is left to compare.
  assert.equal(normalizeText('?!...'), '');
});
