import type { Catalog, Columns, Row } from '../catalog/catalog.js';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { InputError, asStorageError, formatLocation } from '../errors.js';
import type { Reporter } from './reporter.js';
import type { Source, SourceRecord } from '../sources/types.js';

export interface IngestOptions {
  runId: number;
  reporter: Reporter;
  /** Stop after this many samples (seed 000's `--max-samples`). */
  maxSamples?: number;
  /** Go on past malformed rows (counting them) instead of stopping at the first. */
  skipBadRows?: boolean;
  /**
   * With skipBadRows: write every skipped row here, one JSON object a line ({"ref": "file:line",
   * "reason"}); replaced each run, absent when no row was bad.
   */
  badRowsFile?: string;
  /** Two rows with one id: stop with an error naming both rows, or keep the first. */
  onDuplicateId?: 'error' | 'first';
  signal?: AbortSignal;
}

export interface IngestStats {
  read: number;
  added: number;
  updated: number;
  /** Samples of earlier runs that this run's source no longer lists. */
  gone: number;
  badRows: number;
  /** The first BAD_ROW_EXAMPLES bad rows, as `file:line: reason`. */
  badRowExamples: string[];
  /** Where every bad row was written (IngestOptions.badRowsFile), when there were any. */
  badRowsFile?: string;
  duplicateIds: number;
}

const STAGE_SAMPLES: Columns = {
  seq: 'bigint', id: 'varchar', source: 'varchar', source_ref: 'varchar', path: 'varchar',
  source_split: 'varchar', label: 'varchar', text: 'varchar', group_key: 'varchar', meta: 'json',
};
const STAGE_FILES: Columns = { seq: 'bigint', sample_id: 'varchar', role: 'varchar', uri: 'varchar' };
const BATCH = 5000;
/** Bad rows kept in the stats (and shown by the CLI); the file has them all. */
export const BAD_ROW_EXAMPLES = 20;
/** The file, in the workdir, that lists every bad row of the latest build. */
export const BAD_ROWS_FILE = 'bad_rows.jsonl';

/**
 * Stream a source into the catalog. Rows are staged in batches with the appender (memory stays
 * bounded however long the manifest), checked for duplicate ids, then merged into `samples` and
 * `files` in one transaction: a sample keeps its ingest order and first run across reruns, and is
 * marked as seen by this run.
 */
export async function ingest(catalog: Catalog, source: Source, options: IngestOptions): Promise<IngestStats> {
  const { runId, reporter } = options;
  const stats: IngestStats = { read: 0, added: 0, updated: 0, gone: 0, badRows: 0, badRowExamples: [], duplicateIds: 0 };
  await catalog.run(`DROP TABLE IF EXISTS ingest_samples`);
  await catalog.run(`DROP TABLE IF EXISTS ingest_files`);
  await catalog.run(`CREATE TABLE ingest_samples (seq BIGINT, id VARCHAR, source VARCHAR, source_ref VARCHAR, path VARCHAR,
    source_split VARCHAR, label VARCHAR, text VARCHAR, group_key VARCHAR, meta JSON)`);
  await catalog.run(`CREATE TABLE ingest_files (seq BIGINT, sample_id VARCHAR, role VARCHAR, uri VARCHAR)`);

  const progress = reporter.progress('ingest', options.maxSamples);
  let samples: Row[] = [];
  let files: Row[] = [];
  const flush = async () => {
    await catalog.append('ingest_samples', STAGE_SAMPLES, samples);
    await catalog.append('ingest_files', STAGE_FILES, files);
    progress.tick(samples.length);
    samples = [];
    files = [];
  };
  const badFile = options.skipBadRows && options.badRowsFile ? new BadRowsFile(options.badRowsFile) : undefined;
  const onBadRow = (err: InputError) => {
    if (!options.skipBadRows) throw err;
    stats.badRows++;
    if (stats.badRowExamples.length < BAD_ROW_EXAMPLES) stats.badRowExamples.push(err.message);
    badFile?.add(err);
  };
  try {
    for await (const rec of source.read({ onBadRow, maxRecords: options.maxSamples, signal: options.signal })) {
      stats.read++;
      samples.push(stageRow(stats.read, rec, source.description));
      for (const [role, uri] of Object.entries(rec.files)) files.push({ seq: stats.read, sample_id: rec.id, role, uri });
      if (samples.length >= BATCH) await flush();
      if (options.signal?.aborted) break;
    }
  } finally {
    badFile?.close();
  }
  if (badFile?.written) stats.badRowsFile = badFile.path;
  await flush();
  progress.finish();

  stats.duplicateIds = await resolveDuplicates(catalog, options.onDuplicateId ?? 'error', source.description);
  const before = await catalog.scalar(`SELECT count(*) FROM samples`);
  const maxOrd = await catalog.scalar(`SELECT coalesce(max(ord), 0) FROM samples`);
  await catalog.transaction(async (tx) => {
    // Known samples keep their ingest order and first run; the source's fields replace theirs.
    await tx.run(`UPDATE samples SET
        source = i.source, source_ref = i.source_ref, path = i.path, source_split = i.source_split,
        split = i.source_split, label = i.label, text = i.text, group_key = i.group_key, meta = i.meta,
        seen_run = ${runId}
      FROM ingest_samples i WHERE samples.id = i.id`);
    await tx.run(`INSERT INTO samples
      SELECT id, source, source_ref, path, source_split, source_split, label, text, group_key, meta,
             ${maxOrd} + seq, ${runId}, ${runId}, NULL
      FROM ingest_samples i WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.id = i.id)`);
    await tx.run(`DELETE FROM files WHERE sample_id IN (SELECT id FROM ingest_samples)`);
    await tx.run(`INSERT INTO files SELECT DISTINCT ON (sample_id, role) sample_id, role, uri FROM ingest_files
                  WHERE seq IN (SELECT seq FROM ingest_samples) ORDER BY sample_id, role, seq`);
  });
  const after = await catalog.scalar(`SELECT count(*) FROM samples`);
  stats.added = after - before;
  stats.updated = stats.read - stats.duplicateIds - stats.added;
  stats.gone = await catalog.scalar(`SELECT count(*) FROM samples WHERE seen_run < ${runId}`);
  await catalog.run(`DROP TABLE ingest_samples`);
  await catalog.run(`DROP TABLE ingest_files`);
  return stats;
}

