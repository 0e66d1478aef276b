import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { COLUMNS } from '../../src/catalog/catalog.js';
import { syncDrops } from '../../src/catalog/run-view.js';
import { imageFolderExporter } from '../../src/export/imagefolder.js';
import { kohyaExporter } from '../../src/export/kohya.js';
import { manifestExporter } from '../../src/export/manifest.js';
import { RelabelMapOptions, RemovalListOptions, relabelMapExporter, removalListExporter } from '../../src/export/removal.js';
import { webdatasetExporter } from '../../src/export/webdataset.js';
import { setDecision } from '../../src/review/decisions.js';
import { buildImageCatalog, type TestSample } from '../export/image-catalog.js';

// Issue 16 points 2 and 3: relabels reach every export; seed 002's keys and integer labels.
const SAMPLES: TestSample[] = [
  ['train/0/0.jpg', 'train', '0'], ['train/1/1.jpg', 'train', '1'], ['train/1/2.jpg', 'train', '1'], ['train/2/3.jpg', 'train', '2'],
  ['val/0/0.jpg', 'val', '0'], ['val/2/1.jpg', 'val', '2'],
].map(([id, split, label], i) => ({ id, split, label, text: null, meta: null, image: i % 2 }));

async function catalogWithDecisions() {
  const built = await buildImageCatalog(SAMPLES);
  const { catalog } = built.ctx;
  await catalog.append('issues', COLUMNS.issues, [
    { sample_id: 'train/1/2.jpg', type: 'mislabel', score: 0.95, flagged: true, evidence: { suggested_label: '2' }, step: 'import', source: 'visual_layer', run_id: 1 },
    { sample_id: 'val/2/1.jpg', type: 'mislabel', score: 0.97, flagged: true, evidence: { suggested_label: '0' }, step: 'import', source: 'visual_layer', run_id: 1 },
    { sample_id: 'train/0/0.jpg', type: 'outlier', score: 0.5, flagged: true, evidence: {}, step: 'import', source: 'visual_layer', run_id: 1 },
  ]);
  // Accept the vendor's suggestions for the whole filtered view: 2 relabeled; nothing to accept on the outlier.
  const accepted = await setDecision({ catalog, filter: { issue: ['mislabel', 'outlier'], source: 'visual_layer' }, action: 'accept_suggestion', reviewer: 'Kushagra' });
  assert.deepEqual({ matched: accepted.matched, changed: accepted.changed, skipped: accepted.skipped }, { matched: 3, changed: 2, skipped: 1 });
  await catalog.append('drops', COLUMNS.drops, [{ sample_id: 'train/2/3.jpg', reason: 'duplicate', step: 'filter', run_id: 1 }]);
  await catalog.append('drops', COLUMNS.drops, [{ sample_id: 'val/0/0.jpg', reason: 'leak', step: 'filter', run_id: 1 }]);
  await syncDrops(catalog, 1);
  return built;
}

test('accept_suggestion and relabels reach webdataset cls/json, manifest, imagefolder and kohya', async () => {
  const { ctx, dir } = await catalogWithDecisions();
  try {
    await webdatasetExporter.run(ctx, { ...webdatasetDefaults(), to: join(dir, 'wds') } as never);
    await manifestExporter.run(ctx, { to: join(dir, 'manifest.jsonl'), include_dropped: false } as never);
    await imageFolderExporter.run(ctx, imageFolderExporter.options.parse({ to: join(dir, 'hf') }));
    await kohyaExporter.run(ctx, kohyaExporter.options.parse({ to: join(dir, 'kohya'), folder_per_label: true, caption: 'label' }));

    const manifest = (await readFile(join(dir, 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const m = manifest.find((r) => r.id === 'train/1/2.jpg')!;
    assert.equal(m.label, '2');
    assert.equal(m.original_label, '1');
    assert.equal(manifest.find((r) => r.id === 'train/1/1.jpg')!.label, '1');

    const hf = (await readFile(join(dir, 'hf/train/metadata.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(hf.find((r) => r.id === 'train/1/2.jpg')!.label, '2');
    const val = (await readFile(join(dir, 'hf/val/metadata.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(val.find((r) => r.id === 'val/2/1.jpg')!.label, '0');

    const kohya = await readdir(join(dir, 'kohya'), { recursive: true });
    assert.ok(kohya.some((f) => String(f).startsWith('1_2/') || /_2\//.test(String(f))), `a concept folder for label 2: ${kohya.join(', ')}`);

    // WebDataset: the cls member is the new class; the json member keeps the original label.
    const tarFiles = (await readdir(join(dir, 'wds'), { recursive: true })).map(String).filter((f) => f.endsWith('.tar'));
    const tar = await readFile(join(dir, 'wds', tarFiles.find((f) => f.includes('train'))!));
    const text = tar.toString('latin1');
    assert.match(text, /"original_label":"1"/);
  } finally {
    ctx.catalog.close();
  }
});

function webdatasetDefaults(): Record<string, unknown> {
  return webdatasetExporter.options.parse({ to: 'x' }) as Record<string, unknown>;
}

test("removal_list and relabel_map with key: stem, one split, the seed's file names and integer labels", async () => {
  const { ctx, dir } = await catalogWithDecisions();
  try {
    const out = join(dir, 'manifests');
    await removalListExporter.run(ctx, RemovalListOptions.parse({ to: out, dataset: 'imagenet1k', key: 'stem', split: 'train' }));
    await relabelMapExporter.run(ctx, RelabelMapOptions.parse({ to: out, dataset: 'imagenet1k', key: 'stem', split: 'train' }));
    assert.equal(await readFile(join(out, 'imagenet1k_removal_list.txt'), 'utf8'), '3\n');
    assert.equal(await readFile(join(out, 'imagenet1k_relabel_map.json'), 'utf8'), '{\n  "2": 2\n}\n');
    // Stems repeat across splits: all splits at once is refused with a way out.
    await setDecision({ catalog: ctx.catalog, filter: ['train/0/0.jpg'], action: 'remove', reviewer: 'Saeed' });
    await assert.rejects(
      removalListExporter.run(ctx, RemovalListOptions.parse({ to: join(out, 'all.txt'), key: 'stem' })),
      /share the stem "0"; choose one split with split:/,
    );
    await removalListExporter.run(ctx, RemovalListOptions.parse({ to: join(out, 'val.txt'), key: 'stem', split: 'val' }));
    assert.equal(await readFile(join(out, 'val.txt'), 'utf8'), '0\n');
  } finally {
    ctx.catalog.close();
  }
});
