import type { Catalog } from './catalog.js';
import { UsageError } from '../errors.js';

/**
 * Point the temporary view `active` at the samples of run `runId`: those the run's source listed
 * and no step dropped. Steps and exporters read `active`, never `samples` directly, so a drop
 * made by one step is seen by all later ones. The view is a plain scan of `samples` (drops are
 * mirrored into `samples.drop_run` by syncDrops), so it stays fast on millions of samples.
 */
export async function useRun(catalog: Catalog, runId: number): Promise<void> {
  const id = Math.trunc(runId);
  await catalog.run(`CREATE OR REPLACE TEMP VIEW active AS
    SELECT s.* FROM samples s WHERE s.seen_run = ${id} AND s.drop_run IS DISTINCT FROM ${id}`);
}

/**
 * Mirror the run's `drops` rows into `samples.drop_run`, so `active` no longer lists them. Steps
 * that drop samples insert into `drops` and then call this (the build also calls it after every
 * step). Idempotent and cheap: it touches only samples newly dropped.
 */
export async function syncDrops(catalog: Pick<Catalog, 'run'>, runId: number): Promise<void> {
  const id = Math.trunc(runId);
  await catalog.run(`UPDATE samples SET drop_run = ${id}
    WHERE drop_run IS DISTINCT FROM ${id} AND id IN (SELECT sample_id FROM drops WHERE run_id = ${id})`);
}

/** The newest run that finished (or any run, when none did); undefined for an empty catalog. */
export async function latestRunId(catalog: Catalog): Promise<number | undefined> {
  const row = await catalog.one<{ id: number }>(
    `SELECT id FROM runs ORDER BY (status = 'finished') DESC, id DESC LIMIT 1`,
  );
  return row?.id;
}

/**
 * The pixel limit run `runId` decoded under (recipe `max_pixels`), for commands that decode its
 * images afterwards (export, report, review): undefined for runs made before it was recorded.
 */
export async function runPixelLimitOf(catalog: Catalog, runId: number): Promise<number | undefined> {
  const row = await catalog.one<{ max_pixels: bigint | number | null }>(`SELECT max_pixels FROM runs WHERE id = ?`, [runId]);
  return row?.max_pixels == null ? undefined : Number(row.max_pixels);
}

/**
 * Record the samples run `runId` kept (the `active` view now) with their splits, so the dataset of
 * this run can be listed, compared and written again after later runs have moved on.
 */
export async function recordRunSamples(catalog: Catalog, runId: number): Promise<number> {
  const id = Math.trunc(runId);
  await catalog.run(`DELETE FROM run_samples WHERE run_id = ${id}`);
  await catalog.run(`INSERT INTO run_samples SELECT ${id}, id, split FROM active`);
  return catalog.scalar(`SELECT count(*) FROM run_samples WHERE run_id = ${id}`);
}

/** True when the run's kept samples were recorded (runs of imgsift before tags were not). */
export async function hasRunSamples(catalog: Catalog, runId: number): Promise<boolean> {
  return (await catalog.scalar(`SELECT count(*) FROM (SELECT 1 FROM run_samples WHERE run_id = ${Math.trunc(runId)} LIMIT 1)`)) > 0;
}

/**
 * Point `active` at the dataset run `runId` made, as recorded at its end: its samples with the
 * splits it gave them (other fields are the samples' current ones). Falls back to useRun for a
 * run that recorded nothing.
 */
export async function useRecordedRun(catalog: Catalog, runId: number): Promise<void> {
  const id = Math.trunc(runId);
  if (!(await hasRunSamples(catalog, id))) return useRun(catalog, id);
  await catalog.run(`CREATE OR REPLACE TEMP VIEW active AS
    SELECT s.* REPLACE (r.split AS split) FROM samples s JOIN run_samples r ON r.sample_id = s.id AND r.run_id = ${id}`);
}

/**
 * A run named on the command line: a tag (`v4`, its newest finished run) or a run number.
 * Throws a usage error listing the known tags when neither matches.
 */
export async function resolveRunRef(catalog: Catalog, ref: string): Promise<number> {
  const tagged = await catalog.one<{ id: number }>(
    `SELECT id FROM runs WHERE tag = ? ORDER BY (status = 'finished') DESC, id DESC LIMIT 1`, [ref],
  );
  if (tagged) return tagged.id;
  if (/^\d+$/.test(ref)) {
    const run = await catalog.one<{ id: number }>(`SELECT id FROM runs WHERE id = ?`, [Number(ref)]);
    if (run) return run.id;
  }
  const tags = (await catalog.all<{ tag: string }>(`SELECT DISTINCT tag FROM runs WHERE tag IS NOT NULL ORDER BY tag`)).map((t) => t.tag);
  throw new UsageError(`no run tagged or numbered '${ref}' in ${catalog.path} (tags: ${tags.join(', ') || 'none'})`);
}
