import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import type { DedupSignalsResult } from '../../src/steps/dedup-signals.js';

/** One image as the dedup step finds it in the catalog: a sample, its file, and its dedup_signals result. */
export interface SignalRow {
  id: string;
  path: string;
  ord: number;
  split: string | null;
  sha256: string;
  signals: DedupSignalsResult;
}

export const SIGNAL_RUN = 1;

/**
 * Write run 1 with these images straight into a catalog (appender, in batches): samples, their
 * image files (pointing nowhere: no geometric check can read them), the files' sha256, and one
 * dedup_signals result per distinct content, as if hash and dedup_signals had run. Pass
 * `distinctContent` when no two rows share a sha256 (saves remembering every sha256 seen).
 */
export async function writeSignalCatalog(
  catalog: Catalog, rows: Iterable<SignalRow>, options: { batch?: number; distinctContent?: boolean } = {},
): Promise<number> {
  const B = options.batch ?? 50_000;
  await catalog.run(`INSERT INTO runs (id, name, started, finished, status) VALUES (?, 'signals', current_timestamp, current_timestamp, 'finished')`, [SIGNAL_RUN]);
  await catalog.run(`INSERT INTO step_runs (run_id, step, params_hash) VALUES (?, 'dedup_signals', 'synthetic')`, [SIGNAL_RUN]);
  const seen = options.distinctContent ? null : new Set<string>();
  let samples: Record<string, unknown>[] = [];
  let files: Record<string, unknown>[] = [];
  let status: Record<string, unknown>[] = [];
  let results: Record<string, unknown>[] = [];
  let n = 0;
  const flush = async () => {
    await catalog.append('samples', COLUMNS.samples, samples);
    await catalog.append('files', COLUMNS.files, files);
    await catalog.append('file_status', COLUMNS.file_status, status);
    await catalog.append('step_results', COLUMNS.step_results, results);
    samples = [];
    files = [];
    status = [];
    results = [];
  };
  for (const r of rows) {
    const uri = `/nonexistent/${r.id}.jpg`;
    samples.push({ id: r.id, source: 'synthetic', path: r.path, split: r.split, ord: r.ord, first_run: SIGNAL_RUN, seen_run: SIGNAL_RUN });
    files.push({ sample_id: r.id, role: 'image', uri });
    status.push({ uri, sha256: r.sha256, run_id: SIGNAL_RUN });
    if (!seen || !seen.has(r.sha256)) {
      seen?.add(r.sha256);
      results.push({ content_hash: r.sha256, step: 'dedup_signals', params_hash: 'synthetic', ok: true, result: r.signals, run_id: SIGNAL_RUN });
    }
    if (++n % B === 0) await flush();
  }
  await flush();
  return n;
}
