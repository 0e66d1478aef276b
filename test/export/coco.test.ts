import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../src/catalog/catalog.js';
import { CocoExportOptions } from '../../src/export/coco.js';
import { getExporter } from '../../src/export/registry.js';
import { build } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { setDecision } from '../../src/review/decisions.js';
import type { CocoInstances } from '../../src/sources/coco.js';
import { writeCocoFixture, type CocoFixture } from '../helpers/coco-dataset.js';
import { tempDir } from '../helpers/tmp.js';

const quiet = () => new Reporter({ mode: 'quiet' });

/**
 * COCO's index as pycocotools' createIndex builds it (imgs, anns, imgToAnns, cats), in Python's
 * json, plus the consistency a loader relies on: unique ids, every annotation's image and category
 * present. Prints image ids, annotations by image as [id, category_id], category ids, problems.
 */
const PY_INDEX = `
import json, sys
from collections import defaultdict
d = json.load(open(sys.argv[1]))
imgs, anns, cats, img_to_anns, problems = {}, {}, {}, defaultdict(list), []
for im in d['images']:
    if im['id'] in imgs: problems.append('duplicate image %d' % im['id'])
    imgs[im['id']] = im
for c in d['categories']: cats[c['id']] = c
for a in d['annotations']:
    if a['id'] in anns: problems.append('duplicate annotation %d' % a['id'])
    anns[a['id']] = a
    img_to_anns[a['image_id']].append(a)
    if a['image_id'] not in imgs: problems.append('annotation %d of a missing image %d' % (a['id'], a['image_id']))
    if a['category_id'] not in cats: problems.append('annotation %d of an unknown category %d' % (a['id'], a['category_id']))
print(json.dumps({
    'images': sorted(imgs),
    'by_image': {str(i): [[a['id'], a['category_id']] for a in img_to_anns[i]] for i in sorted(imgs)},
    'categories': sorted(cats),
    'problems': problems,
}))
`;

function cocoIndex(file: string): { images: number[]; by_image: Record<string, number[][]>; categories: number[]; problems: string[] } {
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', PY_INDEX, file], { encoding: 'utf8' }));
}

/** Field by field: the cleaned file is the original with images and annotations left out and category ids changed, nothing else. */
function assertCleaned(out: CocoInstances, original: CocoInstances, keptImages: number[], newCategory: Record<number, number>, keptAnns: number[]): void {
  assert.deepEqual(Object.keys(out), Object.keys(original));
  assert.deepEqual(out.info, original.info);
  assert.deepEqual(out.licenses, original.licenses);
  assert.deepEqual(out.categories, original.categories);
  assert.deepEqual(out.images, original.images.filter((im) => keptImages.includes(im.id)));
  assert.deepEqual(
    out.annotations,
    original.annotations.filter((a) => keptAnns.includes(a.id)).map((a) => (a.id in newCategory ? { ...a, category_id: newCategory[a.id] } : a)),
  );
}

function recipe(dir: string, fx: CocoFixture, per: 'image' | 'annotation', exportOptions: Record<string, unknown> = {}, filter: Record<string, unknown> = {}) {
  return recipeFromObject({
    name: 'coco',
    workdir: join(dir, `work-${per}`),
    source: { format: 'coco', path: fx.file, per },
    steps: [{ probe: {} }, { filter: { drop: ['corrupt'], ...filter } }],
    export: [{ format: 'coco', to: join(dir, 'out', `instances_${per}.json`), ...exportOptions }],
  }, dir);
}

async function decide(workdir: string, id: string, action: 'remove' | 'relabel', newLabel?: string): Promise<void> {
  const catalog = await Catalog.open(workdir);
  try {
    await setDecision({ catalog, filter: [id], action, newLabel, reviewer: 'test' });
  } finally {
    await catalog.close();
  }
}

