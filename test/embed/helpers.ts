import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { Reporter } from '../../src/exec/reporter.js';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { getStep } from '../../src/steps/registry.js';
import { EmbedParams, embedStep } from '../../src/steps/embed.js';
import type { StepContext } from '../../src/steps/types.js';
import { paramsHash } from '../../src/util/hash.js';
import { tinyImageModel, writeModel } from '../helpers/onnx-model.js';

/** The tiny test encoder: 8×8 colour layout + texture energy → 64-d. */
export const TINY = { size: 64, grid: 8, dim: 64, resizeTo: 72 } as const;

export const quiet = () => new Reporter({ mode: 'quiet' });

/** A models directory with the tiny image model installed as `tiny` (manifest included). */
export async function installTinyModel(dir: string, name = 'tiny', manifest: Record<string, unknown> = {}): Promise<string> {
  await writeModel(join(dir, name, 'model.onnx'), tinyImageModel({ size: TINY.size, grid: TINY.grid, dim: TINY.dim }));
  await writeModel(
    join(dir, name, 'manifest.json'),
    Buffer.from(JSON.stringify({
      name, kind: 'image', input: 'pixel_values', output: 'image_embeds', dim: TINY.dim,
      image: { size: TINY.size, resize: 'shortest', resize_to: TINY.resizeTo, interpolation: 'bilinear', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      ...manifest,
    })),
  );
  return dir;
}

export interface EmbedRunResult {
  runId: number;
  /** Samples embedded in this call (not served from the cache). */
  computed: number;
}

/**
 * Build `source` into `workdir` with probe and embed. Until `embed` is in the step registry, the
 * build runs probe only and the embed step then runs in-process over the run's active samples,
 * caching results exactly as the map executor does (by content hash, step, params hash).
 */
export async function buildEmbedded(
  workdir: string,
  source: Record<string, unknown>,
  model: string,
  extraSteps: unknown[] = [],
): Promise<EmbedRunResult> {
  const registered = getStep('embed') !== undefined;
  const steps = registered ? ['probe', { embed: { model } }, ...extraSteps] : ['probe'];
  const recipe = recipeFromObject({ name: 't', workdir, source, steps, export: [] }, workdir);
  const res = await build(recipe, { reporter: quiet(), workers: 1 });
  if (registered) {
    // The pass's figures (probe + embed run in one pass) are reported on its first step.
    const s = res.summary.steps.find((x) => 'samples computed' in x.stats);
    return { runId: res.runId, computed: Number(s?.stats['samples computed'] ?? 0) };
  }
  const computed = await embedInProcess(workdir, res.runId, model);
  return { runId: res.runId, computed };
}

/** The embed step over a run's active samples, in-process, with the executor's caching rule. */
export async function embedInProcess(workdir: string, runId: number, model: string): Promise<number> {
  const params = EmbedParams.parse({ model });
  const ph = paramsHash({ step: 'embed', version: embedStep.version, params, uses: [] });
  const catalog = await Catalog.open(workdir);
  try {
    await useRun(catalog, runId);
    const rows = await catalog.all<{ id: string; uri: string; sha: string | null }>(
      `SELECT a.id, f.uri, fs.sha256 AS sha FROM active a JOIN files f ON f.sample_id = a.id AND f.role = 'image'
       LEFT JOIN file_status fs ON fs.uri = f.uri
       WHERE fs.sha256 IS NOT NULL AND NOT EXISTS (
         SELECT 1 FROM step_results r WHERE r.content_hash = fs.sha256 AND r.step = 'embed' AND r.params_hash = '${ph}')
       ORDER BY a.ord`,
    );
    const done = new Set<string>();
    const results = [];
    for (const r of rows) {
      if (done.has(r.sha!)) continue;
      done.add(r.sha!);
      const bytes = await readFile(r.uri);
      try {
        const out = await embedStep.run({ id: r.id, uri: r.uri, name: r.uri, bytes, sha256: r.sha!, upstream: {} }, params);
        results.push({ content_hash: r.sha, step: 'embed', params_hash: ph, ok: true, result: out.result, issues: [], run_id: runId });
      } catch (err) {
        results.push({ content_hash: r.sha, step: 'embed', params_hash: ph, ok: false, error: (err as Error).message, issues: [], run_id: runId });
      }
    }
    await catalog.append('step_results', COLUMNS.step_results, results);
    const ctx: StepContext = { catalog, runId, workdir, reporter: quiet(), baseDir: workdir };
    await embedStep.afterAll!(ctx, params, ph);
    return results.length;
  } finally {
    catalog.close();
  }
}

/** Run a reduce step's `run` against the workdir's run, as build would. */
export async function runReduce<P>(workdir: string, runId: number, step: { run(ctx: StepContext, p: P): Promise<unknown> }, params: P): Promise<unknown> {
  const catalog = await Catalog.open(workdir);
  try {
    await useRun(catalog, runId);
    return await step.run({ catalog, runId, workdir, reporter: quiet(), baseDir: workdir }, params);
  } finally {
    catalog.close();
  }
}
