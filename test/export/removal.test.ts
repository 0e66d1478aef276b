import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COLUMNS } from '../../src/catalog/catalog.js';
import { syncDrops, useRun } from '../../src/catalog/run-view.js';
import {
  RelabelMapOptions, RemovalListOptions, relabelMapExporter, removalListExporter,
} from '../../src/export/removal.js';
import { buildImageCatalog, listFiles, type TestSample } from './image-catalog.js';

const SAMPLES: TestSample[] = ['7', '12', 'a', 'b', 'c', 'd', 'e', 'f', 'g'].map((id) => ({
  id, split: 'train', label: 'cat', text: null, meta: null, image: 0,
}));

/** Drops, review decisions and flagged issues of a cleaning session (seed 002). */
async function cleaningCatalog() {
  const built = await buildImageCatalog(SAMPLES);
  const { catalog } = built.ctx;
  await catalog.append('drops', COLUMNS.drops, [
    { sample_id: 'b', reason: 'duplicate', step: 'dedup', run_id: 1 },
    { sample_id: 'b', reason: 'leak', step: 'leaks', run_id: 1 },
    { sample_id: '12', reason: 'corrupt', step: 'filter', run_id: 1 },
    { sample_id: 'c', reason: 'duplicate', step: 'dedup', run_id: 0 }, // an older run: not this one's
  ]);
  await catalog.run(`INSERT INTO decisions (sample_id, action, new_label) VALUES
    ('a', 'remove', NULL),
    ('7', 'relabel', 'dog'),
    ('d', 'relabel', NULL),
    ('e', 'accept', NULL),
    ('f', 'relabel', NULL),
    ('b', 'relabel', 'bird'),
    ('g', 'relabel', 'cat'),
    ('c', 'keep', NULL)`);
  await catalog.append('issues', COLUMNS.issues, [
    { sample_id: 'd', type: 'mislabel', score: 0.9, flagged: true, evidence: { suggested_label: 'fox' }, step: 'vl', source: 'visual-layer', run_id: 1 },
    { sample_id: 'd', type: 'outlier', score: 0.4, flagged: true, evidence: { suggested_label: 'wolf' }, step: 'vl', source: 'visual-layer', run_id: 1 },
    { sample_id: 'e', type: 'mislabel', score: 0.7, flagged: true, evidence: { suggested_label: 'lynx' }, step: 'vl', source: 'visual-layer', run_id: 1 },
    { sample_id: 'f', type: 'mislabel', score: 0.8, flagged: false, evidence: { suggested_label: 'owl' }, step: 'vl', source: 'visual-layer', run_id: 1 },
    { sample_id: 'c', type: 'mislabel', score: 0.8, flagged: true, evidence: { suggested_label: 'hen' }, step: 'vl', source: 'visual-layer', run_id: 1 },
  ]);
  await syncDrops(catalog, 1);
  await useRun(catalog, 1);
  return built;
}

test('removal_list: dropped and decided-remove samples of this run, one path per line, sorted by id', async () => {
  const { ctx } = await cleaningCatalog();
  try {
    const stats = await removalListExporter.run(ctx, RemovalListOptions.parse({ to: 'manifests/removal_list.txt' }));
    assert.equal(await readFile(join(ctx.baseDir, 'manifests/removal_list.txt'), 'utf8'), 'data/12\ndata/a\ndata/b\n');
    assert.equal(stats['samples listed'], 3);
    assert.equal(stats['reason duplicate'], 1);
    assert.equal(stats['reason decision:remove'], 1);

    await removalListExporter.run(ctx, RemovalListOptions.parse({ to: 'ids.txt', key: 'id', reasons: true }));
    assert.equal(await readFile(join(ctx.baseDir, 'ids.txt'), 'utf8'), '12\tcorrupt\na\tdecision:remove\nb\tduplicate,leak\n');
    assert.deepEqual((await listFiles(ctx.baseDir)).filter((f) => !f.startsWith('work/') && !f.startsWith('images/')), [
      'ids.txt', 'manifests/removal_list.txt',
    ], 'no temporary files left');
  } finally {
    ctx.catalog.close();
  }
});

test('relabel_map: decisions with new_label and accepted suggestions, for kept samples only', async () => {
  const { ctx } = await cleaningCatalog();
  try {
    const stats = await relabelMapExporter.run(ctx, RelabelMapOptions.parse({ to: 'relabel_map.json', key: 'id' }));
    const text = await readFile(join(ctx.baseDir, 'relabel_map.json'), 'utf8');
    // Sorted by id, integer-like keys included (JSON.stringify would have put "7" first anyway, but not before "12").
    assert.equal(text, '{\n  "7": "dog",\n  "d": "fox",\n  "e": "lynx"\n}\n');
    assert.deepEqual(JSON.parse(text), { 7: 'dog', d: 'fox', e: 'lynx' });
    assert.equal(stats['relabeled'], 3);
    assert.equal(stats['from decisions'], 1);
    assert.equal(stats['from accepted suggestions'], 2);
    assert.equal(stats['relabels of removed samples'], 1, 'b is dropped');
    assert.equal(stats['relabel decisions without a label'], 1, "f's suggestion was not flagged");
    assert.equal(stats['relabels to the same label'], 1, 'g is already a cat');

    await relabelMapExporter.run(ctx, RelabelMapOptions.parse({ to: 'by-path.json' }));
    assert.deepEqual(JSON.parse(await readFile(join(ctx.baseDir, 'by-path.json'), 'utf8')), { 'data/7': 'dog', 'data/d': 'fox', 'data/e': 'lynx' });

    // Byte-identical reruns; an empty map is still a valid file.
    const first = await readFile(join(ctx.baseDir, 'by-path.json'));
    await relabelMapExporter.run(ctx, RelabelMapOptions.parse({ to: 'by-path.json' }));
    assert.ok(first.equals(await readFile(join(ctx.baseDir, 'by-path.json'))));
    await ctx.catalog.run(`DELETE FROM decisions`);
    await relabelMapExporter.run(ctx, RelabelMapOptions.parse({ to: 'empty.json' }));
    assert.equal(await readFile(join(ctx.baseDir, 'empty.json'), 'utf8'), '{}\n');
    await assert.rejects(
      relabelMapExporter.run(ctx, RelabelMapOptions.parse({ to: 'dir/' })),
      /must name a file, not a folder/,
    );
  } finally {
    ctx.catalog.close();
  }
});
