import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldKeys } from '../../src/export/webdataset.js';
import { resolveColumns, rowToRecord } from '../../src/sources/manifest.js';

const row = (id: string, meta: Record<string, unknown> | null) => ({ id, path: null, text: null, label: null, group_key: null, meta: meta && JSON.stringify(meta) });

test('webdataset key from a field: / becomes _, the extension dropped, no dot left', () => {
  const keys = fieldKeys(
    [row('a', { output_image: 'images/positive-edit/1.png' }), row('b', { output_image: 'images/positive-edit/10.png' })],
    { from: 'output_image', drop_extension: true },
  );
  assert.deepEqual([...keys], [['a', 'images_positive-edit_1'], ['b', 'images_positive-edit_10']]);
  assert.deepEqual([...fieldKeys([row('x/y.v2.png', null)], { from: 'id', drop_extension: true })], [['x/y.v2.png', 'x_y_v2']]);
  assert.deepEqual([...fieldKeys([row('x/y.png', null)], { from: 'id', drop_extension: false })], [['x/y.png', 'x_y_png']]);
});

test('webdataset key from a field: a missing value or a shared key names the samples', () => {
  assert.throws(() => fieldKeys([row('a', {})], { from: 'output_image', drop_extension: true }), /sample "a" has no value for 'output_image'/);
  assert.throws(
    () => fieldKeys([row('a', { o: 'p/1.png' }), row('b', { o: 'p/1.jpg' })], { from: 'o', drop_extension: true }),
    /samples "a" and "b" both give key "p_1"/,
  );
});

test('source fields.keep_in_meta keeps mapped columns in meta', () => {
  const line = { open_image_input_url: 'http://h/in.jpg', output_image: 'images/1.png', text: 't', edit_type: 'e' };
  const fields = { id: 'output_image', image: 'open_image_input_url', text: 'text', files: { output: 'output_image' }, prefixes: { output: 'http://cdn/' } };
  const ctx = { file: 'sft.jsonl', line: 1, root: '/', allowAbsolutePaths: false };
  const plain = rowToRecord(line, resolveColumns('sft.jsonl', fields, Object.keys(line)), ctx);
  assert.deepEqual((plain as { meta?: unknown }).meta, { edit_type: 'e' });
  const kept = rowToRecord(line, resolveColumns('sft.jsonl', { ...fields, keep_in_meta: ['open_image_input_url', 'output_image'] }, Object.keys(line)), ctx);
  assert.deepEqual((kept as { meta?: unknown }).meta, { open_image_input_url: 'http://h/in.jpg', output_image: 'images/1.png', edit_type: 'e' });
  assert.equal((kept as { id?: string }).id, 'images/1.png');
});
