import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { StepContext } from '../steps/types.js';
import { InterruptedError } from '../exec/map-phase.js';
import { errorMessage, ImgsiftError } from '../errors.js';
import { HttpFetcher, FetchAborted, type FetchOutcome } from './http.js';
import type { DownloadParams } from './params.js';
import { DownloadProgress } from './progress.js';
import { processImage, type ResizeOptions } from './resizer.js';
import { ObjectStore } from './store.js';
import { sampleStatus, type DownloadRow, type DownloadStatus } from './types.js';
import { DownloadWriter } from './writer.js';
import { dropFailedSamples, downloadSummary, writeStatusFiles, type DownloadSummary } from './status.js';

/**
 * The download pass over a catalog: every file of the run's active samples whose location is an
 * http(s) URL is fetched, checked, resized, stored by content and recorded in `downloads`; the
 * `files` row then points at the stored object, so later steps read it like any local image.
 *
 * Resuming is by the catalog: a file with a committed success for the same URL is never fetched
 * again (its `files` row is re-pointed at the object), one that failed or was skipped is left as
 * it is unless `retry_failed` / `retry_skipped` ask for it. Samples are read from the catalog a
 * page at a time in ingest order, so memory stays bounded however long the manifest.
 */

export interface DownloadRunOptions {
  /** Folder for `download_status.parquet` / `.jsonl` (default: the workdir). */
  statusDir?: string;
}

export interface DownloadResult extends DownloadSummary {
  /** Samples fetched by this run (the rest were done by earlier runs). */
  fetched: number;
  /** Bytes received by this run. */
  bytesReceived: number;
  seconds: number;
  /** The status files written, when `status_files` is on. */
  statusFiles: string[];
}

const PAGE = 1000;
/** Regex for locations the downloader fetches. */
const REMOTE = `regexp_matches(f.uri, '^https?://', 'i')`;

interface FileTask {
  role: string;
  url: string;
  expected: string | null;
}
interface SampleTask {
  id: string;
  files: FileTask[];
}

