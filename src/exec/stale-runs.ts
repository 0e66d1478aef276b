import type { Catalog } from '../catalog/catalog.js';

/**
 * Runs left 'running' by a process that was killed (SIGKILL, power loss) never got to record how
 * they ended. A catalog is opened for writing by one process at a time (DuckDB's file lock), so
 * once a build holds it, every 'running' run is either its own process's (tracked here) or dead.
 */
const live = new Map<string, Set<number>>();

/** Note a run as in progress in this process; call the returned function when it ends. */
export function trackRun(catalog: Catalog, runId: number): () => void {
  let ids = live.get(catalog.path);
  if (!ids) live.set(catalog.path, (ids = new Set()));
  ids.add(runId);
  return () => {
    ids.delete(runId);
    if (ids.size === 0) live.delete(catalog.path);
  };
}

/** Mark 'running' runs that no live process owns as 'interrupted'; returns their ids. */
export async function closeStaleRuns(catalog: Catalog): Promise<number[]> {
  const mine = live.get(catalog.path) ?? new Set<number>();
  const running = await catalog.all<{ id: number }>(`SELECT id FROM runs WHERE status = 'running' ORDER BY id`);
  const stale = running.map((r) => Number(r.id)).filter((id) => !mine.has(id));
  if (stale.length > 0) await catalog.run(`UPDATE runs SET status = 'interrupted' WHERE id IN (${stale.join(',')})`);
  return stale;
}
