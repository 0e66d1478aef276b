import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { photoJpeg } from '../../src/demo/synth.js';
import { DeepFashion2Source } from '../../src/sources/deepfashion2.js';
import type { Skip } from '../../src/sources/types.js';
import { generateDeepFashion2 } from '../../examples/deepfashion2/generate.js';
import { collect, tempDir } from './helpers.js';

test('deepfashion2: one sample per item with the annotation fields, in split and name order', async (t) => {
  const root = join(await tempDir(t), 'df2');
  await generateDeepFashion2(root, { pairs: { train: 2, validation: 1 } });
  const skips: Skip[] = [];
  const { records, bad } = await collect(new DeepFashion2Source({ path: root, splits: ['train', 'validation'] }), { onSkip: (s) => skips.push(s) });
  assert.deepEqual(bad, []);
  assert.deepEqual(skips, []);

  // Independently: every item of every annotation file, split by split, files in name order.
  const want: Array<{ id: string; anno: Record<string, any>; key: string; split: string; stem: string }> = [];
  for (const split of ['train', 'validation']) {
    for (const f of (await readdir(join(root, split, 'annos'))).sort()) {
      const anno = JSON.parse(await readFile(join(root, split, 'annos', f), 'utf8'));
      const stem = f.slice(0, -5);
      for (const key of Object.keys(anno).filter((k) => /^item\d+$/.test(k))) want.push({ id: `${split}/${stem}/${key}`, anno, key, split, stem });
    }
  }
  assert.deepEqual(records.map((r) => r.id), want.map((w) => w.id));
  for (const [i, r] of records.entries()) {
    const { anno, key, split, stem } = want[i];
    const item = anno[key];
    assert.equal(r.parent, `${split}/${stem}`);
    assert.equal(r.split, split);
    assert.equal(r.path, `${split}/image/${stem}.jpg`);
    assert.equal(r.files.image, join(root, split, 'image', `${stem}.jpg`));
    assert.equal(r.label, item.category_name);
    assert.equal(r.ref, `${join(root, split, 'annos', `${stem}.json`)}#${key}`);
    assert.deepEqual(r.meta, {
      image_id: stem, item_idx: Number(key.slice(4)), source: anno.source, pair_id: anno.pair_id,
      category_id: item.category_id, category_name: item.category_name, style: item.style, bounding_box: item.bounding_box,
      occlusion: item.occlusion, viewpoint: item.viewpoint, scale: item.scale, zoom_in: item.zoom_in,
      landmarks: item.landmarks, segmentation: item.segmentation,
    });
  }
  assert.ok(records.some((r) => r.meta!.source === 'shop') && records.some((r) => r.meta!.source === 'user'));
});

test('deepfashion2: items in numeric order; broken files are passed over with their reason, the read goes on', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'df2');
  const img = join(root, 'train', 'image');
  const annos = join(root, 'train', 'annos');
  await mkdir(img, { recursive: true });
  await mkdir(annos, { recursive: true });
  const jpg = await photoJpeg({ seed: 3, width: 64, height: 48 });
  const item = (n: number) => ({ category_id: 1, category_name: 'short sleeve top', style: n, bounding_box: [1, 2, 30, 40], occlusion: 1, viewpoint: 2 });
  for (const stem of ['000001', '000002', '000003', '000004', '000005']) await writeFile(join(img, `${stem}.jpg`), jpg);
  // item10 after item2: numeric, not text order.
  await writeFile(join(annos, '000001.json'), JSON.stringify({ source: 'user', pair_id: 7, item10: item(10), item2: item(2), item1: item(1) }));
  await writeFile(join(annos, '000002.json'), '{"source": "shop", "pair_id": ');
  await writeFile(join(annos, '000003.json'), JSON.stringify({ source: 'shop', pair_id: 7 }));
  await writeFile(join(annos, '000004.json'), JSON.stringify({ source: 'shop', pair_id: 7, item1: { ...item(1), bounding_box: [1, 2] }, item2: item(1) }));
  // 000005 has no annotation; 000006 has no image.
  await writeFile(join(annos, '000006.json'), JSON.stringify({ source: 'shop', pair_id: 7, item1: item(1) }));
  // A link out of the dataset root is not read.
  await writeFile(join(dir, 'outside.jpg'), jpg);
  await symlink(join(dir, 'outside.jpg'), join(img, '000007.jpg'));
  await writeFile(join(annos, '000007.json'), JSON.stringify({ source: 'shop', pair_id: 7, item1: item(1) }));

  const skips: Skip[] = [];
  const { records } = await collect(new DeepFashion2Source({ path: root, splits: ['train', 'validation'] }), { onSkip: (s) => skips.push(s) });
  assert.deepEqual(records.map((r) => r.id), ['train/000001/item1', 'train/000001/item2', 'train/000001/item10', 'train/000004/item2']);
  assert.deepEqual(records.map((r) => r.meta!.item_idx), [1, 2, 10, 2]);
  const reasons = skips.map((s) => `${s.path.slice(root.length + 1)}: ${s.reason.replace(/:.*/, '')}`).sort();
  assert.deepEqual(reasons, [
    'train/annos/000002.json: malformed annotation',
    'train/annos/000003.json: annotation has no items',
    'train/annos/000004.json#item1: item without a bounding_box of four numbers',
    'train/annos/000006.json: annotation without image',
    'train/image/000005.jpg: image without annotation',
    'train/image/000007.jpg: symbolic link out of the dataset root',
    "validation: split 'validation' not found (no image/ or annos/ folder)",
  ]);
});

test('deepfashion2: a missing root is an error naming it', async (t) => {
  const dir = await tempDir(t);
  await assert.rejects(collect(new DeepFashion2Source({ path: join(dir, 'nope'), splits: ['train'] })), /nope/);
});
