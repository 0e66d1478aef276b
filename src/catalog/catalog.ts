import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk, type DuckDBValue, type DuckDBAppender } from '@duckdb/node-api';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runningBuild } from './build-marker.js';
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
  /**
   * Hold the catalog file only while working (the review server): the connection is an in-memory
   * database that ATTACHes the file for each run of queries and DETACHes it after `idleMs`, so
   * builds and other commands can open the workdir meanwhile. Temp tables stay in memory. While
   * a build runs (its marker is in the workdir) queries fail with CatalogBusyError.
   */
  shared?: boolean;
  /** shared: how long the file stays attached after the last query (default 100 ms). */
  idleMs?: number;
  /** How long to wait for another process's lock on the file (default: $IMGSIFT_LOCK_WAIT_MS, else 15 s; shared: 3 s per attach). */
  lockWaitMs?: number;
}

/** The catalog is held by another process (a build) right now; try again later. */
export class CatalogBusyError extends ImgsiftError {
  constructor(message: string, readonly building: boolean) {
    super(message);
  }
}

const isLockError = (err: unknown) => /lock/i.test(errorMessage(err));

export const CATALOG_FILE = 'catalog.duckdb';

/**
 * The embedded store of a workdir: one DuckDB file. All access goes through one connection whose
 * calls are queued, so callers may issue queries concurrently without interleaving them.
 */
