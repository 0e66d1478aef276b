import type { Catalog, Row } from '../catalog/catalog.js';
import { COLUMNS } from '../catalog/catalog.js';
import type { Json, MapStep, StepContext } from '../steps/types.js';
import { join } from 'node:path';
import { MAIN_ROLE } from '../catalog/roles.js';
import { sha256Hex, stableStringify } from '../util/hash.js';
import { ASSETS_DIR } from './assets.js';
import { statUri } from '../util/uri.js';
import { errorMessage } from '../errors.js';
import type { WorkerPool } from './pool.js';
import { SKIPPED_PREFIX, type SampleTask, type SampleTaskResult, type StoredFile, type TaskFile, type TaskStep } from './task.js';
import { pixelLimit } from '../image/open.js';
import { appendSkipped } from './skipped.js';

/** A per-sample step of the recipe, ready to run: its module, parameters and cache key. */
export interface PlannedMapStep {
  step: MapStep<unknown>;
  params: unknown;
  paramsHash: string;
  /** Catalog roles it reads, in order (default `['image']`). */
  roles?: string[];
  /** Sample fields its result depends on (`fields(params)`). */
  fields?: string[];
  /** The roles by the names the step's parameters use, where an alias differs from the catalog name. */
  roleNames?: string[];
}

export interface MapPhaseStats {
  samples: number;
  /** Samples for which at least one step ran (the rest came entirely from the cache). */
  computed: number;
  cached: number;
  unreadable: number;
  /** Failed outcomes per step. */
  failed: Record<string, number>;
  /** Samples each step passed over, by reason (`decompression_bomb`), this run's and cached ones alike. */
  skipped: Record<string, Record<string, number>>;
}

export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
    this.name = 'InterruptedError';
  }
}

const PAGE = 2000;
const FLUSH_RESULTS = 500;
const FLUSH_MS = 2000;
const STAT_CONCURRENCY = 32;

/** Roles a planned step reads. */
export function stepRoles(p: PlannedMapStep): string[] {
  return p.roles?.length ? p.roles : [MAIN_ROLE];
}

/**
 * Whether a step's cache key is just the sha256 of the one file it reads. Other steps (two roles,
 * or sample fields) are keyed by a hash of all their inputs, recorded per sample in `sample_keys`.
 */
export function keyedByFile(p: PlannedMapStep): boolean {
  return stepRoles(p).length === 1 && !p.fields?.length;
}

/** The cache key of a step for one sample, from the content hashes of its roles and its fields. */
export function inputKey(p: PlannedMapStep, shas: Record<string, string | undefined>, fields: Record<string, Json>): string | undefined {
  const roles = stepRoles(p);
  const hashes = roles.map((r) => shas[r]);
  if (hashes.some((h) => h === undefined)) return undefined;
  if (keyedByFile(p)) return hashes[0];
  const own: Record<string, Json> = {};
  for (const f of p.fields ?? []) own[f] = fields[f] ?? null;
  return sha256Hex(stableStringify({ roles: Object.fromEntries(roles.map((r, i) => [r, hashes[i]])), fields: own }));
}

/** One active sample of a page, with the files of the roles the pass reads. */
interface PageRow {
  id: string;
  ord: bigint;
  path: string | null;
  fields: Record<string, Json>;
  files: Record<string, { uri: string; fpSize: bigint | null; fpMtime: number | null; fpSha: string | null }>;
}

/**
 * Run consecutive per-sample steps over the run's active samples in one pass: each file a step
 * reads is read once and every step that is not already cached for its inputs runs, in a worker.
 * Results are written in batches, each in one transaction, so a crash loses at most the batch in
 * flight, and a rerun resumes from the cache. Finally the steps' issues and derived files are
 * registered for the run.
 */
