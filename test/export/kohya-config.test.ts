import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatasetConfigOptions, datasetConfigToml, fineTuneMetadata, tomlString } from '../../src/export/kohya-config.js';

test('kohya config: TOML strings escape quotes, backslashes and control characters', () => {
  assert.equal(tomlString('10_ohwx man'), '"10_ohwx man"');
  assert.equal(tomlString('a "b" \\ c\n\x01'), '"a \\"b\\" \\\\ c\\n\\u0001"');
});

test('kohya config: [general] bucket settings, [[datasets]] resolution and batch, one subset per folder', () => {
  const toml = datasetConfigToml(DatasetConfigOptions.parse({ resolution: [768, 512], batch_size: 4, bucket_no_upscale: true }), '.caption', [
    { image_dir: '/d/img/10_ohwx man', num_repeats: 10, class_tokens: 'ohwx man', is_reg: false },
    { image_dir: '/d/reg/1_man', num_repeats: 1, class_tokens: 'man', is_reg: true },
  ]);
  const lines = toml.split('\n').map((l) => l.trim());
  const general = lines.slice(lines.indexOf('[general]'), lines.indexOf('[[datasets]]'));
  for (const l of ['enable_bucket = true', 'min_bucket_reso = 256', 'max_bucket_reso = 1024', 'bucket_reso_steps = 64', 'bucket_no_upscale = true', 'keep_tokens = 1', 'caption_extension = ".caption"']) {
    assert.ok(general.includes(l), l);
  }
  assert.ok(lines.includes('resolution = [768, 512]') && lines.includes('batch_size = 4'));
  const subsets = toml.split('[[datasets.subsets]]').slice(1);
  assert.equal(subsets.length, 2);
  assert.match(subsets[0], /image_dir = "\/d\/img\/10_ohwx man"\n\s+num_repeats = 10\n\s+class_tokens = "ohwx man"[\s\S]*is_reg = false[\s\S]*keep_tokens = 1/);
  assert.match(subsets[1], /num_repeats = 1[\s\S]*is_reg = true[\s\S]*keep_tokens = 0/);
});

test('kohya config: fine-tuning metadata keyed by file stem, caption and train_resolution', () => {
  const json = JSON.parse(fineTuneMetadata([
    { key: 'b', caption: 'ohwx, man', width: 640, height: 896 },
    { key: 'a', caption: null, width: 768, height: 768 },
  ]));
  assert.deepEqual(Object.keys(json), ['a', 'b']);
  assert.deepEqual(json, { a: { train_resolution: [768, 768] }, b: { caption: 'ohwx, man', train_resolution: [640, 896] } });
});
