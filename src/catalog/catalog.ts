import { DuckDBInstance, type DuckDBConnection, type DuckDBValue, type DuckDBAppender } from '@duckdb/node-api';
import { join } from 'node:path';
import { ensureDir } from '../util/fs.js';
import { ImgsiftError, errorMessage } from '../errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

/** How a JavaScript value is appended to a column. JSON columns take a value and serialise it. */
export type ColumnKind = 'varchar' | 'json' | 'int' | 'bigint' | 'double' | 'bool';
export type Columns = Record<string, ColumnKind>;
export type Row = Record<string, unknown>;

export interface CatalogOptions {
  readOnly?: boolean;
  /** DuckDB memory limit, e.g. '2GB' (default: $IMGSIFT_MEMORY_LIMIT, else 2GB). */
  memoryLimit?: string;
}

export const CATALOG_FILE = 'catalog.duckdb';

/**
 * The embedded store of a workdir: one DuckDB file. All access goes through one connection whose
 * calls are queued, so callers may issue queries concurrently without interleaving them.
 */
export class Catalog {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {}

  /** Open (creating if needed) the catalog of `workdir`, migrating it to the current schema. */
  static async open(workdir: string, options: CatalogOptions = {}): Promise<Catalog> {
    const path = workdir === ':memory:' ? ':memory:' : join(workdir, CATALOG_FILE);
    if (path !== ':memory:') await ensureDir(workdir);
    const config: Record<string, string> = { autoinstall_known_extensions: 'false', autoload_known_extensions: 'true' };
    if (options.readOnly) config.access_mode = 'READ_ONLY';
    // Bounded memory whatever the catalog's size: DuckDB spills to disk past this.
    config.memory_limit = options.memoryLimit ?? process.env.IMGSIFT_MEMORY_LIMIT ?? '2GB';
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(path, config);
    } catch (err) {
      const msg = errorMessage(err);
      if (/lock/i.test(msg)) {
        throw new ImgsiftError(`catalog ${path} is in use by another process (${msg.split('\n')[0]})`);
      }
      throw new ImgsiftError(`cannot open catalog ${path}: ${msg}`);
    }
    const conn = await instance.connect();
    const catalog = new Catalog(path, instance, conn);
    if (!options.readOnly) await catalog.migrate();
    else await catalog.checkVersion();
    return catalog;
  }

  /** Run one statement; statements are serialised on the connection. */
  run(sql: string, params?: DuckDBValue[]): Promise<void> {
    return this.enqueue(async () => {
      await this.conn.run(sql, params);
    });
  }

  /** Run a query and return its rows as plain objects (BIGINT columns come back as bigint). */
  all<T = Row>(sql: string, params?: DuckDBValue[]): Promise<T[]> {
    return this.enqueue(async () => {
      const reader = await this.conn.runAndReadAll(sql, params);
      return reader.getRowObjectsJS() as T[];
    });
  }

  async one<T = Row>(sql: string, params?: DuckDBValue[]): Promise<T | undefined> {
    const rows = await this.all<T>(sql, params);
    return rows[0];
  }

  /** A single number from a query such as `SELECT count(*) ...`. */
  async scalar(sql: string, params?: DuckDBValue[]): Promise<number> {
    const row = await this.one<Record<string, unknown>>(sql, params);
    const v = row ? Object.values(row)[0] : undefined;
    return v === null || v === undefined ? 0 : Number(v);
  }

  /** Run `fn` inside one transaction: all of its writes land, or none do. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.enqueue(async () => {
      await this.conn.run('BEGIN TRANSACTION');
      try {
        const result = await fn(new Transaction(this.conn));
        await this.conn.run('COMMIT');
        return result;
      } catch (err) {
        await this.conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  /** Append rows to a table with DuckDB's appender (batch write, not one INSERT per row). */
  append(table: string, columns: Columns, rows: Row[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.enqueue(() => appendRows(this.conn, table, columns, rows));
  }

  async schemaVersion(): Promise<number> {
    const exists = await this.scalar(
      `SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'`,
    );
    if (!exists) return 0;
    const row = await this.one<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema_version'`);
    return row ? Number(row.value) : 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.closeSync();
    } finally {
      this.instance.closeSync();
    }
  }

  private async migrate(): Promise<void> {
    const current = await this.schemaVersion();
    if (current > SCHEMA_VERSION) {
      throw new ImgsiftError(
        `catalog ${this.path} has schema version ${current}, newer than this imgsift (${SCHEMA_VERSION}); upgrade imgsift`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await this.transaction(async (tx) => {
        for (const sql of m.sql) await tx.run(sql);
        await tx.run(`INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)`, [String(m.version)]);
      });
    }
  }

  private async checkVersion(): Promise<void> {
    const v = await this.schemaVersion();
    if (v !== SCHEMA_VERSION) {
      throw new ImgsiftError(`catalog ${this.path} has schema version ${v}, expected ${SCHEMA_VERSION}; open it writable once to migrate`);
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ImgsiftError(`catalog ${this.path} is closed`));
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** The same operations, inside an open transaction (no queueing: the transaction holds the queue). */
export class Transaction {
  constructor(private readonly conn: DuckDBConnection) {}
  async run(sql: string, params?: DuckDBValue[]): Promise<void> {
    await this.conn.run(sql, params);
  }
  async all<T = Row>(sql: string, params?: DuckDBValue[]): Promise<T[]> {
    const reader = await this.conn.runAndReadAll(sql, params);
    return reader.getRowObjectsJS() as T[];
  }
  append(table: string, columns: Columns, rows: Row[]): Promise<void> {
    return appendRows(this.conn, table, columns, rows);
  }
}

async function appendRows(conn: DuckDBConnection, table: string, columns: Columns, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const names = Object.keys(columns);
  const appender: DuckDBAppender = await conn.createAppender(table);
  try {
    for (const row of rows) {
      for (const name of names) appendValue(appender, columns[name], row[name], table, name);
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

function appendValue(a: DuckDBAppender, kind: ColumnKind, v: unknown, table: string, column: string): void {
  if (v === null || v === undefined) {
    a.appendNull();
    return;
  }
  switch (kind) {
    case 'varchar':
      a.appendVarchar(String(v));
      return;
    case 'json':
      a.appendVarchar(typeof v === 'string' ? v : JSON.stringify(v));
      return;
    case 'int':
      a.appendInteger(Number(v));
      return;
    case 'bigint':
      a.appendBigInt(BigInt(typeof v === 'number' ? Math.trunc(v) : (v as bigint)));
      return;
    case 'double':
      a.appendDouble(Number(v));
      return;
    case 'bool':
      a.appendBoolean(Boolean(v));
      return;
    default:
      throw new Error(`appender: unknown column kind ${String(kind)} for ${table}.${column}`);
  }
}

/** Column layouts of the tables that are written in batches. Order matches the table definitions. */
export const COLUMNS = {
  samples: {
    id: 'varchar', source: 'varchar', source_ref: 'varchar', path: 'varchar', source_split: 'varchar',
    split: 'varchar', label: 'varchar', text: 'varchar', group_key: 'varchar', meta: 'json',
    ord: 'bigint', first_run: 'int', seen_run: 'int', drop_run: 'int', parent_id: 'varchar',
  },
  files: { sample_id: 'varchar', role: 'varchar', uri: 'varchar' },
  fingerprints: { uri: 'varchar', size: 'bigint', mtime_ms: 'double', sha256: 'varchar' },
  file_status: { uri: 'varchar', sha256: 'varchar', error: 'varchar', run_id: 'int' },
  step_results: {
    content_hash: 'varchar', step: 'varchar', params_hash: 'varchar', ok: 'bool', result: 'json',
    issues: 'json', error: 'varchar', elapsed_ms: 'double', run_id: 'int', files: 'json',
  },
  issues: {
    sample_id: 'varchar', type: 'varchar', score: 'double', flagged: 'bool', evidence: 'json',
    step: 'varchar', source: 'varchar', run_id: 'int',
  },
  drops: { sample_id: 'varchar', reason: 'varchar', step: 'varchar', run_id: 'int' },
  sample_keys: { sample_id: 'varchar', step: 'varchar', params_hash: 'varchar', key: 'varchar', run_id: 'int' },
} satisfies Record<string, Columns>;
