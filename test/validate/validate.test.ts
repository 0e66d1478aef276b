import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { formatReport } from '../../src/validate/format.js';
import { findShards } from '../../src/validate/shards.js';
import { validateShards } from '../../src/validate/validate.js';
import { tempDir } from '../helpers/tmp.js';
import { H, W, fixtures, writeExtracted, writeTar } from './fixtures.js';

test('validate: mask coverage, components, border flags, missing members, duplicate keys, decode failures', async () => {
  const dir = await tempDir('imgsift-validate-');
  const f = await fixtures();
  await writeTar(join(dir, 'wds', 'train', 'shard-000000.tar'), [f.rect, f.blobs, f.near, f.empty, f.full]);
  await writeTar(join(dir, 'wds', 'train', 'shard-000001.tar'), [f.small, f.nomask, f.broken, f.blobs]);
  await writeFile(join(dir, 'wds', 'train.index.json'), '{}');
  // An extracted copy beside the tars is not validated twice.
  await writeExtracted(join(dir, 'wds', 'dev_extracted', 'train', 'shard-000000'), [f.rect]);

  const overlays = join(dir, 'overlays');
  const r = await validateShards(join(dir, 'wds'), { output: overlays });
  assert.deepEqual(r.shards.map((s) => [s.name, s.samples]), [['train/shard-000000.tar', 5], ['train/shard-000001.tar', 4]]);
  assert.equal(r.samples, 9);
  assert.deepEqual(r.members, { 'input.jpg': 9, 'mask.png': 8, 'text.txt': 9 });

  const byKey = (key: string) => r.maskRecords.find((m) => m.key === key)!;
  assert.ok(Math.abs(byKey('000001').coverage - (100 * 400) / (W * H)) < 1e-9);
  assert.equal(byKey('000001').components, 1);
  assert.equal(byKey('000001').borderDistance, 0);
  assert.equal(byKey('000002').components, 2);
  assert.equal(byKey('000002').borderDistance, 10);
  assert.equal(byKey('000003').borderDistance, 2);
  assert.equal(byKey('000004').components, 0);

  const kinds = (key: string) => r.problems.filter((p) => p.key === key).map((p) => p.kind).sort();
  assert.deepEqual(kinds('000001'), ['mask_touches_border']);
  assert.deepEqual(kinds('000002'), ['duplicate_key'], 'the second 000002 is a duplicate; the blobs are fine');
  assert.deepEqual(kinds('000003'), [], 'near the edge is a warning, not a problem');
  assert.deepEqual(kinds('000004'), ['empty_mask']);
  assert.deepEqual(kinds('000005'), ['full_mask']);
  assert.deepEqual(kinds('000006'), ['mask_size_mismatch']);
  assert.deepEqual(kinds('000007'), ['missing_member']);
  assert.deepEqual(kinds('000008'), ['undecodable']);
  assert.match(r.problems.find((p) => p.kind === 'missing_member')!.detail, /no mask\.png member \(8 of 9 samples have one\)/);
  assert.match(r.problems.find((p) => p.kind === 'duplicate_key')!.detail, /also used in train\/shard-000000\.tar/);
  assert.equal(r.samplesWithProblems, 7);
  assert.deepEqual(r.edgeWarnings.map((w) => [w.key, w.borderDistance]), [['000003', 2]]);

  const m = r.masks!;
  assert.equal(m.masks, 8);
  assert.equal(m.empty, 1);
  assert.equal(m.full, 1);
  assert.equal(m.touchingBorder, 2, 'the edge square and the full mask');
  assert.equal(m.coverage.max, 100);
  assert.equal(m.coverage.min, 0);
  assert.equal(m.components.max, 2);
  assert.equal(m.borderDistance!.min, 0);
  assert.equal(r.images!.count, 8, 'the undecodable input has no size');
  assert.deepEqual(r.images!.sizes, [{ size: '64x48', count: 8 }]);

  // Overlays: input beside input-with-red-mask, for every mask whose input decodes.
  const files = (await readdir(overlays)).sort();
  assert.deepEqual(files, ['000001', '000002', '000003', '000004', '000005', '000006'].map((k) => `${k}.mask.jpg`));
  assert.equal(r.overlays!.written, 7, 'the duplicate 000002 overwrote the first one');
  const { data, info } = await sharp(join(overlays, '000001.mask.jpg')).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 2 * W);
  assert.equal(info.height, H);
  const px = (x: number, y: number) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)];
  const [lr, lg] = px(8, 20); // inside the mask, left half: the input as it is
  const [rr, rg] = px(W + 8, 20); // same pixel, right half: tinted red
  assert.ok(rr - rg > lr - lg + 60, `tinted ${px(W + 8, 20)} vs ${px(8, 20)}`);
  const outside = px(40, 5).map((v, i) => Math.abs(v - px(W + 40, 5)[i]));
  assert.ok(Math.max(...outside) < 20, 'outside the mask both halves match');

  const text = formatReport(r);
  assert.match(text, /Samples: 9 in 2 shard\(s\)/);
  assert.match(text, /coverage %\s+mean [\d.]+ {2}median [\d.]+ {2}min 0 {2}max 100/);
  assert.match(text, /components\s+mean [\d.]+ {2}median 1 {2}min 0 {2}max 2/);
  assert.match(text, /touching border 2 \(25\.0%\), near edge 1/);
  assert.match(text, /Problems: 7 in 7 of 9 samples/);
  assert.match(text, /train\/shard-000001\.tar: 000006: mask\.png is 32×24, input\.jpg is 64×48/);
});

test('validate: extracted shard folders, --max-samples, clean shards, bad paths', async () => {
  const dir = await tempDir('imgsift-validate-dir-');
  const f = await fixtures();
  const extracted = join(dir, 'dev_extracted');
  await writeExtracted(join(extracted, 'train', 'shard-000000'), [f.blobs, f.near]);
  await writeExtracted(join(extracted, 'dev', 'shard-000000'), [f.rect]);

  assert.deepEqual((await findShards(extracted)).map((s) => [s.name, s.kind]), [['dev/shard-000000', 'dir'], ['train/shard-000000', 'dir']]);
  const clean = await validateShards(join(extracted, 'train', 'shard-000000'));
  assert.equal(clean.samples, 2);
  assert.deepEqual(clean.problems, []);
  assert.equal(clean.overlays, null);
  assert.match(formatReport(clean), /No problems found\./);

  const all = await validateShards(extracted, { maxSamples: 2 });
  assert.equal(all.samples, 2);
  assert.equal(all.truncated, true);
  assert.deepEqual(all.problems.map((p) => p.kind), ['mask_touches_border'], 'dev/ comes first and holds the edge square');

  const wide = await validateShards(join(extracted, 'train'), { borderMargin: 2 });
  assert.deepEqual(wide.problems.map((p) => [p.key, p.kind]), [['000003', 'mask_touches_border']]);

  await assert.rejects(validateShards(join(dir, 'nope')), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /does not exist/.test(e.message));
  await writeFile(join(dir, 'notes.md'), 'hi');
  await assert.rejects(validateShards(join(dir, 'notes.md')), /is not a \.tar shard/);
  const empty = join(dir, 'empty');
  await (await import('node:fs/promises')).mkdir(empty);
  await assert.rejects(validateShards(empty), /no shards under/);
});
