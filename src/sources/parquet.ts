import { dirname, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { InputError, errorMessage } from '../errors.js';
import { bounded } from './bounded.js';
import { rootGuard, type ManifestSourceOptions } from './jsonl.js';
import { listInputFiles } from './listing.js';
import { resolveColumns, rowToRecord } from './manifest.js';
import type { ReadOptions, Source, SourceRecord } from './types.js';

export const PARQUET_SUFFIXES = ['.parquet'];

/** Names the row-number column so that it cannot meet a real column. */
const ROW_COLUMN = '__imgsift_row__';

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * DuckDB's JS values made plain for meta (JSON-friendly): bigints become numbers when exact,
 * dates ISO strings, and blobs a short note rather than megabytes of bytes in the catalog.
 */
export function plainValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (Array.isArray(v)) return v.map(plainValue);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = plainValue(x);
    return o;
  }
  return v;
}

/**
 * Parquet manifests, read through DuckDB's `read_parquet` with a streaming result, so a large file
 * is held a chunk (about 2,048 rows) at a time. `line` in errors is the 1-based row number.
 */
export class ParquetSource implements Source {
  readonly description: string;
  constructor(private readonly opts: ManifestSourceOptions) {
    this.description = `parquet manifest ${opts.path}`;
  }

  read(options: ReadOptions): AsyncIterable<SourceRecord> {
    return bounded(this.records(options), options);
  }

  private async *records(options: ReadOptions): AsyncGenerator<SourceRecord> {
    const files = await listInputFiles(this.opts.path, PARQUET_SUFFIXES);
    const instance = await DuckDBInstance.create(':memory:', {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'true',
    });
    const conn = await instance.connect();
    try {
      for (const file of files) yield* this.readFile(conn, file, options);
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  }

  private async *readFile(conn: DuckDBConnection, file: string, options: ReadOptions): AsyncGenerator<SourceRecord> {
    const root = this.opts.root ?? dirname(resolve(file));
    const guard = rootGuard(this.opts, root);
    const sql = `SELECT *, file_row_number + 1 AS ${ROW_COLUMN} FROM read_parquet(${sqlString(file)}, file_row_number = true)`;
    let result;
    try {
      result = await conn.stream(sql);
    } catch (err) {
      throw new InputError({ file }, `cannot read as Parquet: ${errorMessage(err).split('\n')[0]}`);
    }
    const columns = result.columnNames().filter((c) => c !== ROW_COLUMN && c !== 'file_row_number');
    const cols = resolveColumns(file, this.opts.fields, columns, 'the schema');
    try {
      for await (const rows of result.yieldRowObjectJs()) {
        for (const raw of rows) {
          const line = Number(raw[ROW_COLUMN]);
          const row: Record<string, unknown> = {};
          for (const c of columns) {
            const v = raw[c];
            // Image columns may be {bytes, path} structs; keep their bytes visible to the mapper.
            row[c] = c === cols.image || Object.values(cols.files).includes(c) ? v : plainValue(v);
          }
          const r = rowToRecord(row, cols, { file, line, root, pathRoot: this.opts.pathRoot, allowAbsolutePaths: this.opts.allowAbsolutePaths });
          if (r instanceof InputError) options.onBadRow(r);
          else {
            const refused = guard ? guard.refuseRecord(r) : null;
            if (refused) options.onSkip?.(refused);
            else yield r;
          }
        }
      }
    } catch (err) {
      if (err instanceof InputError) throw err;
      // A file damaged part-way: say so, keep what was read, go on with the next file.
      options.onBadRow(new InputError({ file }, `Parquet read failed part-way: ${errorMessage(err).split('\n')[0]}`));
    }
  }
}
