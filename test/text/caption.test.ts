import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  STRUCTURED_FORMAT, SIMPLE_TEMPLATE, approxTokenCounter, captionCandidates, captionFields, checkCaption, clipTokenCounter,
  fillTemplate, findDuplicateCaptions, hasTrigger, readCaption, templateFields, templateFromFormat, tokenCounter,
} from '../../src/text/caption.js';
import { tempDir } from '../helpers/tmp.js';

test('the simple template, filled from caption, label and a trigger; absent fields leave no stray commas', () => {
  const fields = captionFields({ trigger: 'john_doe', label: 'man', caption: ' sitting at a desk ' });
  assert.deepEqual(fillTemplate(SIMPLE_TEMPLATE, fields), { text: 'john_doe, man, sitting at a desk', missing: [] });
  assert.deepEqual(fillTemplate(SIMPLE_TEMPLATE, captionFields({ trigger: 'john_doe', caption: 'at a desk' })), { text: 'john_doe, at a desk', missing: ['class'] });
  assert.deepEqual(fillTemplate(SIMPLE_TEMPLATE, captionFields({ label: 'man', caption: 'x' })), { text: 'man, x', missing: ['trigger'] });
  assert.deepEqual(fillTemplate(SIMPLE_TEMPLATE, captionFields({ trigger: 't' })), { text: 't', missing: ['class', 'caption'] });
  // A class name given for the dataset wins over the label; tags are a list; meta fields by dotted path.
  const f = captionFields({ trigger: 't', label: 'dog', className: 'animal', tags: ['red', 'small'], meta: { camera: { model: 'X100' } } });
  assert.equal(fillTemplate('{trigger} {class}: {tags} ({meta.camera.model})', f).text, 't animal: red, small (X100)');
});

test("seed 003's structured format, filled from fields", () => {
  const template = templateFromFormat(STRUCTURED_FORMAT);
  assert.deepEqual(templateFields(template), ['trigger', 'subject_type', 'key_features', 'action/pose', 'environment', 'style', 'quality']);
  const fields = {
    trigger: 'vintage_typewriter', subject_type: 'antique typewriter', key_features: ['brass keys'],
    'action/pose': 'on wooden desk', environment: null, style: 'product photography', quality: 'professional',
  };
  assert.deepEqual(fillTemplate(template, fields), {
    text: 'vintage_typewriter, antique typewriter, brass keys, on wooden desk, product photography, professional',
    missing: ['environment'],
  });
});

test('caption files: beside the image, UTF-8 checked, first line as sd-scripts reads it', () => {
  assert.deepEqual(captionCandidates('/d/cat/img_001.jpg'), ['/d/cat/img_001.txt', '/d/cat/img_001.caption']);
  assert.deepEqual(captionCandidates('a.b.png', ['tags']), ['a.b.tags']);

  const ok = readCaption(Buffer.from('\uFEFFjohn_doe, man\n'), 'a.txt');
  assert.deepEqual(ok, { text: 'john_doe, man', lines: ['john_doe, man'], issues: [] });

  const multi = readCaption(Buffer.from('first line\r\n\r\nsecond line\n'), 'b.txt');
  assert.equal(multi.text, 'first line');
  assert.deepEqual(multi.issues.map((i) => i.type), ['caption_multiline']);

  // Latin-1 "café" (0xE9) is not UTF-8; the offset of the bad byte is given.
  const latin1 = readCaption(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x6d]), 'c.caption');
  assert.deepEqual(latin1.issues, [{ type: 'caption_not_utf8', score: 1, flagged: true, evidence: { file: 'c.caption', byte_offset: 3 } }]);
  assert.equal(latin1.text, 'caf\uFFFD m');
  // Truncated sequence at the end, overlong encoding, surrogate.
  assert.equal((readCaption(Buffer.from([0x61, 0xe2, 0x82]), 'd').issues[0].evidence as { byte_offset: number }).byte_offset, 1);
  assert.equal((readCaption(Buffer.from([0xc0, 0xaf]), 'e').issues[0].evidence as { byte_offset: number }).byte_offset, 0);
  assert.equal((readCaption(Buffer.from([0x61, 0xed, 0xa0, 0x80]), 'f').issues[0].evidence as { byte_offset: number }).byte_offset, 1);
  assert.deepEqual(readCaption(Buffer.from('naïve — 日本 🙂'), 'g').issues, []);
});

