import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile, mkdir } from 'node:fs/promises';
import { Encoder } from '../../src/embed/encoder.js';
import { PRESETS, parseManifest } from '../../src/embed/manifest.js';
import { listInstalled, modelsDir, resolveModel } from '../../src/embed/models-dir.js';
import { EmbedParams } from '../../src/steps/embed.js';
import { installTinyModel } from './helpers.js';
import { tinyImageModel, writeModel } from '../helpers/onnx-model.js';
import { tempDir } from '../helpers/tmp.js';

test('models directory: IMGSIFT_MODELS wins, else the user cache directory', () => {
  assert.equal(modelsDir({ IMGSIFT_MODELS: '/m' }), '/m');
  if (process.platform === 'linux') assert.equal(modelsDir({ XDG_CACHE_HOME: '/c' }), '/c/imgsift/models');
});

test('presets carry their processors\' settings', () => {
  assert.deepEqual(PRESETS['clip-vit-b32'].image!.mean, [0.48145466, 0.4578275, 0.40821073]);
  assert.equal(PRESETS['dinov2-small'].image!.resize_to, 256);
  assert.equal(PRESETS['dinov2-small'].pooling, 'cls');
  assert.equal(PRESETS['siglip-base'].image!.resize, 'squash');
  assert.equal(PRESETS['clip-vit-b32-text'].tokenizer!.context_length, 77);
  const m = parseManifest({ preset: 'clip-vit-b32', output: 'embeds' }, 'm.json');
  assert.equal(m.output, 'embeds');
  assert.equal(m.image!.size, 224);
  assert.throws(() => parseManifest({ preset: 'nope' }, 'm.json'), /unknown preset "nope"/);
  assert.throws(() => parseManifest({ name: 'x', kind: 'image', input: 'a', output: 'b' }, 'm.json'), /needs an `image` block/);
});

test('a missing model says which file to put where', async () => {
  const dir = await tempDir();
  assert.throws(() => resolveModel({ model: 'clip-vit-b32', dir }), (err: Error) => {
    assert.match(err.message, /not installed/);
    assert.ok(err.message.includes(join(dir, 'clip-vit-b32', 'model.onnx')), err.message);
    assert.match(err.message, /openai\/clip-vit-base-patch32/);
    assert.match(err.message, /IMGSIFT_MODELS/);
    return true;
  });
  assert.throws(() => resolveModel({ model: 'mystery', dir }), /not installed and is not a preset.*manifest\.json/);
  assert.throws(() => resolveModel({ model: join(dir, 'nope.onnx') }), /does not exist/);
  // In a recipe, the error lands on the step's `model` field.
  process.env.IMGSIFT_MODELS = dir;
  const parsed = EmbedParams.safeParse({ model: 'clip-vit-b32' });
  assert.equal(parsed.success, false);
  assert.deepEqual(parsed.error!.issues[0].path, ['model']);
  assert.match(parsed.error!.issues[0].message, /model\.onnx/);
});

test('a malformed model file or manifest gives a clear error', async () => {
  const dir = await tempDir();
  await writeModel(join(dir, 'broken', 'model.onnx'), Buffer.from('this is not protobuf at all'));
  await writeFile(join(dir, 'broken', 'manifest.json'), JSON.stringify({ preset: 'clip-vit-b32' }));
  await assert.rejects(Encoder.load(resolveModel({ model: 'broken', dir })), /cannot load ONNX model .*broken.*model\.onnx/);
  // A truncated real model fails the same way.
  const good = tinyImageModel();
  await writeModel(join(dir, 'cut', 'model.onnx'), good.subarray(0, Math.floor(good.length / 2)));
  await writeFile(join(dir, 'cut', 'manifest.json'), JSON.stringify({ preset: 'clip-vit-b32' }));
  await assert.rejects(Encoder.load(resolveModel({ model: 'cut', dir })), /cannot load ONNX model/);
  // A valid model whose tensors are not the ones the manifest names.
  await writeModel(join(dir, 'names', 'model.onnx'), good);
  await writeFile(join(dir, 'names', 'manifest.json'), JSON.stringify({ preset: 'clip-vit-b32', output: 'pooler_output' }));
  await assert.rejects(Encoder.load(resolveModel({ model: 'names', dir })), /has no output 'pooler_output' \(its outputs: image_embeds\)/);
  // Manifests: bad JSON, bad field.
  await mkdir(join(dir, 'badjson'));
  await writeFile(join(dir, 'badjson', 'manifest.json'), '{ nope');
  assert.throws(() => resolveModel({ model: 'badjson', dir }), /manifest\.json is not valid JSON/);
  await mkdir(join(dir, 'badfield'));
  await writeFile(join(dir, 'badfield', 'manifest.json'), JSON.stringify({ preset: 'clip-vit-b32', pooling: 'max' }));
  assert.throws(() => resolveModel({ model: 'badfield', dir }), /badfield.*manifest\.json: pooling:/);
  const listed = listInstalled(dir);
  assert.deepEqual(listed.map((m) => [m.name, m.problem === undefined]), [
    ['badfield', false], ['badjson', false], ['broken', true], ['cut', true], ['names', true],
  ]);
});

test('a model file given by path takes a preset; the id follows the file content', async () => {
  const dir = await installTinyModel(await tempDir());
  const a = resolveModel({ model: 'tiny', dir });
  assert.match(a.id, /^tiny@[0-9a-f]{12}$/);
  const path = join(dir, 'loose.onnx');
  await writeModel(path, tinyImageModel({ seed: 99 }));
  assert.throws(() => resolveModel({ model: path }), /name a preset/);
  const b = resolveModel({ model: path, preset: 'clip-vit-b32' });
  assert.equal(b.manifest.name, 'clip-vit-b32');
  await writeModel(path, tinyImageModel({ seed: 100 }));
  assert.notEqual(resolveModel({ model: path, preset: 'clip-vit-b32' }).id, b.id);
});
