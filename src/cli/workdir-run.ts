import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import type { BuildResult } from '../exec/build.js';
import type { Reporter } from '../exec/reporter.js';

export interface StandaloneRunOptions {
  /** Keep the catalog here (a rerun then reuses the cached per-image work); default a temporary folder, removed after. */
  workdir?: string;
  workers?: number;
  reporter?: Reporter;
  signal?: AbortSignal;
}

/**
 * Run a recipe object (or one made for the workdir) through the real executor for a stand-alone
 * command, then hand `read` the catalog (opened again, after the build closed it) and the run's result.
 */
export async function runStandalone<T>(
  recipe: Record<string, unknown> | ((workdir: string) => Promise<Record<string, unknown>>),
  options: StandaloneRunOptions,
  read: (catalog: Catalog, result: BuildResult) => Promise<T>,
): Promise<T> {
  const { Catalog } = await import('../catalog/catalog.js');
  const { build } = await import('../exec/build.js');
  const { recipeFromObject } = await import('../recipe/load.js');
  const temp = options.workdir ? undefined : await mkdtemp(join(tmpdir(), 'imgsift-'));
  const workdir = resolve(options.workdir ?? temp!);
  try {
    const body = typeof recipe === 'function' ? await recipe(workdir) : recipe;
    const result = await build(recipeFromObject({ ...body, workdir }), {
      workdir, workers: options.workers, reporter: options.reporter, signal: options.signal, argv: process.argv.slice(2),
    });
    const catalog = await Catalog.open(workdir);
    try {
      return await read(catalog, result);
    } finally {
      catalog.close();
    }
  } finally {
    if (temp) await rm(temp, { recursive: true, force: true });
  }
}

/**
 * Samples of the run that have no duplicate signals because their image could not be read or
 * decoded, with the reasons the executor recorded.
 */
export async function failedImages(catalog: Catalog, runId: number): Promise<Array<{ id: string; path: string; reason: string }>> {
  const { useRun } = await import('../catalog/run-view.js');
  const { signalRowsSql } = await import('../steps/dedup-signals.js');
  await useRun(catalog, runId);
  return catalog.all<{ id: string; path: string; reason: string }>(
    `SELECT a.id, coalesce(a.path, a.id) AS path,
            coalesce(string_agg(DISTINCT coalesce(i.evidence->>'error', i.type), '; '), 'not processed') AS reason
     FROM active a LEFT JOIN issues i ON i.sample_id = a.id AND i.flagged AND i.type IN ('unreadable', 'failed')
     WHERE a.id NOT IN (SELECT id FROM (${signalRowsSql()}))
     GROUP BY a.id, a.path ORDER BY path`,
    [runId],
  );
}

/** One CSV field, quoted when it must be (RFC 4180). */
export function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: unknown[]): string {
  return cells.map(csvField).join(',');
}
