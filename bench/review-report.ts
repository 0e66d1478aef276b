/**
 * Figures for the review and report modules on a large synthetic catalog (no image files: the
 * report's thumbnails fall back to placeholders, so this times the SQL side).
 *
 *   node --import tsx bench/review-report.ts [samples=1000000]
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../src/catalog/catalog.js';
import { useRun } from '../src/catalog/run-view.js';
import { addTags, undo } from '../src/review/decisions.js';
import { importIssues } from '../src/review/imports.js';
import { writeTaggedManifest } from '../src/review/tagged-manifest.js';
import { writeReport } from '../src/report/html.js';

const N = Number(process.argv[2] ?? 1_000_000);
const dir = await mkdtemp(join(tmpdir(), 'imgsift-bench-'));
const catalog = await Catalog.open(join(dir, 'work'));
const time = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const r = await fn();
  console.log(`${label.padEnd(52)} ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return r;
};
try {
  await time(`synthesise ${N} samples, ~${Math.round(N * 0.15)} issues`, async () => {
    await catalog.run(`INSERT INTO runs VALUES (1, 'bench', 'x', current_timestamp, current_timestamp, 'finished', '[]', NULL)`);
    await catalog.run(`INSERT INTO samples SELECT 'img_' || lpad(i::VARCHAR, 8, '0') || '.jpg', 'bench', NULL,
      'c' || (i % 1000) || '/img_' || lpad(i::VARCHAR, 8, '0') || '.jpg', NULL, CASE WHEN hash(i) % 10 = 0 THEN 'test' ELSE 'train' END,
      'c' || (i % 1000), NULL, NULL, NULL, i, 1, 1 FROM range(${N}) t(i)`);
    await catalog.run(`INSERT INTO issues SELECT 'img_' || lpad(i::VARCHAR, 8, '0') || '.jpg', 'blurry', (hash(i) % 1000) / 1000.0,
      hash(i) % 1000 > 900, NULL, 'quality', 'imgsift', 1 FROM range(0, ${N}, 10) t(i)`);
    await catalog.run(`INSERT INTO issues SELECT 'img_' || lpad(i::VARCHAR, 8, '0') || '.jpg', 'duplicate', 1, true,
      json_object('other', 'img_' || lpad((i + 1)::VARCHAR, 8, '0') || '.jpg', 'similarity', 0.97, 'method', 'perceptual'), 'dedup', 'imgsift', 1
      FROM range(0, ${N}, 20) t(i)`);
    await catalog.run(`INSERT INTO drops SELECT sample_id, 'duplicate', 'filter', 1 FROM issues WHERE type = 'duplicate'`);
  });
  await useRun(catalog, 1);
  const rows = Math.round(N / 10);
  const csv = join(dir, 'export.csv');
  const lines = ['image_id,image_path,class,flag,confidence'];
  for (let i = 0; i < rows; i++) {
    const k = (i * 7919) % N;
    lines.push(i % 2 ? `img_${String(k).padStart(8, '0')}.jpg,,c${k % 1000},mislabel,${((i % 100) / 100).toFixed(2)}`
      : `,/data/c${k % 1000}/img_${String(k).padStart(8, '0')}.jpg,c${k % 1000},outlier,${((i % 100) / 100).toFixed(2)}`);
  }
  await writeFile(csv, lines.join('\n') + '\n');
  const imp = await time(`import-issues: ${rows} rows (half by id, half by path)`, () => importIssues({ catalog, file: csv, workdir: dir }));
  console.log(`  matched by id ${imp.matchedById}, by path ${imp.matchedByPath}, unmatched ${imp.unmatched}`);
  const tag = await time('addTags by filter {issue, source, scoreMin: 0.9}', () =>
    addTags({ catalog, filter: { issue: 'mislabel', source: 'visual_layer', scoreMin: 0.9 }, tags: ['mislabel_confirmed'], action: 'relabel', newLabel: 'c1', reviewer: 'bench' }));
  console.log(`  ${tag.changed} samples changed`);
  await time('addTags on 10 explicit ids', () => addTags({ catalog, filter: ['img_00000001.jpg', 'img_00000002.jpg', 'img_00000003.jpg', 'img_00000004.jpg', 'img_00000005.jpg', 'img_00000006.jpg', 'img_00000007.jpg', 'img_00000008.jpg', 'img_00000009.jpg', 'img_00000010.jpg'], tags: ['keep'], reviewer: 'bench2' }));
  await time(`undo the batch of ${tag.changed}`, () => undo({ catalog, reviewer: 'bench' }));
  const n = await time('tagged manifest CSV', () => writeTaggedManifest(catalog, join(dir, 'tagged.csv')));
  console.log(`  ${n} rows`);
  const rep = await time('report (SQL aggregates + HTML, placeholder thumbs)', () => writeReport(catalog, 1, join(dir, 'report.html')));
  console.log(`  ${rep.bytes} bytes`);
} finally {
  catalog.close();
  await rm(dir, { recursive: true, force: true });
}
