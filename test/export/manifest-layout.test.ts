import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FilesOptions, filesExporter } from '../../src/export/files.js';
import { ManifestOptions, manifestExporter } from '../../src/export/manifest.js';
import { listFiles } from './image-catalog.js';
import { buildSkuCatalog, dropSample } from './sku-catalog.js';

/** The fields of seed 001's `<split>_image_text.jsonl`, in its order. */
const SEED_FIELDS = [
  'split', 'sku_id', 'pair_id', 'style', 'category_id', 'category_name', 'domain',
  { image_path: 'role:crop', orig_image_path: 'path' },
  'image_id', 'item_idx', 'meta.bbox', 'occlusion', 'viewpoint', 'text',
];

test('manifest: seed-001 image_text files per split, image paths where the files export put the crops', async () => {
  const { ctx, dir } = await buildSkuCatalog();
  try {
    const root = join(dir, 'DeepFashion2_SKU');
    await filesExporter.run(ctx, FilesOptions.parse({ to: root, role: 'crop', path: '{split}/{domain}/{sku_id}/{image_id}_item{item_idx}.jpg' }));
    const stats = await manifestExporter.run(ctx, ManifestOptions.parse({ to: root, name: '{split}_image_text.jsonl', fields: SEED_FIELDS }));
    assert.deepEqual(stats, { 'manifest train_image_text.jsonl': 7, 'manifest validation_image_text.jsonl': 2 });

    const lines = (await readFile(join(root, 'train_image_text.jsonl'), 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 7);
    // Exactly the seed's shape: keys in order, numbers as numbers, paths relative to the root.
    assert.equal(
      lines[0],
      '{"split":"train","sku_id":"000001_01_01","pair_id":1,"style":1,"category_id":1,"category_name":"short sleeve top",' +
        '"domain":"query","image_path":"train/query/000001_01_01/000001_item1.jpg","orig_image_path":"train/image/000001.jpg",' +
        '"image_id":"000001","item_idx":1,"bbox":[1,3,101,121],"occlusion":2,"viewpoint":2,"text":"A user photo of a short sleeve top."}',
    );
    for (const line of lines) {
      const rec = JSON.parse(line) as { image_path: string };
      assert.ok((await listFiles(root)).includes(rec.image_path), `${rec.image_path} exists under the root`);
    }

    // A split that is gone takes its manifest with it; the crops (another export's) stay.
    await dropSample(ctx, 'validation/000008#1');
    await dropSample(ctx, 'validation/000009#1');
    const again = await manifestExporter.run(ctx, ManifestOptions.parse({ to: root, name: '{split}_image_text.jsonl', fields: SEED_FIELDS }));
    assert.equal(again['stale files removed'], 1);
    const files = await listFiles(root);
    assert.ok(!files.includes('validation_image_text.jsonl'));
    assert.ok(files.includes('train_image_text.jsonl'));
    assert.ok(files.includes('validation/query/000040_01_01/000009_item1.jpg'));
  } finally {
    ctx.catalog.close();
  }
});

test('manifest: role paths relative to a base, CSV and Parquet, one file without name', async () => {
  const { ctx, dir } = await buildSkuCatalog();
  try {
    const fields = ['id', { file: 'role:image', mask: 'role:mask' }, 'sku_id', 'bbox'];
    await manifestExporter.run(ctx, ManifestOptions.parse({ to: join(dir, 'out/all.jsonl'), fields, relative_to: 'DeepFashion2' }));
    const first = JSON.parse((await readFile(join(dir, 'out/all.jsonl'), 'utf8')).split('\n')[0]);
    assert.deepEqual(first, { id: 'train/000001#1', file: 'train/image/000001.jpg', mask: first.mask, sku_id: '000001_01_01', bbox: [1, 3, 101, 121] });
    assert.match(first.mask, /^\.\.\/work\/assets\/ma\/mask\.png$/);

    await manifestExporter.run(ctx, ManifestOptions.parse({ to: join(dir, 'csv'), name: '{split}.csv', fields, relative_to: 'DeepFashion2' }));
    const csv = (await readFile(join(dir, 'csv/validation.csv'), 'utf8')).split('\n');
    assert.equal(csv[0], 'id,file,mask,sku_id,bbox');
    assert.equal(csv[1], 'validation/000008#1,validation/image/000008.jpg,,000040_01_01,"[8,3,101,121]"');
    assert.equal(csv[2], 'validation/000009#1,validation/image/000009.jpg,../work/assets/ma/mask.png,000040_01_01,"[9,3,101,122]"');

    await manifestExporter.run(ctx, ManifestOptions.parse({ to: join(dir, 'pq'), name: '{split}.parquet', fields }));
    const rows = await ctx.catalog.all<{ id: string; sku_id: string; bbox: number[] }>(
      `SELECT id, sku_id, bbox FROM read_parquet('${join(dir, 'pq/train.parquet')}') ORDER BY id`,
    );
    assert.equal(rows.length, 7);
    assert.deepEqual(rows[0].bbox.map(Number), [1, 3, 101, 121]);

    // Crops a files export wrote into the `relative_to` folder are named as it wrote them.
    await filesExporter.run(ctx, FilesOptions.parse({ to: join(dir, 'sku'), role: 'crop', path: '{domain}/{image_id}_{item_idx}.webp' }));
    await manifestExporter.run(ctx, ManifestOptions.parse({ to: join(dir, 'meta/crops.jsonl'), fields: ['id', { crop: 'role:crop' }], relative_to: 'sku' }));
    const crop = JSON.parse((await readFile(join(dir, 'meta/crops.jsonl'), 'utf8')).split('\n')[0]);
    assert.deepEqual(crop, { id: 'train/000001#1', crop: 'query/000001_1.webp' });

    // The default columns, split into files.
    await manifestExporter.run(ctx, ManifestOptions.parse({ to: join(dir, 'plain'), name: 'm-{split}.jsonl' }));
    const plain = (await readFile(join(dir, 'plain/m-validation.jsonl'), 'utf8')).trimEnd().split('\n');
    assert.equal(plain.length, 2);
    assert.equal(JSON.parse(plain[0]).split, 'validation');
  } finally {
    ctx.catalog.close();
  }
});

test('manifest: misspelt fields and bad names are refused', async () => {
  const bad = (o: unknown) => {
    const r = ManifestOptions.safeParse(o);
    assert.equal(r.success, false);
    return r.error!.issues.map((i) => i.message).join('\n');
  };
  assert.match(bad({ to: 'x', name: 'image_text.jsonl' }), /must contain \{split\}/);
  assert.match(bad({ to: 'x', name: '../{split}.jsonl' }), /escapes the export folder/);
  assert.match(bad({ to: 'x', name: '{split}_{label}.jsonl' }), /may only use \{split\}/);
  assert.match(bad({ to: 'x', fields: ['id', { id: 'path' }] }), /the key 'id' is listed twice/);
  const { ctx, dir } = await buildSkuCatalog();
  try {
    await assert.rejects(
      manifestExporter.run(ctx, ManifestOptions.parse({ to: join(dir, 'm.jsonl'), fields: ['id', 'sku', 'meta.bbox'] })),
      /no sample has a value for field\(s\) sku; check the names/,
    );
  } finally {
    ctx.catalog.close();
  }
});
