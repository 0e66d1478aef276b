import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { FilesOptions, filesExporter } from '../../src/export/files.js';
import { GroupedJsonOptions, expandEnv, groupedJsonExporter } from '../../src/export/grouped-json.js';
import { listFiles } from './image-catalog.js';
import { buildSkuCatalog, dropSample } from './sku-catalog.js';

/** Seed 001's `<split>_sku_metadata.json`. */
const SEED = {
  name: '{split}_sku_metadata.json',
  header: { split: '{split}', df2_root: '${TEST_DF2_ROOT}', out_root: 'data/DeepFashion2_SKU' },
  count_key: 'num_skus',
  groups_key: 'skus',
  group_by: 'sku_id',
  group_fields: ['pair_id', 'style', 'category_id', 'category_name'],
  list_by: 'domain',
  lists: ['catalog', 'query'],
  member_fields: [{ crop_path: 'role:crop', orig_image_path: 'path' }, 'image_id', 'item_idx', 'bbox', 'occlusion', 'viewpoint'],
};

test('grouped_json: the seed-001 sku_metadata document, byte for byte', async () => {
  const { ctx, dir } = await buildSkuCatalog();
  process.env.TEST_DF2_ROOT = '/data/DeepFashion2_original';
  try {
    const root = join(dir, 'sku');
    await filesExporter.run(ctx, FilesOptions.parse({ to: root, role: 'crop', path: '{split}/{domain}/{sku_id}/{image_id}_item{item_idx}.jpg' }));
    const stats = await groupedJsonExporter.run(ctx, GroupedJsonOptions.parse({ to: root, ...SEED }));
    assert.deepEqual(stats, { 'groups train': 3, 'groups validation': 1 });
    const text = await readFile(join(root, 'validation_sku_metadata.json'), 'utf8');
    assert.equal(text, `{
  "split": "validation",
  "df2_root": "/data/DeepFashion2_original",
  "out_root": "data/DeepFashion2_SKU",
  "num_skus": 1,
  "skus": {
    "000040_01_01": {
      "pair_id": 40,
      "style": 1,
      "category_id": 1,
      "category_name": "short sleeve top",
      "catalog": [
        {
          "crop_path": "validation/catalog/000040_01_01/000008_item1.jpg",
          "orig_image_path": "validation/image/000008.jpg",
          "image_id": "000008",
          "item_idx": 1,
          "bbox": [8, 3, 101, 121],
          "occlusion": 3,
          "viewpoint": 2
        }
      ],
      "query": [
        {
          "crop_path": "validation/query/000040_01_01/000009_item1.jpg",
          "orig_image_path": "validation/image/000009.jpg",
          "image_id": "000009",
          "item_idx": 1,
          "bbox": [9, 3, 101, 122],
          "occlusion": 1,
          "viewpoint": 2
        }
      ]
    }
  }
}
`);
    const train = JSON.parse(await readFile(join(root, 'train_sku_metadata.json'), 'utf8'));
    assert.deepEqual(Object.keys(train), ['split', 'df2_root', 'out_root', 'num_skus', 'skus']);
    assert.deepEqual(Object.keys(train.skus), ['000001_01_01', '000003_01_09', '000012_02_07']);
    const sku = train.skus['000001_01_01'];
    assert.deepEqual(Object.keys(sku), ['pair_id', 'style', 'category_id', 'category_name', 'catalog', 'query']);
    assert.deepEqual(sku.catalog.map((m: { image_id: string }) => m.image_id), ['000002', '000003']);
    assert.deepEqual(sku.query.map((m: { crop_path: string }) => m.crop_path), ['train/query/000001_01_01/000001_item1.jpg']);
    const all = await listFiles(root);
    for (const g of Object.values(train.skus) as Array<{ catalog: Array<{ crop_path: string }> }>) {
      for (const m of g.catalog) assert.ok(all.includes(m.crop_path));
    }

    // Reruns give the same bytes; a group whose only query goes away keeps an empty query list.
    await dropSample(ctx, 'train/000005#1');
    await groupedJsonExporter.run(ctx, GroupedJsonOptions.parse({ to: root, ...SEED }));
    const after = JSON.parse(await readFile(join(root, 'train_sku_metadata.json'), 'utf8'));
    assert.deepEqual(after.skus['000012_02_07'].query, []);
    assert.equal(await readFile(join(root, 'validation_sku_metadata.json'), 'utf8'), text);
  } finally {
    delete process.env.TEST_DF2_ROOT;
    ctx.catalog.close();
  }
});

