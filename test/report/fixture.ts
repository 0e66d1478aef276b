import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { generateDemoDataset, type DemoTruth } from '../../src/demo/dataset.js';
import { importIssues } from '../../src/review/imports.js';
import { addTags } from '../../src/review/decisions.js';

export interface ReportFixture {
  workdir: string;
  runId: number;
  truth: DemoTruth;
}

/**
 * A real build of the demo dataset (probe, hash, split, filter), plus what later steps and people
 * add: duplicate/leak issues for the planted copies, with the similarity of their real pHashes
 * (as a dedup/leaks step records them), an imported tool's scored flags, and review decisions.
 */
export async function buildReportFixture(dir: string, count = 60): Promise<ReportFixture> {
  const data = join(dir, 'data');
  const workdir = join(dir, 'work');
  const truth = await generateDemoDataset(data, { count });
  const recipe = recipeFromObject({
    name: 'demo', workdir,
    source: { format: 'imagefolder', path: data, fields: { text: 'text', label: 'label' } },
    steps: [{ probe: {} }, { hash: {} }, { split: { ratios: { train: 0.85, test: 0.15 }, keep_source_splits: true } }, { filter: { drop: ['corrupt'] } }],
  }, dir);
  const res = await build(recipe, { reporter: new Reporter({ mode: 'quiet' }), workers: 2 });
  const catalog = await Catalog.open(workdir);
  try {
    await useRun(catalog, res.runId);
    const phash = new Map((await catalog.all<{ id: string; phash: string }>(
      `SELECT f.sample_id AS id, sr.result->>'phash' AS phash FROM files f JOIN file_status fs ON fs.uri = f.uri
       JOIN step_results sr ON sr.content_hash = fs.sha256 AND sr.step = 'hash' AND sr.ok`,
    )).map((r) => [r.id, r.phash]));
    const similarity = (a: string, b: string) => {
      let x = BigInt('0x' + phash.get(a)) ^ BigInt('0x' + phash.get(b));
      let bits = 0;
      for (; x; x >>= 1n) bits += Number(x & 1n);
      return { similarity: 1 - bits / 64, hamming: bits };
    };
    const rows = [];
    for (const g of [...truth.exactDuplicates, ...truth.nearDuplicates]) {
      for (const c of g.copies) {
        if (!phash.has(c.file) || !phash.has(g.original)) continue;
        rows.push({ sample_id: c.file, type: 'duplicate', score: 1, flagged: true,
          evidence: { other: g.original, ...similarity(c.file, g.original), method: c.transform === 'copy' ? 'exact' : 'perceptual' },
          step: 'dedup', source: 'imgsift', run_id: res.runId });
      }
    }
    for (const l of truth.leaks) {
      rows.push({ sample_id: l.test, type: 'leak', score: 1, flagged: true,
        evidence: { other: l.train, ...similarity(l.test, l.train), method: l.kind === 'exact' ? 'exact' : 'perceptual' },
        step: 'leaks', source: 'imgsift', run_id: res.runId });
    }
    await catalog.append('issues', COLUMNS.issues, rows);

    // A Visual Layer export: the planted mislabels with high confidence, plus low-confidence flags.
    const ids = (await catalog.all<{ id: string }>(`SELECT id FROM active ORDER BY id`)).map((r) => r.id);
    const lines = ['image_id,label,flag,confidence,suggested_label,reason'];
    for (const m of truth.mislabeled) lines.push(`${m.file},${m.label},mislabel,0.97,${m.actual},looks like ${m.actual}`);
    ids.slice(0, 20).forEach((id, i) => lines.push(`${id},,outlier,${(i / 20).toFixed(2)},,`));
    const csv = join(dir, 'vl_export.csv');
    await writeFile(csv, lines.join('\n') + '\n');
    await importIssues({ catalog, file: csv, workdir, who: 'Saeed' });
    await addTags({ catalog, filter: { issue: 'mislabel', scoreMin: 0.9 }, tags: ['mislabel_confirmed'], action: 'relabel', newLabel: 'city', reviewer: 'Kushagra' });
    await addTags({ catalog, filter: { issue: 'leak' }, tags: ['train_test_leak', 'remove'], action: 'remove', reviewer: 'Saeed' });
  } finally {
    catalog.close();
  }
  return { workdir, runId: res.runId, truth };
}