export async function runMapPhase(
  ctx: StepContext,
  steps: PlannedMapStep[],
  pool: WorkerPool,
): Promise<MapPhaseStats> {
  const { catalog, reporter, signal } = ctx;
  const passRoles = [...new Set(steps.flatMap(stepRoles))];
  const passFields = [...new Set(steps.flatMap((s) => s.fields ?? []))];
  const total = await catalog.scalar(`SELECT count(*) FROM active`);
  const label = steps.map((s) => s.step.name).join('+');
  const progress = reporter.progress(label, total);
  const stats: MapPhaseStats = { samples: 0, computed: 0, cached: 0, unreadable: 0, failed: {}, skipped: {} };
  const writer = new ResultWriter(catalog, ctx.runId);
  const inflight = new Set<Promise<void>>();
  /** The first failure of a group's results (a catalog write, say): it ends the phase. */
  const state: { failure?: { error: unknown } } = {};
  const throwIfFailed = (): void => {
    if (state.failure) throw state.failure.error;
  };
  const assetsDir = join(ctx.workdir, ASSETS_DIR);
  const allTaskSteps: TaskStep[] = steps.map((s) => ({ name: s.step.name, params: s.params, paramsHash: s.paramsHash, roles: stepRoles(s), roleNames: s.roleNames }));
  const planned = new Map(steps.map((s) => [s.step.name, s]));
  // Samples go to the workers in groups as large as the largest batch a step takes (an encoder's
  // batch), each group needing the same steps; 1 (no grouping) when no step batches.
  const groupSize = Math.max(1, ...steps.map((s) => (s.step.runBatch ? s.step.batchSize?.(s.params) ?? 1 : 1)));
  type Stat = { size: number; mtimeMs: number } | { error: string };
  const groups = new Map<string, { tasks: SampleTask[]; rows: PageRow[]; stats: Array<Record<string, Stat>> }>();
  const submit = async (key: string) => {
    const g = groups.get(key);
    if (!g) return;
    groups.delete(key);
    await pool.waitForRoom();
    throwIfFailed();
    if (signal?.aborted) throw new InterruptedError();
    const p = pool.runGroup(g.tasks).then(async (results) => {
      results.forEach((result, i) => {
        const failedCount = record(writer, result, g.rows[i], g.stats[i], planned, stats);
        progress.tick(1, failedCount > 0 ? 1 : 0);
      });
      await writer.maybeFlush();
    });
    inflight.add(p);
    // Handled here, so a failed write is reported by the run rather than crashing Node.
    p.then(
      () => inflight.delete(p),
      (error: unknown) => {
        inflight.delete(p);
        state.failure ??= { error };
      },
    );
  };

  const fieldCols = passFields.length ? ', a.label, a.text, a.split, a.group_key, a.source, a.parent_id, a.meta::VARCHAR AS meta' : '';
  const roleJoins = passRoles
    .map((r, i) => `LEFT JOIN files f${i} ON f${i}.sample_id = a.id AND f${i}.role = ${sqlString(r)}
      LEFT JOIN fingerprints fp${i} ON fp${i}.uri = f${i}.uri`)
    .join('\n');
  const roleCols = passRoles.map((_r, i) => `, f${i}.uri AS uri${i}, fp${i}.size AS size${i}, fp${i}.mtime_ms AS mtime${i}, fp${i}.sha256 AS sha${i}`).join('');

  let lastOrd: bigint = -1n;
  try {
    for (;;) {
      if (signal?.aborted) throw new InterruptedError();
      throwIfFailed();
      const raw = await catalog.all<Record<string, unknown>>(
        `SELECT a.id, a.ord, a.path${fieldCols}${roleCols}
         FROM active a ${roleJoins}
         WHERE a.ord > ${lastOrd} ORDER BY a.ord LIMIT ${PAGE}`,
      );
      if (raw.length === 0) break;
      lastOrd = raw[raw.length - 1].ord as bigint;
      const page: PageRow[] = raw.map((r) => {
        const files: PageRow['files'] = {};
        passRoles.forEach((role, i) => {
          if (r[`uri${i}`] != null) {
            files[role] = {
              uri: r[`uri${i}`] as string, fpSize: (r[`size${i}`] as bigint | null) ?? null,
              fpMtime: (r[`mtime${i}`] as number | null) ?? null, fpSha: (r[`sha${i}`] as string | null) ?? null,
            };
          }
        });
        return { id: r.id as string, ord: r.ord as bigint, path: (r.path as string | null) ?? null, files, fields: passFields.length ? sampleFields(r, passFields) : {} };
      });

      // Which contents are unchanged since they were hashed (same size and mtime)?
      const flat = page.flatMap((r) => Object.entries(r.files).map(([role, f]) => ({ row: r, role, f })));
      const statted = await mapLimit(flat, STAT_CONCURRENCY, async ({ f }): Promise<Stat> => {
        try {
          return await statUri(f.uri);
        } catch (err) {
          return { error: errorMessage(err) };
        }
      });
      const rowStats = new Map<string, Record<string, Stat>>();
      const known = new Map<string, Record<string, string>>();
      flat.forEach(({ row, role, f }, i) => {
        const st = statted[i];
        let m = rowStats.get(row.id);
        if (!m) rowStats.set(row.id, (m = {}));
        m[role] = st;
        if ('size' in st && f.fpSha && Number(f.fpSize) === st.size && f.fpMtime === st.mtimeMs) {
          let k = known.get(row.id);
          if (!k) known.set(row.id, (k = {}));
          k[role] = f.fpSha;
        }
      });
      // Each step's key per sample, where its inputs' hashes are known.
      const keys = new Map<string, Record<string, string | undefined>>();
      for (const r of page) {
        const shas = known.get(r.id) ?? {};
        keys.set(r.id, Object.fromEntries(steps.map((p) => [p.step.name, inputKey(p, shas, r.fields)])));
      }
      const done = await cachedKeys(catalog, page.flatMap((r) => Object.values(keys.get(r.id)!).filter((k): k is string => !!k)), steps);

      for (const r of page) {
        stats.samples++;
        const st = rowStats.get(r.id) ?? {};
        const mainStat = st[MAIN_ROLE];
        if (mainStat && 'error' in mainStat && passRoles.length === 1) {
          stats.unreadable++;
          writer.fileStatus(r.files[MAIN_ROLE].uri, null, mainStat.error);
          progress.tick(1, 1);
          continue;
        }
        const k = keys.get(r.id)!;
        const needed = neededSteps(allTaskSteps, steps, k, done);
        if (needed.length === 0) {
          stats.cached++;
          const shas = known.get(r.id)!;
          for (const [role, f] of Object.entries(r.files)) writer.fileStatus(f.uri, shas[role] ?? null, null);
          for (const p of steps) if (!keyedByFile(p)) writer.sampleKey(r.id, p.step.name, p.paramsHash, k[p.step.name]!);
          progress.tick(1);
          continue;
        }
        stats.computed++;
        const shas = known.get(r.id) ?? {};
        const files: Record<string, TaskFile> = {};
        for (const [role, f] of Object.entries(r.files)) files[role] = { uri: f.uri, name: role === MAIN_ROLE ? r.path ?? '' : '', sha256: shas[role] };
        const main = files[MAIN_ROLE];
        const task: SampleTask = {
          sampleId: r.id, uri: main?.uri ?? '', name: main?.name ?? '', sha256: main?.sha256, files,
          fields: r.fields, steps: needed, upstream: {}, assetsDir, maxPixels: pixelLimit(),
        };
        const key = needed.map((s) => s.name).join('+');
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { tasks: [], rows: [], stats: [] }));
        g.tasks.push(task);
        g.rows.push(r);
        g.stats.push(st);
        if (g.tasks.length >= groupSize) await submit(key);
      }
    }
    for (const key of [...groups.keys()]) await submit(key);
    await Promise.allSettled([...inflight]);
    throwIfFailed();
  } finally {
    await Promise.allSettled([...inflight]);
    // After a failure, flush what it can but report the first error, not a second one.
    if (state.failure) await writer.flush().catch(() => undefined);
    else await writer.flush();
  }
  throwIfFailed();
  progress.finish({ cached: stats.cached, computed: stats.computed });
  await deriveIssues(catalog, ctx.runId, steps, writer.transientFailures);
  await registerDerivedFiles(catalog, ctx.runId, steps, assetsDir);
  stats.skipped = await listSkipped(ctx, steps);
  return stats;
}

