import type { Catalog, Columns } from '../catalog/catalog.js';
import type { DownloadRow } from './types.js';

const FLUSH_ROWS = 256;
const FLUSH_MS = 1000;

/** Staging layout: `started` travels as epoch ms and becomes a TIMESTAMP on the way in. */
const STAGE_COLUMNS: Columns = {
  sample_id: 'varchar', role: 'varchar', url: 'varchar', status: 'varchar', error: 'varchar', http_status: 'int',
  attempts: 'int', final_url: 'varchar', bytes: 'bigint', source_sha256: 'varchar', sha256: 'varchar', path: 'varchar',
  stored_bytes: 'bigint', format: 'varchar', width: 'int', height: 'int', original_width: 'int', original_height: 'int',
  started: 'bigint', elapsed_ms: 'double', fetch_ms: 'double', process_ms: 'double', run_id: 'int',
};
const NAMES = Object.keys(STAGE_COLUMNS);

/**
 * The downloader's writer: outcomes are buffered and committed in batches, each in one
 * transaction that upserts their `downloads` rows and points the `files` of the successes at the
 * stored objects. An object is on disk before its row commits, so after a crash a committed
 * success always has its bytes, and an uncommitted one is simply fetched again.
 */
export class DownloadWriter {
  private rows: DownloadRow[] = [];
  private lastFlush = Date.now();
  private flushing: Promise<void> = Promise.resolve();
  private staged = false;

  constructor(private readonly catalog: Catalog) {}

  /** Queue the outcomes of one sample (all its files together, so a sample never commits half). */
  add(rows: DownloadRow[]): Promise<void> {
    this.rows.push(...rows);
    if (this.rows.length >= FLUSH_ROWS || Date.now() - this.lastFlush >= FLUSH_MS) return this.flush();
    return Promise.resolve();
  }

  /** Commit everything queued; flushes are serialised so batches land in order. */
  flush(): Promise<void> {
    const rows = this.rows;
    this.rows = [];
    this.lastFlush = Date.now();
    if (rows.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() => this.commit(rows));
    return this.flushing;
  }

  private async commit(rows: DownloadRow[]): Promise<void> {
    if (!this.staged) {
      // Columns in STAGE_COLUMNS order: the appender fills them by position.
      const select = NAMES.map((n) => (n === 'started' ? '0::BIGINT AS started' : n)).join(', ');
      await this.catalog.run(`CREATE TEMP TABLE IF NOT EXISTS stage_downloads AS SELECT ${select} FROM downloads LIMIT 0`);
      this.staged = true;
    }
    await this.catalog.transaction(async (tx) => {
      await tx.append('stage_downloads', STAGE_COLUMNS, rows as unknown as Array<Record<string, unknown>>);
      const cols = NAMES.map((n) => (n === 'started' ? 'epoch_ms(started)' : n)).join(', ');
      await tx.run(`INSERT OR REPLACE INTO downloads (${NAMES.join(', ')}) SELECT ${cols} FROM stage_downloads`);
      await tx.run(`UPDATE files SET uri = s.path FROM stage_downloads s
        WHERE files.sample_id = s.sample_id AND files.role = s.role AND files.uri = s.url AND s.status = 'success'`);
      await tx.run(`DELETE FROM stage_downloads`);
    });
  }
}
