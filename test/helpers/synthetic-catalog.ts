import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';

export const SYNTH_LABELS = Array.from({ length: 100 }, (_, i) => `class_${String(i).padStart(3, '0')}`);
export const SYNTH_ISSUES = ['blurry', 'dark', 'light', 'odd_size', 'low_information', 'duplicate', 'leak', 'corrupt'];
export const SYNTH_TAGS = ['mislabel_confirmed', 'outlier_valid', 'duplicate_near', 'keep', 'remove'];

/**
 * A finished run 1 of `n` generated samples written straight into a catalog with the appender (no
 * images: every file points nowhere, so thumbnails are placeholders). Issues on 1/7 of the samples,
 * tags on 1/31, decisions on 1/53, drops on 1/997. For scale tests and benchmarks of the review app.
 */
export async function writeSyntheticCatalog(workdir: string, n: number): Promise<void> {
  const cat = await Catalog.open(workdir);
  try {
    await cat.run(`INSERT INTO runs (id, name, started, finished, status) VALUES (1, 'synthetic', current_timestamp, current_timestamp, 'finished')`);
    const B = 50_000;
    for (let b = 0; b < n; b += B) {
      const samples = [], files = [], issues = [], drops = [];
      for (let i = b; i < Math.min(n, b + B); i++) {
        const id = `img_${String(i).padStart(7, '0')}`;
        const label = SYNTH_LABELS[(i * 7919) % SYNTH_LABELS.length];
        const dropped = i % 997 === 0;
        samples.push({
          id, source: 'synthetic', path: `${label}/${id}.jpg`, split: i % 20 === 0 ? 'test' : i % 20 === 1 ? 'dev' : 'train',
          label, ord: i, first_run: 1, seen_run: 1, drop_run: dropped ? 1 : null,
        });
        files.push({ sample_id: id, role: 'image', uri: `/nonexistent/${id}.jpg` });
        if (i % 7 === 0) {
          const type = SYNTH_ISSUES[(i / 7) % SYNTH_ISSUES.length];
          const score = ((i * 2654435761) % 1000) / 1000;
          issues.push({ sample_id: id, type, score, flagged: score > 0.5, step: 'synthetic', source: i % 3 ? 'imgsift' : 'visual_layer', run_id: 1, evidence: { score } });
        }
        if (dropped) drops.push({ sample_id: id, reason: 'corrupt', step: 'filter', run_id: 1 });
      }
      await cat.append('samples', COLUMNS.samples, samples);
      await cat.append('files', COLUMNS.files, files);
      await cat.append('issues', COLUMNS.issues, issues);
      await cat.append('drops', COLUMNS.drops, drops);
    }
    await cat.run(`INSERT INTO tags (sample_id, tag, reviewer) SELECT id, ['mislabel_confirmed','outlier_valid','duplicate_near','keep','remove'][ord % 5 + 1], 'synthetic' FROM samples WHERE ord % 31 = 0`);
    await cat.run(`INSERT INTO decisions (sample_id, action, new_label, reviewer) SELECT id, CASE WHEN ord % 3 = 0 THEN 'relabel' WHEN ord % 3 = 1 THEN 'keep' ELSE 'remove' END, CASE WHEN ord % 3 = 0 THEN 'class_001' END, 'synthetic' FROM samples WHERE ord % 53 = 0`);
  } finally {
    cat.close();
  }
}
