import type { Catalog } from './catalog.js';

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
