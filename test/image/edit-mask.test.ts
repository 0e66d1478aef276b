import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { alignPair } from '../../src/image/align.js';
import { editMask, EditMaskParamsSchema, SEED_MASK_PARAMS } from '../../src/image/edit-mask.js';
import { alignStep } from '../../src/steps/align.js';
import { editMaskStep } from '../../src/steps/edit-mask.js';
import type { Json, SampleInput } from '../../src/steps/types.js';
import { sha256Hex } from '../../src/util/hash.js';
import { iou, makeEditPairs, type EditPair } from '../helpers/edit-pairs.js';

let pairs: EditPair[];
before(async () => {
  pairs = await makeEditPairs({ longSide: 640, edited: 8, unedited: 2, different: 1, seed: 7 });
});

async function homography(p: EditPair): Promise<number[]> {
  const a = await alignPair(p.input, p.output);
  assert.ok(a.ok, `${p.name}: ${!a.ok ? a.detail : ''}`);
  return a.ok ? a.homography : [];
}

test('edited pairs: mean IoU against the true region at least 0.6; a 0/255 single-channel PNG of the input size', async () => {
  const ious: string[] = [];
  let sum = 0;
  const edited = pairs.filter((p) => p.kind === 'edited');
  for (const p of edited) {
    const m = await editMask(p.input, p.output, await homography(p));
    const x = iou(m.mask, p.truth);
    sum += x;
    ious.push(`${p.edit} ${x.toFixed(2)}`);
    assert.deepEqual([m.width, m.height], [p.width, p.height]);
    assert.ok(m.components >= 1 && m.components <= 5, `${p.name}: ${m.components} components`);
    assert.ok(m.coverage > 0 && m.coverage < 0.3, `${p.name}: coverage ${m.coverage}`);
    const meta = await sharp(m.png).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', p.width, p.height, 1]);
    const raw = await sharp(m.png).extractChannel(0).raw().toBuffer();
    assert.ok(raw.every((v) => v === 0 || v === 255));
    assert.deepEqual(new Uint8Array(raw), m.mask);
  }
  assert.ok(sum / edited.length >= 0.6, `mean IoU ${(sum / edited.length).toFixed(3)}: ${ious.join(', ')}`);
});

test('unedited re-framed pairs (zoom, shift, rotation, tone change) give an empty mask', async () => {
  for (const p of pairs.filter((x) => x.kind === 'unedited')) {
    const m = await editMask(p.input, p.output, await homography(p));
    assert.ok(m.coverage < 0.005, `${p.name}: coverage ${m.coverage}`);
    // The tone fit found the global change (gain 0.92-1.08 per channel).
    for (const g of m.tone.gain) assert.ok(g > 0.85 && g < 1.15, `gain ${g}`);
  }
});

