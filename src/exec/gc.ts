import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { ASSETS_DIR } from './assets.js';

export interface GcStats {
  /** Asset files kept (some sample's role or lineage names them). */
  kept: number;
  removed: number;
  bytesFreed: number;
  /** Cached step results whose files were removed: forgotten, so a later run makes them again. */
  resultsForgotten: number;
  /** Temporary files of interrupted writes. */
  tempRemoved: number;
}

/**
 * Remove derived files no sample refers to any more (a crop of a box that changed, the masks of
 * an older parameter set). Cached results that made a removed file are forgotten, so a recipe
 * that goes back to the old parameters makes the file again instead of pointing at nothing.
 */
export async function collectGarbage(catalog: Catalog, workdir: string, options: { dryRun?: boolean } = {}): Promise<GcStats> {
  const stats: GcStats = { kept: 0, removed: 0, bytesFreed: 0, resultsForgotten: 0, tempRemoved: 0 };
  const root = join(workdir, ASSETS_DIR);
  const referenced = new Set(
    (await catalog.all<{ uri: string }>(`SELECT uri FROM files UNION SELECT uri FROM derived_files`)).map((r) => r.uri),
  );
  const removedShas: string[] = [];
  let dirs: string[];
  try {
    dirs = (await readdir(root)).sort();
  } catch {
    return stats;
  }
  for (const d of dirs) {
    const dir = join(root, d);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (name.startsWith('.') && name.endsWith('.tmp')) {
        if (!options.dryRun) await rm(path, { force: true });
        stats.tempRemoved++;
        continue;
      }
      if (referenced.has(path)) {
        stats.kept++;
        continue;
      }
      const size = (await stat(path).catch(() => undefined))?.size ?? 0;
      if (!options.dryRun) await rm(path, { force: true });
      stats.removed++;
      stats.bytesFreed += size;
      removedShas.push(name.replace(/\..*$/, ''));
    }
  }
  if (removedShas.length && !options.dryRun) {
    await catalog.run(`CREATE OR REPLACE TEMP TABLE gc_removed (sha256 VARCHAR)`);
    await catalog.append('gc_removed', { sha256: 'varchar' }, removedShas.map((sha256) => ({ sha256 })));
    const doomed = `SELECT DISTINCT sr.content_hash, sr.step, sr.params_hash FROM step_results sr,
      unnest(from_json(sr.files, '[{"sha256":"VARCHAR"}]')) AS t(d)
      WHERE sr.files IS NOT NULL AND d.sha256 IN (SELECT sha256 FROM gc_removed)`;
    stats.resultsForgotten = await catalog.scalar(`SELECT count(*) FROM (${doomed})`);
    await catalog.run(`DELETE FROM step_results WHERE (content_hash || '|' || step || '|' || params_hash) IN
      (SELECT content_hash || '|' || step || '|' || params_hash FROM (${doomed}))`);
    await catalog.run(`DROP TABLE gc_removed`);
  }
  return stats;
}
