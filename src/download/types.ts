/** What became of one remote file; a sample's status is the worst of its files' (see sampleStatus). */
export const DOWNLOAD_STATUSES = ['success', 'failed_to_download', 'failed_to_decode', 'skipped'] as const;
export type DownloadStatus = (typeof DOWNLOAD_STATUSES)[number];

/** Worst first: a sample with one file that failed to download is `failed_to_download`, whatever the others did. */
const SEVERITY: Record<DownloadStatus, number> = { failed_to_download: 3, failed_to_decode: 2, skipped: 1, success: 0 };

export function sampleStatus(statuses: Iterable<DownloadStatus>): DownloadStatus {
  let worst: DownloadStatus = 'success';
  for (const s of statuses) if (SEVERITY[s] > SEVERITY[worst]) worst = s;
  return worst;
}

/** The same rule in SQL over a `status` column, for GROUP BY sample. */
export const SAMPLE_STATUS_SQL = `CASE max(CASE status WHEN 'failed_to_download' THEN 3 WHEN 'failed_to_decode' THEN 2 WHEN 'skipped' THEN 1 ELSE 0 END)
  WHEN 3 THEN 'failed_to_download' WHEN 2 THEN 'failed_to_decode' WHEN 1 THEN 'skipped' ELSE 'success' END`;

/** One row of the `downloads` table (schema migration 2). */
export interface DownloadRow {
  sample_id: string;
  role: string;
  url: string;
  status: DownloadStatus;
  error: string | null;
  http_status: number | null;
  attempts: number;
  final_url: string | null;
  /** Bytes received. */
  bytes: number | null;
  source_sha256: string | null;
  /** Of the stored bytes (after re-encoding); names the object. */
  sha256: string | null;
  path: string | null;
  stored_bytes: number | null;
  format: string | null;
  width: number | null;
  height: number | null;
  original_width: number | null;
  original_height: number | null;
  /** Epoch ms of the first attempt. */
  started: number;
  elapsed_ms: number;
  fetch_ms: number | null;
  process_ms: number | null;
  run_id: number;
}
