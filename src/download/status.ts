import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { syncDrops } from '../catalog/run-view.js';
import { ensureDir, tempPathFor } from '../util/fs.js';
import { DOWNLOAD_STATUSES, SAMPLE_STATUS_SQL, type DownloadStatus } from './types.js';

/**
 * The downloader's logger: the status of every sample of the run, as counts for the summary and
 * as `download_status.parquet` / `.jsonl` tables (one row per remote file of each sample, with the
 * sample's overall status beside the file's own).
 */

/** The run's `downloads` rows: those of its active samples' current files (`f.uri` is the URL, or the object once stored). */
const CURRENT = `FROM active a
  JOIN files f ON f.sample_id = a.id
  JOIN downloads d ON d.sample_id = f.sample_id AND d.role = f.role AND (f.uri = d.url OR f.uri = d.path)`;

export interface DownloadSummary {
  /** Samples by status (a sample's status is its worst file's). */
  samples: Record<DownloadStatus, number>;
  /** Files by status. */
  files: Record<DownloadStatus, number>;
  /** The most frequent errors: status, message, number of files. */
  errors: Array<{ status: DownloadStatus; error: string; count: number }>;
}

export const STATUS_FILE_NAMES = ['download_status.parquet', 'download_status.jsonl'] as const;

function zeroCounts(): Record<DownloadStatus, number> {
  return Object.fromEntries(DOWNLOAD_STATUSES.map((s) => [s, 0])) as Record<DownloadStatus, number>;
}

export async function downloadSummary(catalog: Catalog, topErrors = 20): Promise<DownloadSummary> {
  const samples = zeroCounts();
  const files = zeroCounts();
  const bySample = await catalog.all<{ status: DownloadStatus; n: bigint }>(
    `SELECT status, count(*) AS n FROM (SELECT ${SAMPLE_STATUS_SQL} AS status ${CURRENT} GROUP BY a.id) GROUP BY status`,
  );
  for (const r of bySample) samples[r.status] = Number(r.n);
  const byFile = await catalog.all<{ status: DownloadStatus; n: bigint }>(`SELECT d.status, count(*) AS n ${CURRENT} GROUP BY d.status`);
  for (const r of byFile) files[r.status] = Number(r.n);
  const errors = await catalog.all<{ status: DownloadStatus; error: string; n: bigint }>(
    `SELECT d.status, d.error, count(*) AS n ${CURRENT} WHERE d.status <> 'success'
     GROUP BY d.status, d.error ORDER BY n DESC, d.status, d.error LIMIT ${Math.trunc(topErrors)}`,
  );
  return { samples, files, errors: errors.map((e) => ({ status: e.status, error: e.error ?? '', count: Number(e.n) })) };
}

/** Write both status files into `dir` (each atomically); returns their paths. */
export async function writeStatusFiles(catalog: Catalog, dir: string): Promise<string[]> {
  await ensureDir(dir);
  const query = `SELECT d.sample_id, d.role, d.url, s.sample_status, d.status, d.error, d.http_status, d.attempts,
      d.final_url, d.bytes, d.source_sha256, d.sha256, d.path, d.stored_bytes, d.format, d.width, d.height,
      d.original_width, d.original_height, d.started, d.elapsed_ms, d.fetch_ms, d.process_ms, d.run_id
    ${CURRENT}
    JOIN (SELECT a.id, ${SAMPLE_STATUS_SQL} AS sample_status ${CURRENT} GROUP BY a.id) s ON s.id = a.id
    ORDER BY a.ord, d.role <> 'image', d.role`;
  const out: string[] = [];
  for (const [name, format] of [[STATUS_FILE_NAMES[0], 'parquet'], [STATUS_FILE_NAMES[1], 'json']] as const) {
    const path = join(dir, name);
    const tmp = tempPathFor(path);
    try {
      await catalog.run(`COPY (${query}) TO ${sqlString(tmp)} (FORMAT ${format})`);
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    out.push(path);
  }
  return out;
}

/**
 * Take the samples that did not fully download out of the run (`drops`, step 'download', reason
 * = the sample's status), so later steps and exports see only samples whose files are local.
 * Samples already dropped this run are not in `active`, so a second call adds nothing twice.
 */
export async function dropFailedSamples(catalog: Catalog, runId: number): Promise<void> {
  const id = Math.trunc(runId);
  await catalog.run(`INSERT INTO drops (sample_id, reason, step, run_id)
    SELECT a.id, ${SAMPLE_STATUS_SQL}, 'download', ${id} ${CURRENT} GROUP BY a.id
    HAVING ${SAMPLE_STATUS_SQL} <> 'success'`);
  await syncDrops(catalog, id);
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
