import type { Catalog } from './catalog.js';

/**
 * Point the temporary view `active` at the samples of run `runId`: those the run's source listed
 * and no step dropped. Steps and exporters read `active`, never `samples` directly, so a drop
 * made by one step is seen by all later ones.
 */
export async function useRun(catalog: Catalog, runId: number): Promise<void> {
  const id = Math.trunc(runId);
  await catalog.run(`CREATE OR REPLACE TEMP VIEW active AS
    SELECT s.* FROM samples s
    WHERE s.seen_run = ${id}
      AND NOT EXISTS (SELECT 1 FROM drops d WHERE d.sample_id = s.id AND d.run_id = ${id})`);
}

/** The newest run that finished (or any run, when none did); undefined for an empty catalog. */
export async function latestRunId(catalog: Catalog): Promise<number | undefined> {
  const row = await catalog.one<{ id: number }>(
    `SELECT id FROM runs ORDER BY (status = 'finished') DESC, id DESC LIMIT 1`,
  );
  return row?.id;
}