/** The declared fields of a sample row: catalog columns by name, anything else a dotted path into meta. */
function sampleFields(r: Record<string, unknown>, names: string[]): Record<string, Json> {
  let meta: Record<string, unknown> | undefined;
  const out: Record<string, Json> = {};
  for (const name of names) {
    const column = name === 'group' ? 'group_key' : name;
    if (['label', 'text', 'split', 'group_key', 'source', 'parent_id', 'path', 'id'].includes(column)) {
      out[name] = (r[column] as Json) ?? null;
      continue;
    }
    meta ??= r.meta ? (JSON.parse(r.meta as string) as Record<string, unknown>) : {};
    out[name] = (dotted(meta, name.replace(/^meta\./, '')) as Json) ?? null;
  }
  return out;
}

/** `a.b[2].c` inside a value; undefined when any part is missing. */
export function dotted(value: unknown, path: string): unknown {
  let v = value;
  for (const part of path.match(/[^.[\]]+/g) ?? []) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Steps still to run for a sample: those not cached, plus (to feed them) the steps they use. */
function neededSteps(all: TaskStep[], planned: PlannedMapStep[], keys: Record<string, string | undefined>, done: Set<string>): TaskStep[] {
  const need = new Set(all.filter((s) => {
    const k = keys[s.name];
    return !k || !done.has(`${k}|${s.name}|${s.paramsHash}`);
  }).map((s) => s.name));
  for (const p of planned) if (need.has(p.step.name)) for (const u of p.step.uses ?? []) need.add(u);
  return all.filter((s) => need.has(s.name));
}

async function cachedKeys(catalog: Catalog, keys: string[], steps: PlannedMapStep[]): Promise<Set<string>> {
  const done = new Set<string>();
  const list = [...new Set(keys)].filter((s) => /^[0-9a-f]{64}$/.test(s));
  if (list.length === 0) return done;
  const stepCond = steps.map((s) => `(step = '${s.step.name}' AND params_hash = '${s.paramsHash}')`).join(' OR ');
  const rows = await catalog.all<{ content_hash: string; step: string; params_hash: string }>(
    `SELECT content_hash, step, params_hash FROM step_results WHERE content_hash IN (${list.map((k) => `'${k}'`).join(',')}) AND (${stepCond})`,
  );
  for (const r of rows) done.add(`${r.content_hash}|${r.step}|${r.params_hash}`);
  return done;
}

function record(
  writer: ResultWriter,
  result: SampleTaskResult,
  row: PageRow,
  st: Record<string, { size: number; mtimeMs: number } | { error: string }>,
  planned: Map<string, PlannedMapStep>,
  stats: MapPhaseStats,
): number {
  const shas: Record<string, string | undefined> = {};
  for (const [role, read] of Object.entries(result.roles ?? {})) {
    const f = row.files[role];
    if (!f) continue;
    const s = st[role];
    if (read.error !== undefined || !read.sha256) {
      writer.fileStatus(f.uri, null, read.error ?? 'unreadable');
      continue;
    }
    shas[role] = read.sha256;
    if (s && 'size' in s) writer.fingerprint(f.uri, s.size, s.mtimeMs, read.sha256);
    writer.fileStatus(f.uri, read.sha256, null);
  }
  if (result.fileError !== undefined) {
    stats.unreadable++;
    if (result.outcomes.length === 0) return 1;
  }
  let failed = 0;
  for (const o of result.outcomes) {
    if (!o.ok && !o.skipped) {
      failed++;
      stats.failed[o.step] = (stats.failed[o.step] ?? 0) + 1;
    }
    const p = planned.get(o.step)!;
    // Roles made by an earlier step of this pass are keyed by what that step stored.
    for (const other of result.outcomes) for (const f of other.files ?? []) shas[f.role] ??= f.sha256;
    const key = inputKey(p, shas, row.fields);
    if (o.transient || !key) {
      writer.transientFailures.push({ sampleId: result.sampleId, step: o.step, error: o.error ?? 'inputs unreadable' });
      continue;
    }
    writer.stepResult(key, o.step, o.paramsHash, o.ok, o.result, o.issues, o.error, o.elapsedMs, o.files);
    if (!keyedByFile(p)) writer.sampleKey(result.sampleId, o.step, o.paramsHash, key);
  }
  return failed;
}

/**
 * Buffers results and writes them in one transaction per batch. Keys are de-duplicated within a
 * batch (two samples can share a content or a file), and upserted into the tables.
 */
class ResultWriter {
  private fps = new Map<string, Row>();
  private statuses = new Map<string, Row>();
  private results = new Map<string, Row>();
  private keys = new Map<string, Row>();
  private lastFlush = Date.now();
  private flushing: Promise<void> = Promise.resolve();
  readonly transientFailures: Array<{ sampleId: string; step: string; error: string }> = [];

  constructor(
    private readonly catalog: Catalog,
    private readonly runId: number,
  ) {}

  fingerprint(uri: string, size: number, mtimeMs: number, sha256: string): void {
    this.fps.set(uri, { uri, size, mtime_ms: mtimeMs, sha256 });
  }
  fileStatus(uri: string, sha256: string | null, error: string | null): void {
    this.statuses.set(uri, { uri, sha256, error, run_id: this.runId });
  }
  stepResult(sha: string, step: string, ph: string, ok: boolean, result: unknown, issues: unknown, error: string | undefined, ms: number, files?: StoredFile[]): void {
    this.results.set(`${sha}|${step}|${ph}`, {
      content_hash: sha, step, params_hash: ph, ok, result: result ?? null, issues: issues ?? [],
      error: error ?? null, elapsed_ms: ms, run_id: this.runId, files: files?.length ? files : null,
    });
  }
  sampleKey(sampleId: string, step: string, ph: string, key: string): void {
    this.keys.set(`${sampleId}|${step}|${ph}`, { sample_id: sampleId, step, params_hash: ph, key, run_id: this.runId });
  }

  async maybeFlush(): Promise<void> {
    const size = this.fps.size + this.statuses.size + this.results.size + this.keys.size;
    if (size >= FLUSH_RESULTS || Date.now() - this.lastFlush >= FLUSH_MS) await this.flush();
  }

  /** Write everything buffered; flushes are serialised so batches land in order. */
  flush(): Promise<void> {
    const fps = [...this.fps.values()];
    const statuses = [...this.statuses.values()];
    const results = [...this.results.values()];
    const keys = [...this.keys.values()];
    this.fps.clear();
    this.statuses.clear();
    this.results.clear();
    this.keys.clear();
    this.lastFlush = Date.now();
    if (fps.length + statuses.length + results.length + keys.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.catalog.transaction(async (tx) => {
        await upsert(tx, 'fingerprints', fps);
        await upsert(tx, 'file_status', statuses);
        await upsert(tx, 'step_results', results);
        await upsert(tx, 'sample_keys', keys);
      }),
    );
    return this.flushing;
  }
}

type Tx = Parameters<Parameters<Catalog['transaction']>[0]>[0];

async function upsert(tx: Tx, table: 'fingerprints' | 'file_status' | 'step_results' | 'sample_keys', rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const stage = `stage_${table}`;
  await tx.run(`CREATE TEMP TABLE IF NOT EXISTS ${stage} AS SELECT * FROM ${table} LIMIT 0`);
  await tx.append(stage, COLUMNS[table], rows);
  await tx.run(`INSERT OR REPLACE INTO ${table} SELECT * FROM ${stage}`);
  await tx.run(`DELETE FROM ${stage}`);
}

/**
 * Each active sample's cache key for a step, as SQL (sample_id, key): the sha256 of the file it
 * reads as last read, or the recorded key of a step with several inputs.
 */
export function sampleKeySql(p: PlannedMapStep): string {
  if (keyedByFile(p)) {
    return `SELECT a.id AS sample_id, fs.sha256 AS key FROM active a
      JOIN files f ON f.sample_id = a.id AND f.role = ${sqlString(stepRoles(p)[0])}
      JOIN file_status fs ON fs.uri = f.uri WHERE fs.sha256 IS NOT NULL`;
  }
  return `SELECT a.id AS sample_id, k.key FROM active a
    JOIN sample_keys k ON k.sample_id = a.id AND k.step = ${sqlString(p.step.name)} AND k.params_hash = ${sqlString(p.paramsHash)}`;
}

/** Each active sample's result of a step, as SQL (sample_id, and the step_results row as sr). */
function resultsSql(p: PlannedMapStep): string {
  return `(${sampleKeySql(p)}) k JOIN step_results sr ON sr.content_hash = k.key
    AND sr.step = ${sqlString(p.step.name)} AND sr.params_hash = ${sqlString(p.paramsHash)}`;
}

/**
 * Rebuild the run's issues of these steps from the cached results: the steps' own issues, a
 * \`failed\` issue where a step could not process a sample, and \`unreadable\` where a file could
 * not be read. Issues imported from elsewhere (source ≠ 'imgsift') are left alone.
 */
async function deriveIssues(
  catalog: Catalog,
  runId: number,
  steps: PlannedMapStep[],
  transient: Array<{ sampleId: string; step: string; error: string }>,
): Promise<void> {
  const names = steps.map((s) => sqlString(s.step.name)).join(',');
  const roles = [...new Set(steps.flatMap(stepRoles))].map(sqlString).join(',');
  await catalog.transaction(async (tx) => {
    await tx.run(`DELETE FROM issues WHERE source = 'imgsift' AND step IN (${names}, 'read')`);
    for (const p of steps) {
      await tx.run(`INSERT INTO issues
        SELECT k.sample_id, i.type, i.score, i.flagged, i.evidence, sr.step, 'imgsift', ${runId}
        FROM ${resultsSql(p)}, unnest(from_json(sr.issues, '[{"type":"VARCHAR","score":"DOUBLE","flagged":"BOOLEAN","evidence":"JSON"}]')) AS t(i)
        WHERE sr.ok`);
      await tx.run(`INSERT INTO issues
        SELECT k.sample_id, 'failed', 1.0, true, json_object('step', sr.step, 'error', sr.error), sr.step, 'imgsift', ${runId}
        FROM ${resultsSql(p)} WHERE NOT sr.ok AND NOT starts_with(sr.error, ${sqlString(SKIPPED_PREFIX)})`);
      // A step that passed a sample over (an image over the pixel limit) says so and why.
      await tx.run(`INSERT INTO issues
        SELECT k.sample_id, 'skipped', 1.0, true,
          json_object('step', sr.step, 'reason', split_part(sr.error, ': ', 2), 'error', sr.error), sr.step, 'imgsift', ${runId}
        FROM ${resultsSql(p)} WHERE NOT sr.ok AND starts_with(sr.error, ${sqlString(SKIPPED_PREFIX)})`);
    }
    await tx.run(`INSERT INTO issues
      SELECT DISTINCT ON (a.id, f.uri) a.id, 'unreadable', 1.0, true, json_object('error', fs.error, 'uri', f.uri, 'role', f.role), 'read', 'imgsift', ${runId}
      FROM active a JOIN files f ON f.sample_id = a.id AND f.role IN (${roles})
      JOIN file_status fs ON fs.uri = f.uri WHERE fs.error IS NOT NULL`);
    if (transient.length) {
      await tx.append('issues', COLUMNS.issues, transient.map((t) => ({
        sample_id: t.sampleId, type: 'failed', score: 1, flagged: true, evidence: { step: t.step, error: t.error },
        step: t.step, source: 'imgsift', run_id: runId,
      })));
    }
  });
}

/**
 * The samples these steps passed over in this run (their own or cached results), counted per step
 * and reason, and appended to the run's skipped.jsonl, so nothing is skipped in silence.
 */
async function listSkipped(ctx: StepContext, steps: PlannedMapStep[]): Promise<Record<string, Record<string, number>>> {
  const names = steps.map((s) => sqlString(s.step.name)).join(',');
  const rows = await ctx.catalog.all<{ sample_id: string; step: string; reason: string; error: string; uri: string | null }>(
    `SELECT i.sample_id, i.step, json_extract_string(i.evidence, '$.reason') AS reason, json_extract_string(i.evidence, '$.error') AS error,
       (SELECT f.uri FROM files f WHERE f.sample_id = i.sample_id AND f.role = ${sqlString(MAIN_ROLE)}) AS uri
     FROM issues i WHERE i.type = 'skipped' AND i.source = 'imgsift' AND i.step IN (${names}) ORDER BY i.step, i.sample_id`,
  );
  const counts: Record<string, Record<string, number>> = {};
  for (const r of rows) {
    const per = (counts[r.step] ??= {});
    per[r.reason] = (per[r.reason] ?? 0) + 1;
  }
  await appendSkipped(ctx.workdir, rows.map((r) => ({
    path: r.uri ?? r.sample_id, source: `step ${r.step}`, reason: r.reason, sample_id: r.sample_id,
    detail: r.error.slice(SKIPPED_PREFIX.length + r.reason.length + 2),
  })));
  return counts;
}

/**
 * Point each active sample's derived roles at the files its steps made (from this run's or a
 * cached result), with their lineage. Ingest cleared the sample's files to the source's own, so a
 * role a step no longer makes is gone.
 */
async function registerDerivedFiles(catalog: Catalog, runId: number, steps: PlannedMapStep[], assetsDir: string): Promise<void> {
  const base = sqlString(assetsDir.endsWith('/') ? assetsDir : `${assetsDir}/`);
  await catalog.transaction(async (tx) => {
    for (const p of steps) {
      const made = `SELECT k.sample_id, d.role, d.sha256, ${base} || substr(d.sha256, 1, 2) || '/' || d.sha256 || '.' || d.ext AS uri, k.key
        FROM ${resultsSql(p)}, unnest(from_json(sr.files, '[{"role":"VARCHAR","sha256":"VARCHAR","ext":"VARCHAR"}]')) AS t(d)
        WHERE sr.ok AND sr.files IS NOT NULL`;
      await tx.run(`CREATE OR REPLACE TEMP TABLE made_files AS ${made}`);
      await tx.run(`DELETE FROM files WHERE EXISTS (SELECT 1 FROM made_files m WHERE m.sample_id = files.sample_id AND m.role = files.role)`);
      await tx.run(`INSERT INTO files SELECT sample_id, role, uri FROM made_files`);
      await tx.run(`INSERT OR REPLACE INTO derived_files
        SELECT sample_id, role, sha256, uri, ${sqlString(p.step.name)}, ${sqlString(p.paramsHash)}, key, ${runId} FROM made_files`);
    }
    await tx.run(`DROP TABLE IF EXISTS made_files`);
  });
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** Map with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}
