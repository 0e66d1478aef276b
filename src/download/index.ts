import { resolve } from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import { useRun } from '../catalog/run-view.js';
import { EXIT, ImgsiftError } from '../errors.js';
import { ingest, type IngestStats } from '../exec/ingest.js';
import { InterruptedError } from '../exec/map-phase.js';
import { Reporter } from '../exec/reporter.js';
import type { FieldMap } from '../sources/types.js';
import { UrlsSource, type UrlListFormat } from '../sources/urls.js';
import { downloadSamples, type DownloadResult } from './downloader.js';
import { DownloadParams, type DownloadParamsInput } from './params.js';

/**
 * `imgsift download MANIFEST --out DIR` as a library call: the manifest is streamed into a catalog
 * (in `workdir`, default `out`), then every URL is downloaded as the recipe step does. Running it
 * again with the same folder resumes: successes are kept, failures are kept unless retried.
 */
export interface DownloadUrlsOptions {
  /** Where `download_status.parquet` / `.jsonl` go (and, by default, the catalog and objects). */
  out: string;
  /** Catalog and content-addressed objects (default: `out`). */
  workdir?: string;
  /** Column mapping: `image` is the main URL column, `files` further URL columns by role. */
  fields?: FieldMap;
  listFormat?: UrlListFormat;
  delimiter?: string;
  /** Downloader options (recipe `download` step parameters). */
  params?: DownloadParamsInput;
  maxSamples?: number;
  /** Go on past malformed rows (counting them) instead of stopping at the first. */
  skipBadRows?: boolean;
  /** Rows repeating an id (by default the URL): keep the first (default) or stop with an error. */
  onDuplicateId?: 'error' | 'first';
  reporter?: Reporter;
  signal?: AbortSignal;
  argv?: string[];
}

export interface DownloadUrlsResult extends DownloadResult {
  runId: number;
  workdir: string;
  ingest: IngestStats;
  /** 0, or 1 when samples failed or rows were malformed (said in `attention`). */
  exitCode: number;
  attention: string[];
}

export async function downloadUrls(manifest: string, options: DownloadUrlsOptions): Promise<DownloadUrlsResult> {
  const params = DownloadParams.parse(options.params ?? {});
  const reporter = options.reporter ?? new Reporter();
  const out = resolve(options.out);
  const workdir = resolve(options.workdir ?? out);
  const catalog = await Catalog.open(workdir);
  let runId = 0;
  try {
    runId = (await catalog.scalar(`SELECT coalesce(max(id), 0) FROM runs`)) + 1;
    await catalog.run(`INSERT INTO runs (id, name, started, status, argv) VALUES (?, 'download', current_timestamp, 'running', ?)`, [
      runId, JSON.stringify(options.argv ?? []),
    ]);
    const source = new UrlsSource({ path: resolve(manifest), fields: options.fields, listFormat: options.listFormat, delimiter: options.delimiter });
    const ingested = await ingest(catalog, source, {
      runId, reporter, maxSamples: options.maxSamples, skipBadRows: options.skipBadRows,
      onDuplicateId: options.onDuplicateId ?? 'first', signal: options.signal,
    });
    if (options.signal?.aborted) throw new InterruptedError();
    await useRun(catalog, runId);
    const result = await downloadSamples(
      { catalog, runId, workdir, reporter, baseDir: process.cwd(), signal: options.signal },
      params,
      { statusDir: out },
    );
    const attention: string[] = [];
    const failed = result.samples.failed_to_download + result.samples.failed_to_decode;
    if (failed > 0) attention.push(`${failed} sample${failed === 1 ? '' : 's'} failed (see download_status.jsonl)`);
    if (ingested.badRows > 0) attention.push(`${ingested.badRows} manifest rows were malformed and skipped`);
    const summary = { ...result, ingest: ingested, attention };
    await catalog.run(`UPDATE runs SET finished = current_timestamp, status = 'finished', summary = ? WHERE id = ?`, [
      JSON.stringify(summary), runId,
    ]);
    return { ...summary, runId, workdir, exitCode: attention.length ? EXIT.attention : EXIT.ok };
  } catch (err) {
    if (runId > 0) {
      const status = err instanceof InterruptedError ? 'interrupted' : 'failed';
      await catalog.run(`UPDATE runs SET finished = current_timestamp, status = ? WHERE id = ?`, [status, runId]).catch(() => undefined);
    }
    if (err instanceof InterruptedError) {
      throw new ImgsiftError(`interrupted; run the same command again to resume (finished downloads are kept in ${workdir})`, 130);
    }
    throw err;
  } finally {
    catalog.close();
  }
}

/** A download summary as text: counts per status, then the most frequent errors. */
export function formatDownloadSummary(r: DownloadUrlsResult): string {
  const total = Object.values(r.samples).reduce((a, b) => a + b, 0);
  const pct = (n: number) => (total ? ` (${((n / total) * 100).toFixed(1)}%)` : '');
  const lines = [
    `downloaded ${total} sample${total === 1 ? '' : 's'} into ${r.workdir} (${r.fetched} fetched this run, ${(r.bytesReceived / 1e6).toFixed(1)} MB, ${r.seconds.toFixed(1)} s)`,
    ...Object.entries(r.samples).map(([status, n]) => `  ${status.padEnd(20)} ${String(n).padStart(8)}${pct(n)}`),
  ];
  if (r.errors.length) {
    lines.push('errors:');
    for (const e of r.errors) lines.push(`  ${String(e.count).padStart(8)}  ${e.status}: ${e.error}`);
  }
  if (r.statusFiles.length) lines.push(`status: ${r.statusFiles.join(', ')}`);
  for (const a of r.attention) lines.push(`attention: ${a}`);
  return lines.join('\n') + '\n';
}

export { downloadSamples, checkHash, type DownloadResult, type DownloadRunOptions } from './downloader.js';
export { DownloadParams, downloadParams, parseByteSize, RESIZE_MODES, INTERPOLATIONS, ENCODE_FORMATS, type DownloadParamsInput, type ResizeMode, type EncodeFormat } from './params.js';
export { HttpFetcher, FetchAborted, parseRetryAfter, type FetchOutcome, type HttpOptions } from './http.js';
export { processImage, type Processed, type ResizeOptions } from './resizer.js';
export { ObjectStore } from './store.js';
export { robotsOptOut } from './robots.js';
export { downloadSummary, writeStatusFiles, STATUS_FILE_NAMES, type DownloadSummary } from './status.js';
export { DOWNLOAD_STATUSES, sampleStatus, type DownloadStatus, type DownloadRow } from './types.js';
export { UrlsSource, detectListFormat, URL_LIST_FORMATS, type UrlListFormat, type UrlsSourceOptions } from '../sources/urls.js';
