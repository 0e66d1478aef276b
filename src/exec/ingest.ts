import type { Catalog, Columns, Row } from '../catalog/catalog.js';
import { closeSync, createWriteStream, openSync, rmSync, writeSync, type WriteStream } from 'node:fs';
import { InputError, asStorageError, formatLocation } from '../errors.js';
import type { Reporter } from './reporter.js';
import type { Skip, Source, SourceRecord } from '../sources/types.js';
import type { ExplodeConfig } from '../sources/config.js';
import { explodeRecord } from './explode.js';
import { shardOfSql, type ShardSpec } from '../distrib/shard.js';

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
  /** `source.where`: keep only records matching this SQL condition (before --max-samples counts). */
  where?: string;
  /** Where every file or entry the source passed over is listed (one JSON line each: path, source, reason). */
  skippedFile?: string;
  /** `source.explode`: one sample per element of a list field. */
  explode?: ExplodeConfig;
  signal?: AbortSignal;
  /**
   * Keep only this shard's samples (array jobs): after --max-samples counted the source's records,
   * so the shards of a build are exactly the single build's samples. A child (explode) goes with its parent.
   */
  shard?: ShardSpec;
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
  /** Records `source.where` left out. */
  filtered: number;
  /** Records `explode` turned into children, and records whose list was empty. */
  exploded: number;
  explodedEmpty: number;
  /** Children of earlier runs that this run's records no longer make (removed with their files and issues). */
  orphansRemoved: number;
  /** Files and entries the source passed over, by reason, and the first of them. */
  skipped: Record<string, number>;
  skippedExamples: string[];
  skippedFile?: string;
  /** Blank lines the source skipped (prompt lists). */
  blankLines?: number;
  /** Per named source (`sources:` recipes): records read, samples staged, records `where` left out. */
  sources?: Record<string, SourceIngestStats>;
}

const STAGE_SAMPLES: Columns = {
  seq: 'bigint', id: 'varchar', source: 'varchar', source_ref: 'varchar', path: 'varchar',
  source_split: 'varchar', label: 'varchar', text: 'varchar', group_key: 'varchar', meta: 'json', parent_id: 'varchar',
};
const STAGE_SQL = `seq BIGINT, id VARCHAR, source VARCHAR, source_ref VARCHAR, path VARCHAR,
    source_split VARCHAR, label VARCHAR, text VARCHAR, group_key VARCHAR, meta JSON, parent_id VARCHAR`;
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
  return ingestSources(catalog, [{ source, where: options.where, explode: options.explode }], options);
}

/** One source of a build, as ingest reads it. */
export interface IngestInput {
  source: Source;
  /** The recipe's name for it (`sources:`): ids become `<name>/<id>` and the `source` column is the name. */
  name?: string;
  where?: string;
  explode?: ExplodeConfig;
}

/** Per source of a `sources:` recipe: records read and samples staged. */
export interface SourceIngestStats {
  read: number;
  staged: number;
  filtered: number;
}

/**
 * Ingest several sources into one staging, in turn, then merge them into the catalog at once
 * (so samples of every source are seen by the same run). `--max-samples` counts per source.
 */
