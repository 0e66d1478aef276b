/**
 * The run's `skipped.jsonl` in the workdir: one line per thing passed over, `{path, source, reason}`
 * (plus `sample_id` and `detail` where known). Ingest starts it afresh for each run (sources write
 * their skips as they read); per-sample steps append theirs after each pass, so one file lists
 * everything a run did not take or did not process.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { asStorageError } from '../errors.js';

export const SKIPPED_FILE = 'skipped.jsonl';

export function skippedFile(workdir: string): string {
  return join(workdir, SKIPPED_FILE);
}

/** One line of skipped.jsonl. */
export interface SkippedEntry {
  path: string;
  /** The source that passed it over, or `step <name>` for a per-sample step. */
  source: string;
  /** A short code or phrase: `outside_root`, `decompression_bomb`, `broken symbolic link`, ... */
  reason: string;
  sample_id?: string;
  detail?: string;
}

/** Append entries to the run's skipped.jsonl (nothing when there are none). */
export async function appendSkipped(workdir: string, entries: readonly SkippedEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const file = skippedFile(workdir);
  const text = entries.map((e) => JSON.stringify(e)).join('\n') + '\n';
  await appendFile(file, text).catch((err: unknown) => Promise.reject(asStorageError(err, file)));
}