export class Catalog {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Queued operations not yet settled. */
  private pending = 0;
  /** Shared mode: whether the file is attached now, and the timer that detaches it. */
  private shared: { attached: boolean; idleMs: number; lockWaitMs: number; timer?: NodeJS.Timeout } | null = null;

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
    const lockWaitMs = options.lockWaitMs ?? (Number(process.env.IMGSIFT_LOCK_WAIT_MS) || (options.shared ? 3000 : 15_000));
    if (options.shared && path !== ':memory:') {
      const instance = await DuckDBInstance.create(':memory:', config);
      const catalog = new Catalog(path, instance, await instance.connect());
      catalog.shared = { attached: false, idleMs: options.idleMs ?? 100, lockWaitMs };
      try {
        await catalog.enqueue(() => catalog.migrate());
      } catch (err) {
        catalog.close();
        throw err;
      }
      return catalog;
    }
    let instance: DuckDBInstance | undefined;
    // Another process may hold the file for a moment (the review server between requests): wait for it.
    for (const deadline = Date.now() + lockWaitMs; ; ) {
      try {
        instance = await DuckDBInstance.create(path, config);
        break;
      } catch (err) {
        const msg = errorMessage(err);
        if (!isLockError(err)) throw new ImgsiftError(`cannot open catalog ${path}: ${msg}`);
        if (Date.now() >= deadline) {
          const build = path === ':memory:' ? null : runningBuild(dirname(path));
          const who = build ? `a build (pid ${build.pid}, started ${build.started})` : 'another process';
          throw new ImgsiftError(`catalog ${path} is in use by ${who} (${msg.split('\n')[0]})`);
        }
        await sleep(100);
      }
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

  /**
   * The rows of `SELECT <columns> FROM <from> ORDER BY <orderBy>` as arrays of text, read as
   * JSON: DuckDB writes each run of 8,192 rows as one JSON string, which costs a fraction of
   * converting values one at a time (a native call for every string over 12 bytes) and leaves
   * far less garbage. Every value comes back as DuckDB's VARCHAR cast of it, or null: a row is
   * a list of VARCHARs, so DuckDB quotes strings instead of writing (and, for a list, re-reading)
   * a JSON document per value; rows are joined as text (`string_agg`), not gathered into a list
   * first (a cold read of 20,000 rows: 150 -> 120 ms). For large reads of a few columns.
   */
  async textRows(columns: string[], from: string, orderBy: string, params?: DuckDBValue[]): Promise<Array<Array<string | null>>> {
    const out: Array<Array<string | null>> = [];
    const cells = columns.map((c) => `CAST(${c} AS VARCHAR)`).join(', ');
    await this.stream(
      `SELECT '[' || string_agg(j, ',' ORDER BY n) || ']'
       FROM (SELECT to_json([${cells}]) AS j, row_number() OVER (ORDER BY ${orderBy}) AS n FROM ${from})
       GROUP BY n // 8192 ORDER BY n // 8192`,
      params,
      (chunk) => {
        const v = chunk.getColumnVector(0);
        for (let i = 0; i < chunk.rowCount; i++) for (const row of JSON.parse(v.getItem(i) as string) as Array<Array<string | null>>) out.push(row);
      },
    );
    return out;
  }

  /**
   * Run a query and hand its result to `onChunk` one DuckDB chunk (~2,048 rows) at a time, so a
   * large result is never held whole; typed columns read straight from the chunk's vectors.
   * Returns the number of rows.
   */
  stream(sql: string, params: DuckDBValue[] | undefined, onChunk: (chunk: DuckDBDataChunk) => void): Promise<number> {
    return this.enqueue(async () => {
      const result = await this.conn.stream(sql, params);
      let rows = 0;
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) return rows;
        onChunk(chunk);
        rows += chunk.rowCount;
      }
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

  /**
   * Refuse new work and close the connection — at once when nothing is queued, else as soon as
   * the queued operations have settled. Closing a DuckDB connection while one of its queries runs
   * on a worker thread destroys the query's context there: that thread deadlocks on the context's
   * own lock or crashes (seen as a hung or SIGSEGV review server when a client's request was still
   * being answered at close).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.shared?.timer) clearTimeout(this.shared.timer);
    const closeNow = () => {
      try {
        this.conn.closeSync();
      } finally {
        this.instance.closeSync();
      }
    };
    if (this.pending === 0) closeNow();
    else void this.queue.then(closeNow).catch(() => undefined);
  }

  private async migrate(): Promise<void> {
    if (this.shared) return this.migrateIn();
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

  /** migrate() for a shared catalog, already inside the queue (the file attached). */
  private async migrateIn(): Promise<void> {
    const tx = new Transaction(this.conn);
    const exists = await tx.all<{ n: bigint }>(`SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'meta' AND table_catalog = 'cat'`);
    const row = Number(exists[0].n)
      ? (await tx.all<{ value: string }>(`SELECT value FROM meta WHERE key = 'schema_version'`))[0]
      : undefined;
    const current = row ? Number(row.value) : 0;
    if (current > SCHEMA_VERSION) throw new ImgsiftError(`catalog ${this.path} has schema version ${current}, newer than this imgsift (${SCHEMA_VERSION}); upgrade imgsift`);
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await this.conn.run('BEGIN TRANSACTION');
      try {
        for (const sql of m.sql) await this.conn.run(sql);
        await this.conn.run(`INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)`, [String(m.version)]);
        await this.conn.run('COMMIT');
      } catch (err) {
        await this.conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
  }

  /** Shared mode: attach the file (waiting briefly for another process's lock), unless a build runs. */
  private async attach(): Promise<void> {
    const sh = this.shared!;
    if (sh.timer) clearTimeout(sh.timer);
    sh.timer = undefined;
    if (sh.attached) return;
    const build = runningBuild(dirname(this.path));
    if (build) throw new CatalogBusyError(`a build is running on this workdir (pid ${build.pid}, started ${build.started})`, true);
    for (const deadline = Date.now() + sh.lockWaitMs; ; ) {
      try {
        await this.conn.run(`ATTACH '${this.path.replace(/'/g, "''")}' AS cat`);
        break;
      } catch (err) {
        if (!isLockError(err)) throw new ImgsiftError(`cannot open catalog ${this.path}: ${errorMessage(err)}`);
        if (Date.now() >= deadline) {
          const b = runningBuild(dirname(this.path));
          throw new CatalogBusyError(`catalog ${this.path} is in use by ${b ? `a build (pid ${b.pid})` : 'another process'}; try again`, b !== null);
        }
        await sleep(50);
      }
    }
    await this.conn.run('USE cat');
    sh.attached = true;
  }

  /** Shared mode: detach the file once no query has come for idleMs. */
  private scheduleDetach(): void {
    const sh = this.shared!;
    if (sh.timer) clearTimeout(sh.timer);
    sh.timer = setTimeout(() => {
      sh.timer = undefined;
      this.pending++;
      const next = this.queue.then(async () => {
        if (!sh.attached || sh.timer || this.closed) return;
        await this.conn.run('USE memory');
        await this.conn.run('DETACH cat');
        sh.attached = false;
      }).finally(() => this.pending--);
      this.queue = next.catch(() => undefined);
    }, sh.idleMs);
    sh.timer.unref();
  }

  /** Shared mode: whether the file is attached right now (tests). */
  get holdsFile(): boolean {
    return this.shared ? this.shared.attached : !this.closed;
  }

  private async checkVersion(): Promise<void> {
    const v = await this.schemaVersion();
    if (v !== SCHEMA_VERSION) {
      throw new ImgsiftError(`catalog ${this.path} has schema version ${v}, expected ${SCHEMA_VERSION}; open it writable once to migrate`);
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ImgsiftError(`catalog ${this.path} is closed`));
    const sh = this.shared;
    const work = sh
      ? async () => {
          await this.attach();
          try {
            return await fn();
          } finally {
            this.scheduleDetach();
          }
        }
      : fn;
    this.pending++;
    const next = this.queue.then(work, work).finally(() => this.pending--);
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
