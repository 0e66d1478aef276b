import type { Catalog, Row } from '../catalog/catalog.js';
import { COLUMNS } from '../catalog/catalog.js';
import type { MapStep, StepContext } from '../steps/types.js';
import { statUri } from '../util/uri.js';
import { errorMessage } from '../errors.js';
import type { WorkerPool } from './pool.js';
import type { SampleTask, SampleTaskResult, TaskStep } from './task.js';

/** A per-sample step of the recipe, ready to run: its module, parameters and cache key. */
export interface PlannedMapStep {
  step: MapStep<unknown>;
  params: unknown;
  paramsHash: string;
}

export interface MapPhaseStats {
  samples: number;
  /** Samples for which at least one step ran (the rest came entirely from the cache). */
  computed: number;
  cached: number;
  unreadable: number;
  /** Failed outcomes per step. */
  failed: Record<string, number>;
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

/**
 * Run consecutive per-sample steps over the run's active samples in one pass: each sample's file
 * is read once and every step that is not already cached for its content runs on it, in a worker.
 * Results are written in batches, each in one transaction, so a crash loses at most the batch in
 * flight, and a rerun resumes from the cache. Finally the steps' issues are derived for the run.
 */
export async function runMapPhase(
  ctx: StepContext,
  steps: PlannedMapStep[],
  pool: WorkerPool,
): Promise<MapPhaseStats> {
  const { catalog, reporter, signal } = ctx;
  const total = await catalog.scalar(
    `SELECT count(*) FROM active a JOIN files f ON f.sample_id = a.id AND f.role = 'image'`,
  );
  const label = steps.map((s) => s.step.name).join('+');
  const progress = reporter.progress(label, total);
  const stats: MapPhaseStats = { samples: 0, computed: 0, cached: 0, unreadable: 0, failed: {} };
  const writer = new ResultWriter(catalog, ctx.runId);
  const inflight = new Set<Promise<void>>();
  /** The first failure of a group's results (a catalog write, say): it ends the phase. */
  let failure: { error: unknown } | undefined;
  const allTaskSteps: TaskStep[] = steps.map((s) => ({ name: s.step.name, params: s.params, paramsHash: s.paramsHash }));
  // Samples go to the workers in groups as large as the largest batch a step takes (an encoder's
  // batch), each group needing the same steps; 1 (no grouping) when no step batches.
  const groupSize = Math.max(1, ...steps.map((s) => (s.step.runBatch ? s.step.batchSize?.(s.params) ?? 1 : 1)));
  const groups = new Map<string, { tasks: SampleTask[]; stats: Array<{ size: number; mtimeMs: number }> }>();
  const submit = async (key: string) => {
    const g = groups.get(key);
    if (!g) return;
    groups.delete(key);
    await pool.waitForRoom();
    if (failure) throw failure.error;
    if (signal?.aborted) throw new InterruptedError();
    const p = pool.runGroup(g.tasks).then(async (results) => {
      results.forEach((result, i) => {
        const failedCount = record(writer, result, g.stats[i], stats);
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
        failure ??= { error };
      },
    );
  };

  let lastOrd: bigint = -1n;
  try {
    for (;;) {
      if (signal?.aborted) throw new InterruptedError();
      const page = await catalog.all<{
        id: string; ord: bigint; path: string | null; uri: string;
        fp_size: bigint | null; fp_mtime: number | null; fp_sha: string | null;
      }>(
        `SELECT a.id, a.ord, a.path, f.uri, fp.size AS fp_size, fp.mtime_ms AS fp_mtime, fp.sha256 AS fp_sha
         FROM active a JOIN files f ON f.sample_id = a.id AND f.role = 'image'
         LEFT JOIN fingerprints fp ON fp.uri = f.uri
         WHERE a.ord > ${lastOrd} ORDER BY a.ord LIMIT ${PAGE}`,
      );
      if (page.length === 0) break;
      lastOrd = page[page.length - 1].ord;

      // Which contents are unchanged since they were hashed (same size and mtime)?
      const stats_ = await mapLimit(page, STAT_CONCURRENCY, async (r) => {
        try {
          return await statUri(r.uri);
        } catch (err) {
          return { error: errorMessage(err) };
        }
      });
      const known = new Map<string, string>();
      page.forEach((r, i) => {
        const st = stats_[i];
        if ('size' in st && r.fp_sha && Number(r.fp_size) === st.size && r.fp_mtime === st.mtimeMs) known.set(r.id, r.fp_sha);
      });
      const done = await cachedKeys(catalog, [...new Set(known.values())], steps);

      for (let i = 0; i < page.length; i++) {
        const r = page[i];
        const st = stats_[i];
        stats.samples++;
        if ('error' in st) {
          stats.unreadable++;
          writer.fileStatus(r.uri, null, st.error);
          progress.tick(1, 1);
          continue;
        }
        const sha = known.get(r.id);
        const needed = sha ? neededSteps(allTaskSteps, steps, sha, done) : allTaskSteps;
        if (needed.length === 0) {
          stats.cached++;
          writer.fileStatus(r.uri, sha!, null);
          progress.tick(1);
          continue;
        }
        stats.computed++;
        const task: SampleTask = { sampleId: r.id, uri: r.uri, name: r.path ?? '', sha256: sha, steps: needed, upstream: {} };
        const key = needed.map((s) => s.name).join('+');
        let g = groups.get(key);
        if (!g) groups.set(key, (g = { tasks: [], stats: [] }));
        g.tasks.push(task);
        g.stats.push(st);
        if (g.tasks.length >= groupSize) await submit(key);
      }
    }
    for (const key of [...groups.keys()]) await submit(key);
    await Promise.allSettled([...inflight]);
    if (failure) throw failure.error;
  } finally {
    await Promise.allSettled([...inflight]);
    // After a failure, flush what it can but report the first error, not a second one.
    if (failure) await writer.flush().catch(() => undefined);
    else await writer.flush();
  }
  progress.finish({ cached: stats.cached, computed: stats.computed });
  await deriveIssues(catalog, ctx.runId, steps, writer.transientFailures);
  return stats;
}

/** Steps still to run for a content: those not cached, plus (to feed them) the steps they use. */
function neededSteps(all: TaskStep[], planned: PlannedMapStep[], sha: string, done: Set<string>): TaskStep[] {
  const need = new Set(all.filter((s) => !done.has(`${sha}|${s.name}|${s.paramsHash}`)).map((s) => s.name));
  for (const p of planned) if (need.has(p.step.name)) for (const u of p.step.uses ?? []) need.add(u);
  return all.filter((s) => need.has(s.name));
}

async function cachedKeys(catalog: Catalog, shas: string[], steps: PlannedMapStep[]): Promise<Set<string>> {
  const done = new Set<string>();
  if (shas.length === 0) return done;
  const shaList = shas.filter((s) => /^[0-9a-f]{64}$/.test(s)).map((s) => `'${s}'`).join(',');
  const stepCond = steps.map((s) => `(step = '${s.step.name}' AND params_hash = '${s.paramsHash}')`).join(' OR ');
  const rows = await catalog.all<{ content_hash: string; step: string; params_hash: string }>(
    `SELECT content_hash, step, params_hash FROM step_results WHERE content_hash IN (${shaList}) AND (${stepCond})`,
  );
  for (const r of rows) done.add(`${r.content_hash}|${r.step}|${r.params_hash}`);
  return done;
}

function record(
  writer: ResultWriter,
  result: SampleTaskResult,
  st: { size: number; mtimeMs: number },
  stats: MapPhaseStats,
): number {
  if (result.fileError) {
    stats.unreadable++;
    writer.fileStatus(result.uri, null, result.fileError);
    return 1;
  }
  const sha = result.sha256!;
  writer.fingerprint(result.uri, st.size, st.mtimeMs, sha);
  writer.fileStatus(result.uri, sha, null);
  let failed = 0;
  for (const o of result.outcomes) {
    if (!o.ok) {
      failed++;
      stats.failed[o.step] = (stats.failed[o.step] ?? 0) + 1;
    }
    if (o.transient) writer.transientFailures.push({ sampleId: result.sampleId, step: o.step, error: o.error ?? '' });
    else writer.stepResult(sha, o.step, o.paramsHash, o.ok, o.result, o.issues, o.error, o.elapsedMs);
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
  stepResult(sha: string, step: string, ph: string, ok: boolean, result: unknown, issues: unknown, error: string | undefined, ms: number): void {
    this.results.set(`${sha}|${step}|${ph}`, {
      content_hash: sha, step, params_hash: ph, ok, result: result ?? null, issues: issues ?? [],
      error: error ?? null, elapsed_ms: ms, run_id: this.runId,
    });
  }

  async maybeFlush(): Promise<void> {
    const size = this.fps.size + this.statuses.size + this.results.size;
    if (size >= FLUSH_RESULTS || Date.now() - this.lastFlush >= FLUSH_MS) await this.flush();
  }

  /** Write everything buffered; flushes are serialised so batches land in order. */
  flush(): Promise<void> {
    const fps = [...this.fps.values()];
    const statuses = [...this.statuses.values()];
    const results = [...this.results.values()];
    this.fps.clear();
    this.statuses.clear();
    this.results.clear();
    this.lastFlush = Date.now();
    if (fps.length + statuses.length + results.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.catalog.transaction(async (tx) => {
        await upsert(tx, 'fingerprints', fps);
        await upsert(tx, 'file_status', statuses);
        await upsert(tx, 'step_results', results);
      }),
    );
    return this.flushing;
  }
}

type Tx = Parameters<Parameters<Catalog['transaction']>[0]>[0];

async function upsert(tx: Tx, table: 'fingerprints' | 'file_status' | 'step_results', rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const stage = `stage_${table}`;
  await tx.run(`CREATE TEMP TABLE IF NOT EXISTS ${stage} AS SELECT * FROM ${table} LIMIT 0`);
  await tx.append(stage, COLUMNS[table], rows);
  await tx.run(`INSERT OR REPLACE INTO ${table} SELECT * FROM ${stage}`);
  await tx.run(`DELETE FROM ${stage}`);
}

/**
 * Rebuild the run's issues of these steps from the cached results: the steps' own issues, a
 * `failed` issue where a step could not process a sample, and `unreadable` where the file could
 * not be read. Issues imported from elsewhere (source ≠ 'imgsift') are left alone.
 */
async function deriveIssues(
  catalog: Catalog,
  runId: number,
  steps: PlannedMapStep[],
  transient: Array<{ sampleId: string; step: string; error: string }>,
): Promise<void> {
  const names = steps.map((s) => `'${s.step.name}'`).join(',');
  const joins = steps
    .map((s) => `(sr.step = '${s.step.name}' AND sr.params_hash = '${s.paramsHash}')`)
    .join(' OR ');
  const base = `FROM active a
    JOIN files f ON f.sample_id = a.id AND f.role = 'image'
    JOIN file_status fs ON fs.uri = f.uri
    JOIN step_results sr ON sr.content_hash = fs.sha256 AND (${joins})`;
  await catalog.transaction(async (tx) => {
    await tx.run(`DELETE FROM issues WHERE source = 'imgsift' AND step IN (${names}, 'read')`);
    await tx.run(`INSERT INTO issues
      SELECT a.id, i.type, i.score, i.flagged, i.evidence, sr.step, 'imgsift', ${runId}
      ${base}, unnest(from_json(sr.issues, '[{"type":"VARCHAR","score":"DOUBLE","flagged":"BOOLEAN","evidence":"JSON"}]')) AS t(i)
      WHERE sr.ok`);
    await tx.run(`INSERT INTO issues
      SELECT a.id, 'failed', 1.0, true, json_object('step', sr.step, 'error', sr.error), sr.step, 'imgsift', ${runId}
      ${base} WHERE NOT sr.ok`);
    await tx.run(`INSERT INTO issues
      SELECT a.id, 'unreadable', 1.0, true, json_object('error', fs.error, 'uri', f.uri), 'read', 'imgsift', ${runId}
      FROM active a JOIN files f ON f.sample_id = a.id AND f.role = 'image'
      JOIN file_status fs ON fs.uri = f.uri WHERE fs.error IS NOT NULL`);
    if (transient.length) {
      await tx.append('issues', COLUMNS.issues, transient.map((t) => ({
        sample_id: t.sampleId, type: 'failed', score: 1, flagged: true, evidence: { step: t.step, error: t.error },
        step: t.step, source: 'imgsift', run_id: runId,
      })));
    }
  });
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