export async function downloadSamples(ctx: StepContext, params: DownloadParams, options: DownloadRunOptions = {}): Promise<DownloadResult> {
  const { catalog, reporter, signal, runId } = ctx;
  const t0 = Date.now();
  const store = await ObjectStore.open(join(ctx.workdir, 'objects'), { durable: params.durable });

  // Earlier successes: point the files at their objects; nothing is fetched for them.
  await catalog.run(`UPDATE files SET uri = d.path FROM downloads d
    WHERE files.sample_id = d.sample_id AND files.role = d.role AND files.uri = d.url AND d.status = 'success'
      AND files.sample_id IN (SELECT id FROM active)`);

  const retry: DownloadStatus[] = [];
  if (params.retry_failed) retry.push('failed_to_download', 'failed_to_decode');
  if (params.retry_skipped) retry.push('skipped');
  const retryCond = retry.length ? ` OR d.status IN (${retry.map((s) => `'${s}'`).join(', ')})` : '';
  const pending = `${REMOTE} AND (d.status IS NULL OR d.url <> f.uri${retryCond})`;
  const joinDownloads = `LEFT JOIN downloads d ON d.sample_id = f.sample_id AND d.role = f.role`;

  // The work list, made once with one join and kept in ingest order: pages then read only what is
  // left to fetch, so resuming near the end of a huge manifest does not rescan what is done.
  // A plain table (not TEMP) so that DuckDB can spill it to disk.
  await catalog.run(`DROP TABLE IF EXISTS download_queue`);
  await catalog.run(`CREATE TABLE download_queue AS
    SELECT a.ord, a.id, f.role, f.uri, ${expectedHashSql(params.verify_hash)} AS expected
    FROM active a JOIN files f ON f.sample_id = a.id ${joinDownloads}
    WHERE ${pending}
    ORDER BY a.ord, f.role <> 'image', f.role`);
  const total = await catalog.scalar(`SELECT count(DISTINCT ord) FROM download_queue`);
  reporter.info(`download: ${total} sample${total === 1 ? '' : 's'} to fetch`);

  const http = new HttpFetcher({
    concurrency: params.concurrency,
    perHost: params.per_host,
    connectTimeoutMs: params.connect_timeout * 1000,
    readTimeoutMs: params.read_timeout * 1000,
    totalTimeoutMs: params.total_timeout * 1000,
    maxBytes: params.max_bytes,
    maxRedirects: params.max_redirects,
    retries: params.retries,
    retryBaseMs: params.retry_base * 1000,
    retryMaxWaitMs: params.retry_max_wait * 1000,
    userAgent: params.user_agent,
    userAgentToken: params.user_agent_token,
    disallowedDirectives: params.respect_robots ? params.disallowed_directives : [],
  });
  const resize: ResizeOptions = {
    mode: params.resize_mode, size: params.image_size, onlyIfBigger: params.resize_only_if_bigger,
    downscale: params.downscale_interpolation, upscale: params.upscale_interpolation,
    format: params.encode_format, quality: params.encode_quality, skipReencode: params.skip_reencode, keepOriginal: params.keep_original,
    maxPixels: params.max_pixels, failOn: params.fail_on,
  };
  const writer = new DownloadWriter(catalog);
  const progress = new DownloadProgress(reporter, total);

  // Samples in flight: enough to keep every request slot busy while others decode.
  const window = params.concurrency * 2;
  const inflight = new Set<Promise<void>>();
  let fatal: unknown;
  let fetched = 0;

  const fetchFile = async (sampleId: string, f: FileTask): Promise<DownloadRow> => {
    const started = Date.now();
    const out: FetchOutcome = await http.fetch(f.url, signal);
    const row: DownloadRow = {
      sample_id: sampleId, role: f.role, url: f.url, status: 'failed_to_download', error: null,
      http_status: out.httpStatus, attempts: out.attempts, final_url: out.finalUrl, bytes: null, source_sha256: null,
      sha256: null, path: null, stored_bytes: null, format: null, width: null, height: null, original_width: null,
      original_height: null, started, elapsed_ms: 0, fetch_ms: round(out.fetchMs), process_ms: null, run_id: runId,
    };
    const done = (status: DownloadStatus, error: string | null): DownloadRow => {
      row.status = status;
      row.error = error;
      row.elapsed_ms = Date.now() - started;
      return row;
    };
    if (out.kind === 'skipped') return done('skipped', out.error);
    if (out.kind === 'failed') return done('failed_to_download', out.error);
    const body = out.body;
    row.bytes = body.length;
    row.source_sha256 = createHash('sha256').update(body).digest('hex');
    if (f.expected) {
      const mismatch = checkHash(body, f.expected, row.source_sha256);
      if (mismatch) return done('failed_to_download', mismatch);
    }
    const p0 = performance.now();
    const img = await processImage(body, resize);
    row.process_ms = round(performance.now() - p0);
    if (!img.ok) return done('failed_to_decode', img.error);
    const stored = await store.put(img.bytes, img.ext);
    Object.assign(row, {
      sha256: stored.sha256, path: stored.path, stored_bytes: img.bytes.length, format: img.format, width: img.width,
      height: img.height, original_width: img.originalWidth, original_height: img.originalHeight,
    });
    return done('success', null);
  };

  const runSample = async (s: SampleTask): Promise<void> => {
    let rows: DownloadRow[];
    try {
      rows = await Promise.all(s.files.map((f) => fetchFile(s.id, f)));
    } catch (err) {
      if (err instanceof FetchAborted) return; // interrupted: no outcome, fetched again next run
      fatal ??= err;
      return;
    }
    fetched++;
    await writer.add(rows);
    progress.tick(sampleStatus(rows.map((r) => r.status)), rows.reduce((n, r) => n + (r.bytes ?? 0), 0));
  };

  let lastOrd = -1n;
  try {
    for (;;) {
      if (signal?.aborted || fatal) break;
      const page = await catalog.all<{ ord: bigint; id: string; role: string; uri: string; expected: string | null }>(
        `SELECT ord, id, role, uri, expected FROM download_queue WHERE ord > ${lastOrd}
         ORDER BY ord, role <> 'image', role LIMIT ${PAGE}`,
      );
      if (page.length === 0) break;
      const samples = groupBySample(page, page.length === PAGE);
      lastOrd = samples.lastOrd;
      for (const s of samples.tasks) {
        while (inflight.size >= window) await Promise.race(inflight);
        if (signal?.aborted || fatal) break;
        const p = runSample(s).catch((err) => {
          fatal ??= err;
        });
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
    }
  } finally {
    await Promise.allSettled([...inflight]);
    await writer.flush();
    await http.close();
    progress.finish();
  }
  await catalog.run(`DROP TABLE IF EXISTS download_queue`);
  if (fatal) throw new ImgsiftError(`download stopped: ${errorMessage(fatal)}`, 1);
  if (signal?.aborted) throw new InterruptedError();

  const summary = await downloadSummary(catalog);
  const statusFiles = params.status_files ? await writeStatusFiles(catalog, options.statusDir ?? ctx.workdir) : [];
  await dropFailedSamples(catalog, runId);
  return { ...summary, fetched, bytesReceived: progress.received, seconds: (Date.now() - t0) / 1000, statusFiles };
}

/**
 * Rows of a page → samples. When the page was cut by LIMIT, its last sample may be missing files,
 * so it is left for the next page (which starts after the last complete one).
 */
function groupBySample(
  page: Array<{ ord: bigint; id: string; role: string; uri: string; expected: string | null }>,
  cut: boolean,
): { tasks: SampleTask[]; lastOrd: bigint } {
  const tasks: SampleTask[] = [];
  const ords: bigint[] = [];
  for (const r of page) {
    if (ords.length === 0 || ords[ords.length - 1] !== r.ord) {
      tasks.push({ id: r.id, files: [] });
      ords.push(r.ord);
    }
    tasks[tasks.length - 1].files.push({ role: r.role, url: r.uri, expected: r.expected });
  }
  if (cut && tasks.length > 1) {
    tasks.pop();
    ords.pop();
  }
  return { tasks, lastOrd: ords[ords.length - 1] };
}

/** SQL for the expected hash of each role's file, read from the sample's meta columns. */
function expectedHashSql(verify: Record<string, string>): string {
  const entries = Object.entries(verify);
  if (entries.length === 0) return 'NULL';
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const path = (column: string) => q(`$."${column.replace(/"/g, '\\"')}"`);
  return `CASE f.role ${entries.map(([role, column]) => `WHEN ${q(role)} THEN json_extract_string(a.meta, ${path(column)})`).join(' ')} END`;
}

const HASH_BY_LENGTH: Record<number, string> = { 32: 'md5', 40: 'sha1', 64: 'sha256', 128: 'sha512' };

/** The mismatch message, or null when `body` has the expected digest. */
export function checkHash(body: Buffer, expected: string, sha256: string): string | null {
  const want = expected.trim().toLowerCase();
  const algo = HASH_BY_LENGTH[want.length];
  if (!algo || !/^[0-9a-f]+$/.test(want)) return `expected hash '${expected}' is not an md5, sha1, sha256 or sha512 hex digest`;
  const got = algo === 'sha256' ? sha256 : createHash(algo).update(body).digest('hex');
  return got === want ? null : `${algo} mismatch: expected ${want.slice(0, 16)}…, got ${got.slice(0, 16)}…`;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
