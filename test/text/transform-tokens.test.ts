import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { makeTransformer } from '../../src/text/transform.js';
import { clipTokenCounter } from '../../src/text/caption.js';
import { tempDir } from '../helpers/tmp.js';
import { writeTinyClipVocab } from '../helpers/clip-vocab.js';

test('max_length tokens: cut at the last whole word that fits, counted with CLIP BPE; idempotent', async () => {
  const tokenizer = await writeTinyClipVocab(join(await tempDir(), 'clip'));
  const count = clipTokenCounter(tokenizer.vocab, tokenizer.merges).count;
  const cut = makeTransformer([{ max_length: { tokens: 7, tokenizer } }]);
  // a(1) cat(1) ,(1) a(1) dog(1) ,(1) cats(3: ca t s) = 9 tokens: "cats" would be cut to a fragment at 7.
  assert.equal(count('a cat, a dog, cats'), 9);
  assert.equal(cut('a cat, a dog, cats'), 'a cat, a dog');
  assert.equal(cut('A Cat, a DOG'), 'A Cat, a DOG', 'within the limit (case does not change the count): unchanged');
  assert.equal(count('A Cat, a DOG'), 5);
  // One word longer than the limit alone: its longest prefix that fits.
  assert.equal(cut('abcdefghij and more'), 'abcdefg');
  // Chars and tokens together: both limits hold.
  const both = makeTransformer([{ max_length: { chars: 9, tokens: 7, tokenizer } }]);
  assert.equal(both('red dog red cat'), 'red dog');

  // Property: over generated prompts, the result fits, is a prefix of the text, and a second run changes nothing.
  let seed = 42;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const words = ['cat', 'dog', 'red', 'a', 'photo', 'of', ',', 'x', '4k', 'highly-detailed', "cat's", 'Dog!!', '(bokeh)'];
  for (let i = 0; i < 300; i++) {
    const text = Array.from({ length: 1 + rand(25) }, () => words[rand(words.length)]).join(rand(3) ? ' ' : '  ');
    const limit = 1 + rand(20);
    const t = makeTransformer([{ max_length: { tokens: limit, tokenizer } }]);
    const once = t(text);
    assert.ok(count(once) <= limit, `${JSON.stringify(once)} has ${count(once)} tokens > ${limit}`);
    assert.ok(text.startsWith(once), `${JSON.stringify(once)} is a prefix of ${JSON.stringify(text)}`);
    assert.equal(t(once), once, `idempotent on ${JSON.stringify(text)}`);
    if (count(text) <= limit) assert.equal(once, text);
  }
});

test('max_length tokens without a tokenizer is an error saying what to give', () => {
  assert.throws(() => makeTransformer([{ max_length: { tokens: 75 } }]), /rules\[0\]: max_length: tokens needs tokenizer: a directory holding CLIP's vocab\.json and merges\.txt/);
});
