import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { photoJpeg } from '../../src/demo/synth.js';
import { Reporter } from '../../src/exec/reporter.js';
import { BalanceParams, balanceStep } from '../../src/steps/balance.js';
import type { StepContext } from '../../src/steps/types.js';
import { tempDir } from '../helpers/tmp.js';

interface Spec { id: string; w: number; h: number; label?: string; exif6?: boolean; dark?: number; bright?: number; parent?: string }

async function catalogWith(samples: Spec[]): Promise<StepContext> {
  const dir = await tempDir('imgsift-balance-');
  const catalog = await Catalog.open(join(dir, 'work'));
  await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 't', now(), 'running')`);
  const files = [];
  const issues = [];
  for (const [i, s] of samples.entries()) {
    const image = join(dir, `${i}.jpg`);
    let bytes = await photoJpeg({ seed: i, width: s.w, height: s.h });
    if (s.exif6) bytes = await sharp(bytes).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    await writeFile(image, bytes);
    files.push({ sample_id: s.id, role: 'image', uri: image });
    if (s.dark !== undefined) {
      issues.push({ sample_id: s.id, type: 'underexposed', score: s.dark, flagged: false, evidence: { value: s.dark }, step: 'quality', source: 'imgsift', run_id: 1 });
      issues.push({ sample_id: s.id, type: 'overexposed', score: s.bright!, flagged: false, evidence: { value: s.bright }, step: 'quality', source: 'imgsift', run_id: 1 });
    }
  }
  await catalog.append('samples', COLUMNS.samples, samples.map((s, i) => ({
    id: s.id, source: 'test', label: s.label, parent_id: s.parent, ord: i, first_run: 1, seen_run: 1,
  })));
  await catalog.append('files', COLUMNS.files, files);
  await catalog.append('issues', COLUMNS.issues, issues);
  await useRun(catalog, 1);
  return { catalog, runId: 1, workdir: join(dir, 'work'), baseDir: dir, reporter: new Reporter({ mode: 'quiet' }) };
}

test('balance: aspect classes on the upright size, bands, label shares, exposure rule; out of band is attention', async () => {
  const ctx = await catalogWith([
    { id: 'p1', w: 60, h: 90, label: 'closeup', dark: 0.3, bright: 0.0 },   // unbalanced exposure
    { id: 'p2', w: 90, h: 60, exif6: true, label: 'medium', dark: 0.05, bright: 0.0 }, // stored landscape, upright portrait
    { id: 'l1', w: 90, h: 60, label: 'medium', dark: 0.1, bright: 0.05 },
    { id: 's1', w: 64, h: 60, label: 'medium', dark: 0.2, bright: 0.15 },  // within 1.1: square
    { id: 'p2/aug1', w: 90, h: 60, parent: 'p2' },                          // copies are not counted
    { id: 'r1', w: 90, h: 60, label: 'reg' },
  ]);
  try {
    const stats = await balanceStep.run(ctx, BalanceParams.parse({ skip_labels: ['reg'], labels: { closeup: [0.2, 0.3], medium: [0.4, 0.8] }, max_unbalanced_exposure: 0.2 }));
    assert.equal(stats.images, 4);
    assert.equal(stats['aspect portrait'], '2 (50.0%, target 30–40%) OUT OF BAND');
    assert.equal(stats['aspect landscape'], '1 (25.0%, target 30–40%) OUT OF BAND');
    assert.equal(stats['aspect square'], '1 (25.0%, target 20–40%)');
    assert.equal(stats['label closeup'], '1 (25.0%, target 20–30%)');
    assert.equal(stats['label medium'], '3 (75.0%, target 40–80%)');
    assert.equal(stats['exposure unbalanced'], '1 of 4 (25.0%, at most 20.0%) OUT OF BAND');
    assert.equal(stats.attention, 'balance: aspect portrait 50.0% outside 30–40%; aspect landscape 25.0% outside 30–40%; exposure unbalanced in 25.0% of images (at most 20.0%)');

    const wide = await balanceStep.run(ctx, BalanceParams.parse({ skip_labels: ['reg'], aspect: { portrait: [0, 1], landscape: [0, 1], square: [0, 1] } }));
    assert.equal(wide.attention, undefined, 'nothing out of band, nothing for attention');
  } finally {
    ctx.catalog.close();
  }
});
