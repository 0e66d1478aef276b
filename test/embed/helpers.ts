import { join } from 'node:path';
import { Catalog } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { Reporter } from '../../src/exec/reporter.js';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import type { StepContext } from '../../src/steps/types.js';
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
 * Build `source` into `workdir` with probe and embed (`embed` holds extra embed parameters, e.g.
 * batch_size), then `extraSteps`. `computed` is the pass's count of samples not served from the cache.
 */
export async function buildEmbedded(
  workdir: string,
  source: Record<string, unknown>,
  model: string,
  extraSteps: unknown[] = [],
  embed: Record<string, unknown> = {},
): Promise<EmbedRunResult> {
  const steps = ['probe', { embed: { model, ...embed } }, ...extraSteps];
  const recipe = recipeFromObject({ name: 't', workdir, source, steps, export: [] }, workdir);
  const res = await build(recipe, { reporter: quiet(), workers: 1 });
  // The pass's figures (probe + embed run in one pass) are reported on its first step.
  const s = res.summary.steps.find((x) => 'samples computed' in x.stats);
  return { runId: res.runId, computed: Number(s?.stats['samples computed'] ?? 0) };
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