test('checks: empty, trigger present as a whole word, token count against 75', () => {
  assert.deepEqual(checkCaption('   ').map((i) => i.type), ['caption_empty']);
  assert.ok(hasTrigger('John_Doe, man', 'john_doe'));
  assert.ok(!hasTrigger('john_doe2, man', 'john_doe'));
  assert.ok(hasTrigger('(john_doe:1.2), man', 'john_doe'));
  assert.deepEqual(checkCaption('a man at a desk', { trigger: 'john_doe' }).map((i) => i.type), ['caption_missing_trigger']);
  assert.deepEqual(checkCaption('john_doe, a man at a desk', { trigger: 'john_doe' }), []);

  const long = Array.from({ length: 80 }, (_, i) => ['red', 'house', 'tree', 'blue', 'sky'][i % 5]).join(' ');
  const issues = checkCaption(long);
  assert.deepEqual(issues.map((i) => i.type), ['caption_too_long']);
  assert.deepEqual(issues[0].evidence, { tokens: 80, max_tokens: 75, exact: false, method: approxTokenCounter.method });
  assert.match(approxTokenCounter.method, /approximate/);
  assert.deepEqual(checkCaption(long, { maxTokens: 150 }), []);
  // The approximation: CLIP's split (digits one by one, punctuation runs, underscores) and long words.
  assert.equal(approxTokenCounter.count('john_doe, 2024!'), 9); // john _ doe , 2 0 2 4 !
  assert.equal(approxTokenCounter.count('photorealistic'), 2);
});

test('exact counts with CLIP BPE when vocab.json and merges.txt are given', async () => {
  const dir = await tempDir();
  await mkdir(join(dir, 'm'), { recursive: true });
  // A tiny CLIP-format vocabulary: "cat" merges to one token, "cats" does not.
  const vocab = { c: 0, a: 1, t: 2, s: 3, 'c</w>': 4, 'a</w>': 5, 't</w>': 6, 's</w>': 7, ca: 8, 'cat</w>': 9, ',</w>': 10 };
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(vocab));
  await writeFile(join(dir, 'm', 'merges.txt'), '#version: 0.2\nc a\nca t</w>\n');
  const exact = tokenCounter({ vocab: join(dir, 'vocab.json'), merges: join(dir, 'm', 'merges.txt') });
  assert.equal(exact.exact, true);
  assert.equal(exact.count('Cat'), 1);
  assert.equal(exact.count('cats, cat'), 5); // ca t s</w> , cat</w>
  assert.equal(approxTokenCounter.count('cats, cat'), 3);
  const issues = checkCaption('cats cats cats', { counter: exact, maxTokens: 6 });
  assert.deepEqual(issues[0].evidence, { tokens: 9, max_tokens: 6, exact: true, method: 'clip-bpe' });
  assert.equal(tokenCounter({ vocab: join(dir, 'vocab.json') }).exact, false, 'both files are needed');
  assert.throws(() => clipTokenCounter(join(dir, 'nope.json'), join(dir, 'm', 'merges.txt')), /vocabulary \(vocab\.json\) at .*nope\.json/);
});

test('duplicates across images ignore case and spacing; empty captions are not duplicates', () => {
  const dup = findDuplicateCaptions([
    { id: 'a', text: 'john_doe, man, office' },
    { id: 'b', text: 'John_Doe ,  man,office' },
    { id: 'c', text: 'john_doe, man, beach' },
    { id: 'd', text: '' },
    { id: 'e', text: ' ' },
    { id: 'f', text: 'JOHN_DOE, MAN, OFFICE' },
  ]);
  assert.deepEqual([...dup.keys()].sort(), ['a', 'b', 'f']);
  assert.deepEqual(dup.get('b')!.evidence, { same_as: ['a', 'f'], group_size: 3 });
  assert.equal(dup.get('a')!.type, 'caption_duplicate');
});