export async function ingestSources(catalog: Catalog, inputs: readonly IngestInput[], options: IngestOptions): Promise<IngestStats> {
  const { runId, reporter } = options;
  const stats: IngestStats = {
    read: 0, added: 0, updated: 0, gone: 0, badRows: 0, badRowExamples: [], duplicateIds: 0,
    filtered: 0, exploded: 0, explodedEmpty: 0, orphansRemoved: 0, skipped: {}, skippedExamples: [],
  };
  const skipLog = options.skippedFile ? new SkipLog(options.skippedFile) : undefined;
  for (const t of ['ingest_samples', 'ingest_files', 'ingest_batch', 'ingest_batch_files']) await catalog.run(`DROP TABLE IF EXISTS ${t}`);
  await catalog.run(`CREATE TABLE ingest_samples (${STAGE_SQL})`);
  await catalog.run(`CREATE TABLE ingest_files (seq BIGINT, sample_id VARCHAR, role VARCHAR, uri VARCHAR)`);
  const max = options.maxSamples ?? Infinity;
  const named = inputs.some((i) => i.name !== undefined);
  if (named) stats.sources = {};
  let seq = 0;
  const badFile = options.skipBadRows && options.badRowsFile ? new BadRowsFile(options.badRowsFile) : undefined;
  try {
  for (const input of inputs) {
    const { source, name } = input;
    const label = name ?? source.description;
    const readBefore = stats.read;
    const filteredBefore = stats.filtered;
    const firstSeq = seq;
    const onSkip = (skip: Skip) => {
      stats.skipped[skip.reason] = (stats.skipped[skip.reason] ?? 0) + 1;
      if (stats.skippedExamples.length < 5) stats.skippedExamples.push(`${skip.path}: ${skip.reason}`);
      skipLog?.write(skip, label);
    };
    const where = input.where ? new WhereFilter(catalog, input.where, source.description) : undefined;
    // Without a filter or explode, the reader can stop at --max-samples itself.
    const readerMax = where || input.explode ? undefined : options.maxSamples;
    const progress = reporter.progress(named ? `ingest ${name}` : 'ingest', options.maxSamples);
    let kept = 0;
    let samples: Row[] = [];
    let files: Row[] = [];
    let batchMeta: Array<Record<string, unknown> | undefined> = [];
    const flush = async () => {
      if (where) {
        const passed = await where.apply(samples, files, batchMeta);
        stats.filtered += samples.length - passed;
        kept += passed;
      } else {
        await catalog.append('ingest_samples', STAGE_SAMPLES, samples);
        await catalog.append('ingest_files', STAGE_FILES, files);
        kept += samples.length;
      }
      progress.tick(samples.length);
      samples = [];
      files = [];
      batchMeta = [];
    };
    const onBadRow = (err: InputError) => {
      if (!options.skipBadRows) throw err;
      stats.badRows++;
      if (stats.badRowExamples.length < BAD_ROW_EXAMPLES) stats.badRowExamples.push(err.message);
      badFile?.add(err);
    };
    const prefix = (id: string) => (name === undefined ? id : `${name}/${id}`);
    const stage = (rec: SourceRecord) => {
      seq++;
      const id = prefix(rec.id);
      samples.push(stageRow(seq, { ...rec, id, parent: rec.parent === undefined ? undefined : prefix(rec.parent) }, label));
      batchMeta.push(rec.meta);
      for (const [role, uri] of Object.entries(rec.files)) files.push({ seq, sample_id: id, role, uri });
    };
    for await (const rec of source.read({ onBadRow, onSkip, maxRecords: readerMax, signal: options.signal })) {
      stats.read++;
      if (input.explode) {
        const children = explodeRecord(rec, input.explode);
        if (children instanceof InputError) onBadRow(children);
        else {
          if (children.length === 0) stats.explodedEmpty++;
          stats.exploded++;
          children.forEach(stage);
        }
      } else stage(rec);
      if (samples.length >= BATCH) await flush();
      if (kept >= max || options.signal?.aborted) break;
    }
    await flush();
    progress.finish();
    if (kept > max) {
      // The last batch passed more than --max-samples asked for: keep the first ones.
      await catalog.run(`DELETE FROM ingest_samples WHERE seq > (SELECT seq FROM ingest_samples WHERE seq > ${firstSeq} ORDER BY seq LIMIT 1 OFFSET ${max - 1})`);
    }
    if (source.skipped) stats.blankLines = (stats.blankLines ?? 0) + source.skipped;
    if (stats.sources && name !== undefined) {
      stats.sources[name] = {
        read: stats.read - readBefore,
        staged: await catalog.scalar(`SELECT count(*) FROM ingest_samples WHERE seq > ${firstSeq}`),
        filtered: stats.filtered - filteredBefore,
      };
    }
    if (options.signal?.aborted) break;
  }
  } finally {
    await skipLog?.close();
    badFile?.close();
  }
  if (badFile?.written) stats.badRowsFile = badFile.path;
  if (skipLog && Object.keys(stats.skipped).length) stats.skippedFile = options.skippedFile;
  const sourceName = inputs.map((i) => i.name ?? i.source.description).join(', ');
  if (options.shard) {
    await catalog.run(`DELETE FROM ingest_samples WHERE ${shardOfSql('coalesce(parent_id, id)', options.shard.count)} <> ${Math.trunc(options.shard.index)}`);
  }

  stats.duplicateIds = await resolveDuplicates(catalog, options.onDuplicateId ?? 'error', sourceName);
  const staged = await catalog.scalar(`SELECT count(*) FROM ingest_samples`);
  const before = await catalog.scalar(`SELECT count(*) FROM samples`);
  const maxOrd = await catalog.scalar(`SELECT coalesce(max(ord), 0) FROM samples`);
  await catalog.transaction(async (tx) => {
    // Known samples keep their ingest order and first run; the source's fields replace theirs.
    await tx.run(`UPDATE samples SET
        source = i.source, source_ref = i.source_ref, path = i.path, source_split = i.source_split,
        split = i.source_split, label = i.label, text = i.text, group_key = i.group_key, meta = i.meta,
        parent_id = i.parent_id, seen_run = ${runId}
      FROM ingest_samples i WHERE samples.id = i.id`);
    await tx.run(`INSERT INTO samples (id, source, source_ref, path, source_split, split, label, text, group_key, meta,
                                       ord, first_run, seen_run, drop_run, parent_id)
      SELECT id, source, source_ref, path, source_split, source_split, label, text, group_key, meta,
             ${maxOrd} + seq, ${runId}, ${runId}, NULL, parent_id
      FROM ingest_samples i WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.id = i.id)`);
    await tx.run(`DELETE FROM files WHERE sample_id IN (SELECT id FROM ingest_samples)`);
    await tx.run(`INSERT INTO files SELECT DISTINCT ON (sample_id, role) sample_id, role, uri FROM ingest_files
                  WHERE seq IN (SELECT seq FROM ingest_samples) ORDER BY sample_id, role, seq`);
    // A parent this run read again whose children are not all made again (explode with other
    // parameters, fewer items): the old children go, with everything recorded about them.
    stats.orphansRemoved = await removeOrphans(tx, runId);
  });
  const after = await catalog.scalar(`SELECT count(*) FROM samples`);
  stats.added = after - before + stats.orphansRemoved;
  stats.updated = staged - stats.added;
  stats.gone = await catalog.scalar(`SELECT count(*) FROM samples WHERE seen_run < ${runId}`);
  for (const t of ['ingest_samples', 'ingest_files', 'ingest_batch', 'ingest_batch_files']) await catalog.run(`DROP TABLE IF EXISTS ${t}`);
  return stats;
}

