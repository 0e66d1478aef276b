import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { FilesOptions, filesExporter } from '../../src/export/files.js';
import { ImageFolderOptions, imageFolderExporter } from '../../src/export/imagefolder.js';
import { listFiles } from './image-catalog.js';
import { buildSkuCatalog, dropSample, skuItems } from './sku-catalog.js';

const SEED_LAYOUT = '{split}/{domain}/{sku_id}/{image_id}_item{item_idx}.jpg';

test('files: the seed-001 crop layout, PNG crops converted to JPEG, reruns write nothing', async () => {
  const { ctx, dir, crops } = await buildSkuCatalog();
  try {
    const out = join(dir, 'sku');
    const stats = await filesExporter.run(ctx, FilesOptions.parse({ to: out, role: 'crop', path: SEED_LAYOUT, quality: 80 }));
    const files = (await listFiles(out)).filter((f) => !f.startsWith('.imgsift/'));
    assert.deepEqual(files, [
      'train/catalog/000001_01_01/000002_item1.jpg',
      'train/catalog/000001_01_01/000003_item2.jpg',
      'train/catalog/000003_01_09/000007_item1.jpg',
      'train/catalog/000012_02_07/000004_item1.jpg',
      'train/query/000001_01_01/000001_item1.jpg',
      'train/query/000003_01_09/000006_item2.jpg',
      'train/query/000012_02_07/000005_item1.jpg',
      'validation/catalog/000040_01_01/000008_item1.jpg',
      'validation/query/000040_01_01/000009_item1.jpg',
    ]);
    assert.equal(stats['files converted'], 9);
    assert.equal(stats['files written'], 9);
    const jpg = await readFile(join(out, 'train/query/000001_01_01/000001_item1.jpg'));
    const meta = await sharp(jpg).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 32); // the crop, not the source photo (72 wide)
    // Same pixels as the stored crop, up to JPEG loss.
    const a = await sharp(jpg).raw().toBuffer();
    const b = await sharp(crops.get('train/000001#1')!).removeAlpha().raw().toBuffer();
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff += Math.abs(a[i] - b[i]);
    assert.ok(diff / a.length < 12, `mean difference ${diff / a.length}`);

    const again = await filesExporter.run(ctx, FilesOptions.parse({ to: out, role: 'crop', path: SEED_LAYOUT, quality: 80 }));
    assert.equal(again['files written'], 0);
    assert.equal(again['files unchanged'], 9);
  } finally {
    ctx.catalog.close();
  }
});

test('files: {ext} keeps the stored bytes; quality changes converted output', async () => {
  const { ctx, dir, crops } = await buildSkuCatalog();
  try {
    const keep = join(dir, 'keep');
    await filesExporter.run(ctx, FilesOptions.parse({ to: keep, role: 'crop', path: '{split}/{image_id}_{item_idx:02d}.{ext}' }));
    assert.deepEqual(await readFile(join(keep, 'train/000001_01.png')), crops.get('train/000001#1'));

    // Unprobed files (no format in the catalog) are sniffed for {ext}.
    await ctx.catalog.run(`UPDATE assets SET format = NULL`);
    const sniffed = join(dir, 'sniffed');
    const st = await filesExporter.run(ctx, FilesOptions.parse({ to: sniffed, role: 'image', path: '{image_id}.{ext}' }));
    assert.equal(st['files image'], 9);
    assert.ok((await listFiles(sniffed)).includes('000001.jpg'));

    const low = join(dir, 'low');
    const high = join(dir, 'high');
    await filesExporter.run(ctx, FilesOptions.parse({ to: low, role: 'crop', path: '{image_id}_{item_idx}.{ext}', format: 'webp', quality: 10 }));
    await filesExporter.run(ctx, FilesOptions.parse({ to: high, role: 'crop', path: '{image_id}_{item_idx}.{ext}', format: 'webp', quality: 100 }));
    const l = await readFile(join(low, '000001_1.webp'));
    const h = await readFile(join(high, '000001_1.webp'));
    assert.equal((await sharp(l).metadata()).format, 'webp');
    assert.ok(l.length < h.length, `quality 10 (${l.length} B) is smaller than quality 100 (${h.length} B)`);
  } finally {
    ctx.catalog.close();
  }
});

test('files: two samples on one path is an error naming both, before anything is written', async () => {
  const { ctx, dir } = await buildSkuCatalog();
  try {
    const out = join(dir, 'clash');
    await assert.rejects(
      filesExporter.run(ctx, FilesOptions.parse({ to: out, role: 'crop', path: '{split}/{sku_id}.jpg' })),
      (err: Error) => {
        assert.match(err.message, /4 path\(s\) of template .* are shared by several samples/);
        assert.match(err.message, /train\/000001_01_01\.jpg: "train\/000001#1", "train\/000002#1", "train\/000003#2"/);
        return true;
      },
    );
    assert.deepEqual(await listFiles(out).catch(() => []), []);
  } finally {
    ctx.catalog.close();
  }
});

