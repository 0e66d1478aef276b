import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COLUMNS } from '../../src/catalog/catalog.js';
import { syncDrops } from '../../src/catalog/run-view.js';
import { FinalManifestOptions, finalManifestExporter } from '../../src/export/cleaning.js';
import { RelabelMapOptions, RemovalListOptions, relabelMapExporter, removalListExporter } from '../../src/export/removal.js';
import { setDecision } from '../../src/review/decisions.js';
import { buildImageCatalog, type TestSample } from '../export/image-catalog.js';
import { SEED_STEP_4_1 } from '../helpers/seed002.js';

// Issue 16.3: the final cleaning manifest in the columns the seed's Step 4.1 reads.
const SAMPLES: TestSample[] = [
  ['train/0/0.jpg', 'train', '0'], ['train/1/1.jpg', 'train', '1'], ['train/1/2.jpg', 'train', '1'], ['train/2/3.jpg', 'train', '2'],
  ['train/2/10.jpg', 'train', '2'], ['train/0/11.jpg', 'train', '0'], ['train/1/12.jpg', 'train', '1'],
  ['val/0/0.jpg', 'val', '0'], ['val/2/1.jpg', 'val', '2'],
].map(([id, split, label], i) => ({ id, split, label, text: null, meta: null, image: i % 2 }));

async function cleanedCatalog() {
  const built = await buildImageCatalog(SAMPLES);
  const { catalog } = built.ctx;
  await catalog.append('issues', COLUMNS.issues, [
    { sample_id: 'train/1/2.jpg', type: 'mislabel', score: 0.95, flagged: true, evidence: { suggested_label: '2' }, step: 'import', source: 'visual_layer', run_id: 1 },
    { sample_id: 'val/0/0.jpg', type: 'leak', score: 1, flagged: true, evidence: {}, step: 'leaks', source: 'imgsift', run_id: 1 },
  ]);
  // An accepted suggestion (no new_label in the decision), a relabel decision, a keep and a remove.
  await setDecision({ catalog, filter: { issue: ['mislabel'] }, action: 'accept_suggestion', reviewer: 'Kushagra' });
  await setDecision({ catalog, filter: ['train/2/10.jpg'], action: 'relabel', newLabel: '0', reviewer: 'Saeed' });
  await setDecision({ catalog, filter: ['train/0/0.jpg'], action: 'keep', reviewer: 'Saeed' });
  await setDecision({ catalog, filter: ['train/0/11.jpg'], action: 'remove', reviewer: 'Saeed' });
  // Drops without any issue (a filter's SQL rule) and a leak drop in val.
  await catalog.append('drops', COLUMNS.drops, [
    { sample_id: 'train/2/3.jpg', reason: 'too_small', step: 'filter', run_id: 1 },
    { sample_id: 'train/1/12.jpg', reason: 'too_small', step: 'filter', run_id: 1 },
    { sample_id: 'val/0/0.jpg', reason: 'leak', step: 'filter', run_id: 1 },
  ]);
  await syncDrops(catalog, 1);
  return built;
}

const csvRows = (text: string) => text.trim().split('\n').map((l) => l.split(','));

test("final_cleaning_manifest: image_id by key, every removal and relabel marked, new_label on every row; stems of two splits are refused", async () => {
  const { ctx, dir } = await cleanedCatalog();
  try {
    const out = join(dir, 'manifests');
    const stats = await finalManifestExporter.run(ctx, FinalManifestOptions.parse({ to: out, dataset: 'imagenet1k', key: 'stem', split: 'train' }));
    const rows = csvRows(await readFile(join(out, 'imagenet1k_final_cleaning_manifest.csv'), 'utf8'));
    assert.deepEqual(rows[0], ['image_id', 'image_path', 'split', 'label', 'issues', 'user_tags', 'user_action', 'new_label', 'reviewer', 'id']);
    // Sorted by row index as numbers; drops without issues are listed too.
    assert.deepEqual(rows.slice(1).map((r) => [r[0], r[6], r[7]]), [
      ['0', 'keep', '0'],
      ['2', 'relabel', '2'],
      ['3', 'remove', '2'],
      ['10', 'relabel', '0'],
      ['11', 'remove', '0'],
      ['12', 'remove', '1'],
    ]);
    assert.deepEqual(stats, { rows: 6, 'tagged train_test_leak': 0, 'marked remove': 3, 'leaks marked remove': 0, 'marked relabel': 2 });

    // Default key id, all splits: the val leak tagged and removed.
    await finalManifestExporter.run(ctx, FinalManifestOptions.parse({ to: join(dir, 'all.csv') }));
    const all = csvRows(await readFile(join(dir, 'all.csv'), 'utf8'));
    const leak = all.find((r) => r[0] === 'val/0/0.jpg')!;
    assert.deepEqual([leak[2], leak[4], leak[5], leak[6]], ['val', 'leak', 'train_test_leak', 'remove']);

    await assert.rejects(
      finalManifestExporter.run(ctx, FinalManifestOptions.parse({ to: join(dir, 'x.csv'), key: 'stem' })),
      /final_cleaning_manifest: samples "train\/0\/0\.jpg" and "val\/0\/0\.jpg" share the stem "0"; choose one split with split:/,
    );
  } finally {
    ctx.catalog.close();
  }
});

test("the seed's Step 4.1, unchanged, on the final manifest writes imgsift's removal list and relabel map, labels as integers", async () => {
  const { ctx, dir } = await cleanedCatalog();
  try {
    const ours = join(dir, 'ours');
    const seed = join(dir, 'seed');
    await mkdir(join(seed, 'manifests'), { recursive: true });
    await removalListExporter.run(ctx, RemovalListOptions.parse({ to: ours, dataset: 'imagenet1k', key: 'stem', split: 'train' }));
    await relabelMapExporter.run(ctx, RelabelMapOptions.parse({ to: ours, dataset: 'imagenet1k', key: 'stem', split: 'train' }));
    await finalManifestExporter.run(ctx, FinalManifestOptions.parse({ to: join(seed, 'manifests'), dataset: 'imagenet1k', key: 'stem', split: 'train' }));
    const py = spawnSync('/usr/bin/python3', ['-c', SEED_STEP_4_1], { cwd: seed, encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    assert.match(py.stdout, /Images to remove: 3\nImages to relabel: 2\n/);
    const read = (d: string, f: string) => readFile(join(d, f), 'utf8');
    assert.equal(await read(join(seed, 'manifests'), 'imagenet1k_removal_list.txt'), '3\n11\n12\n');
    assert.equal(await read(join(seed, 'manifests'), 'imagenet1k_removal_list.txt'), await read(ours, 'imagenet1k_removal_list.txt'));
    const seedMap = await read(join(seed, 'manifests'), 'imagenet1k_relabel_map.json');
    assert.equal(seedMap, '{\n  "2": 2,\n  "10": 0\n}', 'integer labels stay integers (pandas reads a full column of digits as int64)');
    assert.deepEqual(JSON.parse(seedMap), JSON.parse(await read(ours, 'imagenet1k_relabel_map.json')));
  } finally {
    ctx.catalog.close();
  }
});