/** The run's skipped.jsonl, written as skips happen (a source may pass over millions of files). */
class SkipLog {
  private stream: WriteStream | undefined;
  private failed: Error | undefined;
  constructor(private readonly file: string) {
    // A run that skips nothing leaves no file behind (an old run's list goes).
    rmSync(file, { force: true });
  }
  write(skip: Skip, source: string): void {
    if (!this.stream) {
      this.stream = createWriteStream(this.file);
      this.stream.on('error', (err) => {
        this.failed = err;
      });
    }
    this.stream.write(JSON.stringify({ path: skip.path, source, reason: skip.reason }) + '\n');
  }
  close(): Promise<void> {
    const stream = this.stream;
    if (!stream) return Promise.resolve();
    return new Promise((resolve, reject) => stream.end(() => (this.failed ? reject(asStorageError(this.failed, this.file)) : resolve())));
  }
}

type Tx = Parameters<Parameters<Catalog['transaction']>[0]>[0];

/** Tables keyed by sample id that hold what was found or decided about a sample. */
const PER_SAMPLE_TABLES = ['files', 'issues', 'drops', 'sample_keys', 'derived_files', 'downloads', 'tags', 'decisions'];

async function removeOrphans(tx: Tx, runId: number): Promise<number> {
  const orphans = `SELECT s.id FROM samples s WHERE s.parent_id IS NOT NULL AND s.seen_run < ${runId}
    AND (s.parent_id IN (SELECT parent_id FROM ingest_samples WHERE parent_id IS NOT NULL)
         OR s.parent_id IN (SELECT id FROM ingest_samples))`;
  const [{ n }] = await tx.all<{ n: bigint }>(`SELECT count(*) AS n FROM (${orphans})`);
  if (Number(n) === 0) return 0;
  await tx.run(`CREATE OR REPLACE TEMP TABLE orphan_ids AS ${orphans}`);
  for (const t of PER_SAMPLE_TABLES) await tx.run(`DELETE FROM ${t} WHERE sample_id IN (SELECT id FROM orphan_ids)`);
  await tx.run(`DELETE FROM samples WHERE id IN (SELECT id FROM orphan_ids)`);
  await tx.run(`DROP TABLE orphan_ids`);
  return Number(n);
}

