import { DownloadParams } from '../download/params.js';
import { downloadSamples, type DownloadResult } from '../download/downloader.js';
import type { ReduceStep, StepStats } from './types.js';

/**
 * `download`: fetch every http(s) file of the run's samples (from a `urls` source, or URL columns
 * of any manifest), check, resize and store them by content in `<workdir>/objects/`, and point
 * the samples' files at the stored objects. Samples that did not fully download leave the run
 * (dropped with their status as the reason); every outcome stays in the `downloads` table and in
 * `<workdir>/download_status.parquet` / `.jsonl`. HTTP runs on the main thread (it is I/O);
 * decoding and resizing run in libuv's thread pool through sharp.
 */
export const downloadStep: ReduceStep<DownloadParams> = {
  kind: 'reduce',
  name: 'download',
  description: 'fetch URL files with retries, resize and store them by content; a status per sample',
  params: DownloadParams,
  async run(ctx, params): Promise<StepStats> {
    return downloadStats(await downloadSamples(ctx, params));
  },
};

/** The figures of a download for the build summary. */
export function downloadStats(r: DownloadResult): StepStats {
  const stats: StepStats = {
    'samples downloaded': r.samples.success,
    'samples failed to download': r.samples.failed_to_download,
    'samples failed to decode': r.samples.failed_to_decode,
    'samples skipped (X-Robots-Tag)': r.samples.skipped,
    'fetched this run': r.fetched,
    'MB received': Math.round(r.bytesReceived / 1e5) / 10,
  };
  r.errors.slice(0, 5).forEach((e, i) => {
    stats[`error ${i + 1}`] = `${e.count} × ${e.status}: ${e.error}`;
  });
  return stats;
}