test('grouped_json: lists found when not fixed, one member list without list_by, integer-like group keys keep order', async () => {
  const { ctx, dir } = await buildSkuCatalog();
  try {
    await groupedJsonExporter.run(ctx, GroupedJsonOptions.parse({
      to: join(dir, 'a'), group_by: 'pair_id', list_by: 'domain', member_fields: ['id'], indent: 0,
    }));
    const text = await readFile(join(dir, 'a/train.json'), 'utf8');
    // Groups sorted by key as text ("1" < "12" < "3"), not moved around as integer keys would be.
    assert.match(text, /^\{"groups":\{"1":\{"catalog":\[\{"id":"train\/000002#1"\},\{"id":"train\/000003#2"\}\],"query":\[\{"id":"train\/000001#1"\}\]\},"12":/);
    assert.ok(text.indexOf('"12":') < text.indexOf('"3":'));

    await groupedJsonExporter.run(ctx, GroupedJsonOptions.parse({
      to: join(dir, 'b'), group_by: 'category_name', members_key: 'items', member_fields: ['image_id'], count_key: 'n',
    }));
    const b = JSON.parse(await readFile(join(dir, 'b/train.json'), 'utf8'));
    assert.equal(b.n, 3);
    assert.deepEqual(b.groups.shorts.items, [{ image_id: '000004' }, { image_id: '000005' }]);
  } finally {
    ctx.catalog.close();
  }
});

test('grouped_json: conflicting group fields are counted; bad options and unset variables are refused', async () => {
  const bad = (o: unknown) => {
    const r = GroupedJsonOptions.safeParse(o);
    assert.equal(r.success, false);
    return r.error!.issues.map((i) => i.message).join('\n');
  };
  assert.match(bad({ to: 'x', group_by: 'sku_id', member_fields: ['id'], name: 'meta.json' }), /must use \{split\}/);
  assert.match(bad({ to: 'x', group_by: 'sku_id', member_fields: ['id'], lists: ['a'] }), /lists needs list_by/);
  assert.match(bad({ to: 'x', group_by: 'sku_id', member_fields: ['id'], count_key: 'groups' }), /also a header or count key/);
  assert.throws(() => expandEnv('${IMGSIFT_SURELY_UNSET}'), /IMGSIFT_SURELY_UNSET\}, which is not set/);
  assert.equal(expandEnv('${IMGSIFT_SURELY_UNSET:-/x}/y'), '/x/y');

  const { ctx, dir } = await buildSkuCatalog();
  try {
    const stats = await groupedJsonExporter.run(ctx, GroupedJsonOptions.parse({
      to: join(dir, 'c'), group_by: 'category_id', group_fields: ['sku_id'], member_fields: ['id'],
    }));
    // Within a split each category holds one SKU: no conflicts. Style 1 spans several SKUs: the
    // first member's sku_id is the group's, the others are counted.
    assert.equal(stats['group field conflicts'], undefined);
    const s2 = await groupedJsonExporter.run(ctx, GroupedJsonOptions.parse({
      to: join(dir, 'd'), group_by: 'style', group_fields: ['sku_id'], member_fields: ['id'],
    }));
    assert.ok(Number(s2['group field conflicts']) > 0);
    await assert.rejects(
      groupedJsonExporter.run(ctx, GroupedJsonOptions.parse({ to: join(dir, 'e'), group_by: 'sku', member_fields: ['id'] })),
      /no sample has a value for field\(s\) sku/,
    );
  } finally {
    ctx.catalog.close();
  }
});