/**
 * `source.where` over a batch of staged records: the record's mapped fields (id, path, split,
 * label, text, group, source, parent_id) and every metadata key as a column of the type its values
 * have (numbers, booleans, text; objects and lists as JSON), so `edit_type IN ('a', 'b')` and
 * `style > 0` read as written.
 */
class WhereFilter {
  private checked = false;
  constructor(
    private readonly catalog: Catalog,
    private readonly condition: string,
    private readonly sourceName: string,
  ) {}

  /** Stage the batch, keep the records matching the condition; returns how many passed. */
  async apply(samples: Row[], files: Row[], metas: Array<Record<string, unknown> | undefined>): Promise<number> {
    const { catalog } = this;
    if (!this.checked) {
      await catalog.run(`CREATE TABLE IF NOT EXISTS ingest_batch (${STAGE_SQL})`);
      await catalog.run(`CREATE TABLE IF NOT EXISTS ingest_batch_files (seq BIGINT, sample_id VARCHAR, role VARCHAR, uri VARCHAR)`);
    }
    if (samples.length === 0 && this.checked) return 0;
    await catalog.append('ingest_batch', STAGE_SAMPLES, samples);
    await catalog.append('ingest_batch_files', STAGE_FILES, files);
    const view = `SELECT b.*, b.source_split AS split, b.group_key AS "group"${metaColumns(metas)} FROM ingest_batch b`;
    try {
      await catalog.run(`INSERT INTO ingest_samples SELECT ${Object.keys(STAGE_SAMPLES).join(', ')}
        FROM (${view}) WHERE coalesce((${this.condition}), false)`);
    } catch (err) {
      throw new InputError(
        { file: this.sourceName, field: 'source.where' },
        `cannot apply ${JSON.stringify(this.condition)}: ${(err as Error).message.split('\n')[0]}`,
      );
    } finally {
      this.checked = true;
    }
    const lo = samples[0]?.seq ?? 0;
    const hi = samples[samples.length - 1]?.seq ?? -1;
    const passed = await catalog.scalar(`SELECT count(*) FROM ingest_samples WHERE seq BETWEEN ${lo} AND ${hi}`);
    await catalog.run(`INSERT INTO ingest_files SELECT * FROM ingest_batch_files
      WHERE seq IN (SELECT seq FROM ingest_samples WHERE seq BETWEEN ${lo} AND ${hi})`);
    await catalog.run(`DELETE FROM ingest_batch`);
    await catalog.run(`DELETE FROM ingest_batch_files`);
    return passed;
  }
}

const BASE_COLUMNS = new Set([...Object.keys(STAGE_SAMPLES), 'split', 'group']);

/** `, CAST(b.meta->>'k' AS DOUBLE) AS "k", ...` for the metadata keys of a batch. */
function metaColumns(metas: Array<Record<string, unknown> | undefined>): string {
  const kinds = new Map<string, Set<string>>();
  for (const m of metas) {
    if (!m) continue;
    for (const [k, v] of Object.entries(m)) {
      if (v === null || v === undefined) continue;
      let set = kinds.get(k);
      if (!set) kinds.set(k, (set = new Set()));
      set.add(typeof v === 'object' ? 'json' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'double') : typeof v);
    }
  }
  let out = '';
  for (const [k, set] of kinds) {
    if (BASE_COLUMNS.has(k)) continue;
    const path = `'$.' || ${sqlString(JSON.stringify(k))}`;
    const kind = set.size === 1 ? [...set][0] : set.has('json') || set.has('string') ? 'mixed' : 'double';
    const text = `json_extract_string(b.meta, ${path})`;
    const expr =
      kind === 'int' ? `TRY_CAST(${text} AS BIGINT)`
      : kind === 'double' ? `TRY_CAST(${text} AS DOUBLE)`
      : kind === 'boolean' ? `TRY_CAST(${text} AS BOOLEAN)`
      : kind === 'json' ? `json_extract(b.meta, ${path})`
      : text;
    out += `, ${expr} AS "${k.replace(/"/g, '""')}"`;
  }
  return out;
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function stageRow(seq: number, rec: SourceRecord, sourceName: string): Row {
  return {
    seq, id: rec.id, source: sourceName, source_ref: rec.ref, path: rec.path ?? null,
    source_split: rec.split ?? null, label: rec.label ?? null, text: rec.text ?? null,
    group_key: rec.group ?? null, meta: rec.meta && Object.keys(rec.meta).length ? rec.meta : null,
    parent_id: rec.parent ?? null,
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
