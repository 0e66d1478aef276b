import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile, mkdir } from 'node:fs/promises';
import sharp from 'sharp';
import { photoJpeg, SCENE_KINDS } from '../../src/demo/synth.js';
import { Encoder, pool } from '../../src/embed/encoder.js';
import { resolveModel } from '../../src/embed/models-dir.js';
import { cosine } from '../../src/embed/semantic.js';
import { createTokenizer } from '../../src/embed/tokenizer.js';
import { TextTokenizer } from '../../src/embed/manifest.js';
import { installTinyModel } from './helpers.js';
import { tinyImageModel, tinyTextModel, writeModel } from '../helpers/onnx-model.js';
import { tempDir } from '../helpers/tmp.js';

test('near copies embed close, different scenes far (tiny conv + pooling + projection model)', async () => {
  const dir = await installTinyModel(await tempDir());
  const enc = await Encoder.load(resolveModel({ model: 'tiny', dir }));
  const base = await photoJpeg({ seed: 5, width: 480, height: 360, kind: 'forest' });
  const copies = [
    await sharp(base).resize(264).jpeg({ quality: 85 }).toBuffer(), // resized
    await sharp(base).jpeg({ quality: 25 }).toBuffer(), // recompressed
    await sharp(base).blur(1.2).jpeg().toBuffer(), // blurred
  ];
  const others = await Promise.all(SCENE_KINDS.filter((k) => k !== 'forest').map((kind, i) => photoJpeg({ seed: 50 + i, width: 480, height: 360, kind })));
  const [b, ...rest] = await enc.embedImages([base, ...copies, ...others]);
  assert.equal(b.length, 64);
  assert.ok(Math.abs(Math.hypot(...b) - 1) < 1e-5, 'L2-normalised');
  const near = rest.slice(0, copies.length).map((v) => cosine(b, v));
  const far = rest.slice(copies.length).map((v) => cosine(b, v));
  for (const s of near) assert.ok(s > 0.99, `near copy similarity ${s}`);
  for (const s of far) assert.ok(s < 0.9, `other scene similarity ${s}`);
  await assert.rejects(enc.embedImages([Buffer.from('not an image')]));
});

test('pooling: cls takes token 0, mean averages tokens; a token output with pooling none is refused', async () => {
  const data = Float32Array.from([1, 2, 3, 4, 5, 6, /* item 2 */ 7, 8, 9, 10, 11, 12]);
  assert.deepEqual([...pool(data, [2, 3, 2], 'cls', 2)[1]], [7, 8]);
  assert.deepEqual([...pool(data, [2, 3, 2], 'mean', 2)[0]], [3, 4]);
  assert.throws(() => pool(data, [2, 3, 2], 'none', 2), /must be \[batch, dim\]/);
  // The same through a real token-output model: mean pooling of 16 grid tokens.
  const dir = await tempDir();
  await writeModel(join(dir, 'tok', 'model.onnx'), tinyImageModel({ shape: 'tokens', dim: 8 }));
  await writeFile(join(dir, 'tok', 'manifest.json'), JSON.stringify({
    name: 'tok', kind: 'image', input: 'pixel_values', output: 'image_embeds', pooling: 'mean', dim: 8, image: { size: 32 },
  }));
  const enc = await Encoder.load(resolveModel({ model: 'tok', dir }));
  const [v] = await enc.embedImages([await photoJpeg({ seed: 1, width: 64, height: 64 })]);
  assert.equal(v.length, 8);
});

test('text tower with the byte tokenizer: related texts embed closer than unrelated ones', async () => {
  const dir = await tempDir();
  await writeModel(join(dir, 'txt', 'model.onnx'), tinyTextModel({ dim: 32 }));
  await writeFile(join(dir, 'txt', 'manifest.json'), JSON.stringify({
    name: 'txt', kind: 'text', input: 'input_ids', output: 'text_embeds', dim: 32,
    tokenizer: { kind: 'bytes', context_length: 16, bos: 256, eos: 257, pad: 258 },
  }));
  const enc = await Encoder.load(resolveModel({ model: 'txt', dir }));
  const [a, b, c] = await enc.embedTexts(['snowy hills', 'snowy hill', '9999 ????']);
  assert.ok(cosine(a, b) > cosine(a, c));
  await assert.rejects(enc.embedImages([Buffer.alloc(1)]), /not an image model/);
});

test('tokenizers: bytes pads and truncates keeping EOS; clip-bpe merges by rank from vocab.json + merges.txt', async () => {
  const bytes = createTokenizer(TextTokenizer.parse({ kind: 'bytes', context_length: 5, bos: 256, eos: 257, pad: 0 }), '.');
  assert.deepEqual([...bytes.encode('ab').ids], [256n, 97n, 98n, 257n, 0n]);
  assert.deepEqual([...bytes.encode('abcdef').ids], [256n, 97n, 98n, 99n, 257n]);
  assert.deepEqual([...bytes.encode('ab').mask], [1n, 1n, 1n, 1n, 0n]);

  const dir = await tempDir();
  await mkdir(dir, { recursive: true });
  const vocab = { 'a': 0, 'b': 1, 'c': 2, 'a</w>': 3, 'b</w>': 4, 'c</w>': 5, 'ab': 6, 'abc</w>': 7, 'ca': 8, '!</w>': 9, 'ab</w>': 10, '<|startoftext|>': 11, '<|endoftext|>': 12 };
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(vocab));
  await writeFile(join(dir, 'merges.txt'), '#version: 0.2\na b\nab c</w>\nc a\nb</w> x\n');
  const spec = TextTokenizer.parse({ kind: 'clip-bpe', context_length: 8, bos: 11, eos: 12, pad: 12, vocab: 'vocab.json', merges: 'merges.txt' });
  const bpe = createTokenizer(spec, dir);
  // "ABC  ab!" → lower-cased, words "abc", "ab", "!": abc → a b c</w> → ab c</w> → abc</w>; ab → a b</w> → (a b is not a pair of "a","b</w>") a, b</w>
  assert.deepEqual([...bpe.encode('ABC  ab!').ids], [11n, 7n, 0n, 4n, 9n, 12n, 12n, 12n]);
  assert.throws(() => createTokenizer({ ...spec, vocab: 'missing.json' }, dir), /needs its vocabulary/);
});