test('coco export, per image: source → drop/remove/relabel → export, checked by a Python COCO index and field by field', async () => {
  const dir = await tempDir();
  const fx = await writeCocoFixture(dir);
  const out = join(dir, 'out', 'instances_image.json');
  const workdir = join(dir, 'work-image');

  // Run 1: the corrupt image 3 is dropped by the filter; 5 was never there (missing file).
  await build(recipe(dir, fx, 'image'), { reporter: quiet(), workers: 1 });
  let index = cocoIndex(out);
  assert.deepEqual(index.problems, []);
  assert.deepEqual(index.images, [1, 2, 4, 6]);
  assert.deepEqual(index.by_image, { 1: [[12, 18]], 2: [[31, 1], [30, 3], [33, 1]], 4: [[40, 3]], 6: [] });
  assertCleaned(JSON.parse(await readFile(out, 'utf8')), fx.instances, [1, 2, 4, 6], {}, [31, 12, 30, 33, 40]);

  // Run 2: review removes image 6 and relabels image 4 (one annotation) to dog.
  await decide(workdir, '000000000006.jpg', 'remove');
  await decide(workdir, '000000000004.jpg', 'relabel', 'dog');
  await build(recipe(dir, fx, 'image'), { reporter: quiet(), workers: 1 });
  index = cocoIndex(out);
  assert.deepEqual(index.problems, []);
  assert.deepEqual(index.by_image, { 1: [[12, 18]], 2: [[31, 1], [30, 3], [33, 1]], 4: [[40, 18]] });
  assertCleaned(JSON.parse(await readFile(out, 'utf8')), fx.instances, [1, 2, 4], { 40: 18 }, [31, 12, 30, 33, 40]);

  // An image-level relabel of image 2 (three annotations) is refused, naming it; nothing is written.
  const before = await readFile(out);
  await decide(workdir, '000000000002.jpg', 'relabel', 'car');
  await assert.rejects(build(recipe(dir, fx, 'image'), { reporter: quiet(), workers: 1 }), (e: Error) =>
    /several annotations/.test(e.message) && e.message.includes('"000000000002.jpg" (3 annotations)') && /relabel: all_annotations/.test(e.message));
  assert.ok((await readFile(out)).equals(before));

  // ... unless the recipe says every annotation takes the image's new label.
  await build(recipe(dir, fx, 'image', { relabel: 'all_annotations' }), { reporter: quiet(), workers: 1 });
  index = cocoIndex(out);
  assert.deepEqual(index.by_image, { 1: [[12, 18]], 2: [[31, 3], [30, 3], [33, 3]], 4: [[40, 18]] });
  assertCleaned(JSON.parse(await readFile(out, 'utf8')), fx.instances, [1, 2, 4], { 40: 18, 31: 3, 33: 3 }, [31, 12, 30, 33, 40]);

  // A label that is no category stops the export with the sample and the categories named.
  await decide(workdir, '000000000004.jpg', 'relabel', 'cat');
  await assert.rejects(build(recipe(dir, fx, 'image', { relabel: 'all_annotations' }), { reporter: quiet(), workers: 1 }),
    /"000000000004.jpg" is relabeled to "cat", which is not a category of .*instances_val2017.json \(person, car, dog\)/);
});

test('coco export, per annotation: dropped and removed annotations go, an image left without any goes, relabels by name or id', async () => {
  const dir = await tempDir();
  const fx = await writeCocoFixture(dir);
  const out = join(dir, 'out', 'instances_annotation.json');
  const workdir = join(dir, 'work-annotation');
  const tiny = { drop_where: [{ name: 'tiny', sql: "CAST(meta->>'area' AS DOUBLE) < 50" }] };
  await build(recipe(dir, fx, 'annotation', {}, tiny), { reporter: quiet(), workers: 1 });
  // 33 is tiny; 50 is on the corrupt image 3; image 6 has no annotation, so no sample stands for it.
  assert.deepEqual(cocoIndex(out).by_image, { 1: [[12, 18]], 2: [[31, 1], [30, 3]], 4: [[40, 3]] });

  await decide(workdir, '000000000001.jpg/ann12', 'remove');
  await decide(workdir, '000000000002.jpg/ann30', 'relabel', 'person');
  await decide(workdir, '000000000004.jpg/ann40', 'relabel', '18');
  await build(recipe(dir, fx, 'annotation', {}, tiny), { reporter: quiet(), workers: 1 });
  const index = cocoIndex(out);
  assert.deepEqual(index.problems, []);
  assert.deepEqual(index.by_image, { 2: [[31, 1], [30, 1]], 4: [[40, 18]] });
  assertCleaned(JSON.parse(await readFile(out, 'utf8')), fx.instances, [2, 4], { 30: 1, 40: 18 }, [31, 30, 40]);
});

test('coco export options: a folder destination is refused; unknown keys are an error', async () => {
  assert.ok(getExporter('coco'));
  assert.throws(() => CocoExportOptions.parse({ to: 'x.json', relabel: 'some' }));
  assert.throws(() => CocoExportOptions.parse({ to: 'x.json', extra: 1 }));
  const dir = await tempDir();
  const fx = await writeCocoFixture(dir);
  await assert.rejects(build(recipe(dir, fx, 'image', { to: join(dir, 'out') + '/' }), { reporter: quiet(), workers: 1 }), /must name a file/);
});