test('files: templates escaping the export folder are refused', async () => {
  const bad = (o: unknown) => {
    const r = FilesOptions.safeParse(o);
    assert.equal(r.success, false);
    return r.error!.issues.map((i) => i.message).join('\n');
  };
  assert.match(bad({ to: 'x', path: '../{id}.jpg' }), /escapes the export folder/);
  assert.match(bad({ to: 'x', path: '/abs/{id}.jpg' }), /is absolute/);
  assert.match(bad({ to: 'x', path: '{split}/{id}' }), /must end in a file extension/);
  assert.match(bad({ to: 'x', path: '{split/{id}.jpg' }), /not a field name|unmatched/);
  assert.match(bad({ to: 'x', role: 'mask', path: '{id}.jpg' }), /masks, which are written as lossless PNG/);
  assert.match(bad({ to: 'x', path: '{id}.png', format: 'jpg' }), /contradicts the template's extension/);

  // A value that climbs out ('..' as a domain) stops the export.
  const items = skuItems();
  items[0].meta.domain = '..';
  const { ctx, dir } = await buildSkuCatalog(items);
  try {
    await assert.rejects(
      filesExporter.run(ctx, FilesOptions.parse({ to: join(dir, 'esc'), role: 'crop', path: '{domain}/{sku_id}/{image_id}.jpg' })),
      /sample "train\/000001#1": path "\.\.\/000001_01_01\/000001\.jpg" escapes the export folder/,
    );
  } finally {
    ctx.catalog.close();
  }
});

test('files: several exports share a folder; a rerun removes only its own stale files', async () => {
  const { ctx, dir } = await buildSkuCatalog();
  try {
    const out = join(dir, 'shared');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'README.txt'), 'not an export file\n');
    const crops = FilesOptions.parse({ to: out, role: 'crop', path: SEED_LAYOUT });
    const photos = FilesOptions.parse({ to: out, role: 'image', path: '{split}/image/{image_id}.{ext}' });
    const masks = FilesOptions.parse({ to: out, role: 'mask', path: '{split}/mask/{image_id}_item{item_idx}.png' });
    await filesExporter.run(ctx, crops);
    await filesExporter.run(ctx, photos);
    await filesExporter.run(ctx, masks);
    const before = await listFiles(out);
    assert.ok(before.includes('train/image/000001.jpg'));
    assert.ok(before.includes('train/mask/000001_item1.png'));
    assert.deepEqual(before.filter((f) => f.startsWith('.imgsift/')), ['.imgsift/files-crop.json', '.imgsift/files-image.json', '.imgsift/files-mask.json']);

    // Sample 000001#1 leaves the dataset: only the crop export reruns, and removes only its crop.
    await dropSample(ctx, 'train/000001#1');
    const stats = await filesExporter.run(ctx, crops);
    assert.equal(stats['stale files removed'], 1);
    const after = await listFiles(out);
    assert.deepEqual(before.filter((f) => !after.includes(f)), ['train/query/000001_01_01/000001_item1.jpg']);
    assert.ok(after.includes('README.txt') && after.includes('train/image/000001.jpg') && after.includes('train/mask/000001_item1.png'));

    // A file of another export is not overwritten; two exports of one role need distinct names.
    await assert.rejects(
      filesExporter.run(ctx, FilesOptions.parse({ to: out, role: 'crop', name: 'crops2', path: '{split}/image/{image_id}.jpg' })),
      /path\(s\) in .* are another export's files:\n {2}train\/image\/000002\.jpg \(sample "train\/000002#1"\) belongs to export 'files-image'/,
    );
    await assert.rejects(
      filesExporter.run(ctx, FilesOptions.parse({ to: out, role: 'crop', path: '{split}/{sku_id}/{image_id}_{item_idx}.jpg' })),
      /two files exports write role 'crop' into .*; give each its own 'name:'/,
    );
    await filesExporter.run(ctx, FilesOptions.parse({ to: out, role: 'crop', name: 'crops-webp', path: 'webp/{image_id}_{item_idx}.webp' }));
    assert.ok((await listFiles(out)).includes('webp/000002_1.webp'));
    assert.ok((await listFiles(out)).includes('train/catalog/000001_01_01/000002_item1.jpg'));
  } finally {
    ctx.catalog.close();
  }
});

test('files: an imagefolder export sharing the folder leaves the files export\'s images alone', async () => {
  const { ctx, dir } = await buildSkuCatalog();
  try {
    const out = join(dir, 'hf');
    const crops = FilesOptions.parse({ to: out, role: 'crop', path: '{split}/crop_{image_id}_{item_idx}.png' });
    await filesExporter.run(ctx, crops);
    // imagefolder lists (and with prune deletes) images it did not write; not these.
    const first = await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: out, prune: true }));
    assert.equal(first['unlisted files pruned'], undefined);
    await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: out, prune: true }));
    const files = await listFiles(out);
    assert.ok(files.includes('train/metadata.jsonl'));
    assert.equal(files.filter((f) => /^train\/crop_\d+_\d\.png$/.test(f)).length, 7);
    // Whereas a stray image no export owns is listed, and deleted with prune.
    await writeFile(join(out, 'train', 'stray.jpg'), await readFile(join(out, 'train/crop_000001_1.png')));
    const listed = await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: out }));
    assert.equal(listed['unlisted files (not pruned)'], 1);
    assert.ok((await listFiles(out)).includes('train/stray.jpg'));
    const stats = await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: out, prune: true }));
    assert.equal(stats['unlisted files pruned'], 1);
    assert.ok(!(await listFiles(out)).includes('train/stray.jpg'));
    assert.equal((await listFiles(out)).filter((f) => /^train\/crop_/.test(f)).length, 7);
  } finally {
    ctx.catalog.close();
  }
});
