import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CocoSource, cocoSplitName, readCocoInstances } from '../../src/sources/coco.js';
import type { Skip } from '../../src/sources/types.js';
import { writeCocoFixture } from '../helpers/coco-dataset.js';
import { collect, tempDir } from './helpers.js';

test('coco per image: label from the category names, annotations in the metadata, missing and unlisted files passed over', async (t) => {
  const dir = await tempDir(t);
  const fx = await writeCocoFixture(dir);
  const skips: Skip[] = [];
  const { records } = await collect(new CocoSource({ path: fx.file, per: 'image' }), { onSkip: (s) => skips.push(s) });
  assert.deepEqual(records.map((r) => r.id), ['000000000001.jpg', '000000000002.jpg', '000000000003.jpg', '000000000004.jpg', '000000000006.jpg']);
  assert.deepEqual(skips.map((s) => [s.path, s.reason]), [
    [join(fx.images, '000000000005.jpg'), 'listed in the annotations but missing'],
    [join(fx.images, '999.jpg'), 'image file not listed in the annotations'],
  ]);
  const two = records[1];
  assert.equal(two.split, 'validation');
  assert.equal(two.label, 'car|person');
  assert.equal(two.files.image, join(fx.images, '000000000002.jpg'));
  assert.equal(two.ref, `${fx.file}#images[id=2]`);
  assert.equal(two.meta!.image_id, 2);
  assert.equal(two.meta!.width, 96);
  assert.equal(two.meta!.coco_url, 'http://images.cocodataset.org/val2017/2.jpg');
  assert.deepEqual(two.meta!.categories, ['car', 'person']);
  // Annotations by id, with what a crop or a relabel needs.
  assert.deepEqual(two.meta!.annotations, [
    { id: 30, category_id: 3, category_name: 'car', bbox: [50, 20, 30, 30], area: 900, iscrowd: 0 },
    { id: 31, category_id: 1, category_name: 'person', bbox: [10, 10, 40, 50], area: 2000, iscrowd: 0 },
    { id: 33, category_id: 1, category_name: 'person', bbox: [2, 2, 5, 4], area: 20, iscrowd: 0 },
  ]);
  const six = records[4];
  assert.equal(six.label, undefined, 'an image without annotations has no label');
  assert.deepEqual(six.meta!.annotations, []);
});

test('coco per annotation: one sample per annotation, parent the image, bbox xywh', async (t) => {
  const dir = await tempDir(t);
  const fx = await writeCocoFixture(dir);
  const { records } = await collect(new CocoSource({ path: fx.file, per: 'annotation', split: 'dev' }));
  assert.deepEqual(records.map((r) => r.id), [
    '000000000001.jpg/ann12', '000000000002.jpg/ann30', '000000000002.jpg/ann31', '000000000002.jpg/ann33', '000000000003.jpg/ann50', '000000000004.jpg/ann40',
  ]);
  const r = records[2];
  assert.equal(r.parent, '000000000002.jpg');
  assert.equal(r.split, 'dev');
  assert.equal(r.label, 'person');
  assert.equal(r.ref, `${fx.file}#annotations[id=31]`);
  assert.deepEqual(
    { image_id: r.meta!.image_id, annotation_id: r.meta!.annotation_id, category_id: r.meta!.category_id, bbox: r.meta!.bbox, area: r.meta!.area, iscrowd: r.meta!.iscrowd },
    { image_id: 2, annotation_id: 31, category_id: 1, bbox: [10, 10, 40, 50], area: 2000, iscrowd: 0 },
  );
  assert.equal(r.meta!.segmentation, undefined, 'polygons stay in the file, not in every sample');
});

test('coco: an image folder given explicitly; a file_name leaving the folder is passed over', async (t) => {
  const dir = await tempDir(t);
  const fx = await writeCocoFixture(dir);
  const other = join(dir, 'custom.json');
  await writeFile(other, JSON.stringify({ ...fx.instances, images: [...fx.instances.images.slice(0, 1), { id: 7, file_name: '../annotations/instances_val2017.json' }] }));
  const skips: Skip[] = [];
  const { records } = await collect(new CocoSource({ path: other, images: fx.images, per: 'image' }), { onSkip: (s) => skips.push(s) });
  assert.deepEqual(records.map((r) => r.id), ['000000000001.jpg']);
  assert.equal(records[0].split, 'custom');
  assert.ok(skips.some((s) => s.reason === 'file_name escapes the image folder'));
});

test('coco: a malformed instances JSON is an error naming the file and the field', async (t) => {
  const dir = await tempDir(t);
  const bad = join(dir, 'bad.json');
  await writeFile(bad, '{"images": [], "annotations": [');
  await assert.rejects(readCocoInstances(bad), (e: Error) => e.message.includes(bad) && /not a COCO instances JSON/.test(e.message));
  await writeFile(bad, JSON.stringify({ images: [], annotations: [] }));
  await assert.rejects(readCocoInstances(bad), /categories.*expected a list 'categories'/);
  await writeFile(bad, JSON.stringify({ images: [{ id: 1, file_name: 'a.jpg' }], annotations: [{ id: 1, image_id: '1', category_id: 1 }], categories: [] }));
  await assert.rejects(readCocoInstances(bad), /annotations\[0\].*numeric id, image_id and category_id/);
});

test('cocoSplitName maps the release names to split names', () => {
  assert.equal(cocoSplitName('train2017'), 'train');
  assert.equal(cocoSplitName('instances_val2017'), 'validation');
  assert.equal(cocoSplitName('test-dev2017'), 'test');
  assert.equal(cocoSplitName('custom'), 'custom');
});