function stageRow(seq: number, rec: SourceRecord, sourceName: string): Row {
  return {
    seq, id: rec.id, source: sourceName, source_ref: rec.ref, path: rec.path ?? null,
    source_split: rec.split ?? null, label: rec.label ?? null, text: rec.text ?? null,
    group_key: rec.group ?? null, meta: rec.meta && Object.keys(rec.meta).length ? rec.meta : null,
  };
}

/** Returns how many rows were duplicates (after keeping the first of each id), or throws. */
async function resolveDuplicates(catalog: Catalog, rule: 'error' | 'first', sourceName: string): Promise<number> {
  const dups = await catalog.all<{ id: string; n: bigint; refs: string[] }>(`
    SELECT id, count(*) AS n, list(source_ref ORDER BY seq)[1:3] AS refs
    FROM ingest_samples GROUP BY id HAVING count(*) > 1 ORDER BY min(seq) LIMIT 5`);
  if (dups.length === 0) return 0;
  const total = await catalog.scalar(`SELECT count(*) - count(DISTINCT id) FROM ingest_samples`);
  if (rule === 'error') {
    const lines = dups.map((d) => `  '${d.id}' ×${d.n}: ${d.refs.join(', ')}`).join('\n');
    throw new InputError(
      { file: sourceName, field: 'id' },
      `${total} rows repeat an id already used by an earlier row, for example:\n${lines}\n` +
        `ids must be unique; map another column with source.fields.id, or set on_duplicate_id: first to keep the first row of each id`,
    );
  }
  await catalog.run(`DELETE FROM ingest_samples WHERE seq NOT IN (SELECT min(seq) FROM ingest_samples GROUP BY id)`);
  return total;
}


/**
 * Every skipped row of the run, one JSON line each (`{"ref": "file:line", "reason"}`), written as
 * they come (bad rows arrive in a synchronous callback) in buffered batches. The previous run's
 * file is removed at the start, so the file always describes the latest run.
 */
class BadRowsFile {
  private fd: number | undefined;
  private buffer: string[] = [];
  written = false;

  constructor(readonly path: string) {
    rmSync(path, { force: true });
  }

  add(err: InputError): void {
    const ref = formatLocation({ file: err.location.file, line: err.location.line });
    const loc = formatLocation(err.location);
    const reason = err.message.startsWith(`${loc}: `) ? err.message.slice(loc.length + 2) : err.message;
    const field = err.location.field;
    this.buffer.push(JSON.stringify(field === undefined ? { ref, reason } : { ref, field, reason }));
    if (this.buffer.length >= 1000) this.flush();
  }

  private flush(): void {
    if (this.buffer.length === 0) return;
    try {
      this.fd ??= openSync(this.path, 'w');
      writeSync(this.fd, this.buffer.join('\n') + '\n');
    } catch (err) {
      throw asStorageError(err, this.path);
    }
    this.buffer = [];
    this.written = true;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
