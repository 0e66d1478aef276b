import assert from 'node:assert/strict';
import { test } from 'node:test';
import { photoJpeg } from '../../src/demo/synth.js';
import { hashStep } from '../../src/steps/hash.js';
import type { SampleInput } from '../../src/steps/types.js';
import { sha256Hex } from '../../src/util/hash.js';

function sample(bytes: Buffer): SampleInput {
  return { id: 's1', uri: '/x/s1.jpg', name: 's1.jpg', bytes, sha256: sha256Hex(bytes), upstream: {}, roles: {}, fields: {} };
}

test('params: defaults, canonical order, unknown algorithms rejected with the allowed list', () => {
  assert.deepEqual(hashStep.params.parse({}), { algos: ['phash', 'dhash', 'ahash', 'whash'], pixel: true, exact: false });
  assert.deepEqual(hashStep.params.parse({ algos: ['dhash', 'phash', 'dhash'] }).algos, ['phash', 'dhash']);
  const bad = hashStep.params.safeParse({ algos: ['phash', 'md5'] });
  assert.equal(bad.success, false);
  assert.match(JSON.stringify(bad.error!.issues), /phash, dhash, ahash, whash/);
  assert.equal(hashStep.params.safeParse({ pixel: 'yes' }).success, false);
  assert.equal(hashStep.params.safeParse({ colour: true }).success, false);
});

test('run: result JSON with the asked hashes, null for the others', async () => {
  const jpg = await photoJpeg({ seed: 7, width: 640, height: 480 });
  const all = await hashStep.run(sample(jpg), hashStep.params.parse({}));
  const r = all.result as Record<string, string | null>;
  assert.deepEqual(Object.keys(r).sort(), ['ahash', 'dhash', 'phash', 'pixel_sha256', 'whash']);
  for (const k of ['phash', 'dhash', 'ahash', 'whash']) assert.match(r[k]!, /^[0-9a-f]{16}$/);
  assert.match(r.pixel_sha256!, /^[0-9a-f]{64}$/);

  const some = (await hashStep.run(sample(jpg), hashStep.params.parse({ algos: ['dhash'], pixel: false }))).result as Record<string, string | null>;
  assert.equal(some.dhash, r.dhash);
  assert.equal(some.phash, null);
  assert.equal(some.pixel_sha256, null);
});

test('run: a corrupt image throws', async () => {
  await assert.rejects(hashStep.run(sample(Buffer.from('GIF89a garbage')), hashStep.params.parse({})));
});