test('an output of another size: mask in input coordinates, still on the edit', async () => {
  const p = pairs.find((x) => x.kind === 'edited' && x.edit === 'paste')!;
  const other = await sharp(p.output).resize(900, 900, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
  const a = await alignPair(p.input, other);
  assert.ok(a.ok);
  if (!a.ok) return;
  const m = await editMask(p.input, other, a.homography);
  assert.deepEqual([m.width, m.height], [p.width, p.height]);
  assert.ok(iou(m.mask, p.truth) > 0.6, `IoU ${iou(m.mask, p.truth)}`);
});

test('a mask computed below full size (mask_side) is scaled back to the input size', async () => {
  const p = pairs.find((x) => x.kind === 'edited' && x.edit === 'recolour')!;
  const m = await editMask(p.input, p.output, await homography(p), { mask_side: 320, blur: 5, kernel: 5 });
  assert.deepEqual([m.width, m.height, m.mask.length], [p.width, p.height, p.width * p.height]);
  assert.ok(iou(m.mask, p.truth) > 0.5, `IoU ${iou(m.mask, p.truth)}`);
});

test('seed preset: the seed parameters, full resolution, and it finds the pasted object', async () => {
  assert.equal(SEED_MASK_PARAMS.threshold, 50);
  assert.equal(SEED_MASK_PARAMS.blur, 7);
  assert.equal(SEED_MASK_PARAMS.kernel, 11);
  assert.equal(SEED_MASK_PARAMS.keep_components, 5);
  const p = pairs.find((x) => x.kind === 'edited' && x.edit === 'paste')!;
  const m = await editMask(p.input, p.output, await homography(p), SEED_MASK_PARAMS);
  assert.ok(iou(m.mask, p.truth) > 0.5, `IoU ${iou(m.mask, p.truth)}`);
  assert.equal(EditMaskParamsSchema.safeParse({ blur: 4 }).success, false); // kernel sizes must be odd
});

test('a bad homography or undecodable output throws a clear error', async () => {
  const p = pairs[0];
  await assert.rejects(editMask(p.input, p.output, [1, 0, 0]), /9 finite numbers/);
  await assert.rejects(editMask(p.input, p.output, [0, 0, 0, 0, 0, 0, 0, 0, 0]), /singular/);
  await assert.rejects(editMask(p.input, Buffer.from('garbage'), [1, 0, 0, 0, 1, 0, 0, 0, 1]));
});

function sample(p: EditPair, upstream: Record<string, Json> = {}, roles = { input: p.input, output: p.output }): SampleInput {
  const r = Object.fromEntries(Object.entries(roles).map(([k, b]) => [k, { bytes: b, sha256: sha256Hex(b), name: `${k}.jpg` }]));
  const first = Object.values(roles)[0];
  return { id: p.name, uri: `/x/${p.name}`, name: `${p.name}.jpg`, bytes: first, sha256: sha256Hex(first), upstream, roles: r, fields: {} };
}

test('steps: align then edit_mask on one sample; a failed alignment becomes an align_failed issue and no mask', async () => {
  const p = pairs.find((x) => x.kind === 'edited')!;
  const ap = alignStep.params.parse({});
  assert.deepEqual(alignStep.roles!(ap), ['input', 'output']);
  assert.deepEqual(alignStep.roles!(alignStep.params.parse({ input: 'source', output: 'edited' })), ['source', 'edited']);
  const aligned = await alignStep.run(sample(p), ap);
  const res = aligned.result as { ok: boolean; homography: number[]; inliers: number };
  assert.equal(res.ok, true);
  assert.equal(aligned.issues, undefined);

  const mp = editMaskStep.params.parse({});
  assert.deepEqual(editMaskStep.uses, ['align']);
  const masked = await editMaskStep.run(sample(p, { align: aligned.result }), mp);
  assert.equal(masked.files?.length, 1);
  assert.equal(masked.files![0].role, 'mask');
  assert.equal(masked.files![0].ext, 'png');
  const mr = masked.result as { coverage: number; components: number; touches_border: boolean };
  assert.ok(mr.coverage > 0 && mr.components >= 1);
  assert.equal(typeof mr.touches_border, 'boolean');
  const to = await editMaskStep.run(sample(p, { align: aligned.result }), editMaskStep.params.parse({ to: 'edit_region' }));
  assert.equal(to.files![0].role, 'edit_region');

  const diff = pairs.find((x) => x.kind === 'different')!;
  const failed = await alignStep.run(sample(diff), ap);
  assert.equal((failed.result as { ok: boolean }).ok, false);
  assert.equal(failed.issues?.length, 1);
  assert.equal(failed.issues![0].type, 'align_failed');
  assert.equal(failed.issues![0].flagged, true);
  assert.match(String((failed.issues![0].evidence as { reason: string }).reason), /too_few_matches|low_inlier_ratio|degenerate_homography/);
  const skipped = await editMaskStep.run(sample(diff, { align: failed.result }), mp);
  assert.deepEqual(skipped.result, { ok: false, skipped: 'align_failed' });
  assert.equal(skipped.files, undefined);

  // Corrupt output bytes: a reason, not a crash.
  const corrupt = await alignStep.run(sample(p, {}, { input: p.input, output: Buffer.from('nope') }), ap);
  assert.equal((corrupt.issues![0].evidence as { reason: string }).reason, 'decode_failed');
  await assert.rejects(alignStep.run(sample(p, {}, { input: p.input } as never), ap), /lacks role output/);
});

test('edit_mask params: a preset, keys beside it override it', () => {
  const seed = editMaskStep.params.parse({ preset: 'seed' });
  assert.deepEqual(seed.mask, SEED_MASK_PARAMS);
  const over = editMaskStep.params.parse({ preset: 'seed', threshold: 40 });
  assert.equal(over.mask.threshold, 40);
  assert.equal(over.mask.tone_match, false);
  assert.equal(editMaskStep.params.parse({}).mask.tone_match, true);
  assert.equal(editMaskStep.params.safeParse({ preset: 'fancy' }).success, false);
  assert.equal(editMaskStep.params.safeParse({ colour: 1 }).success, false);
});
