import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { build, type BuildResult } from '../exec/build.js';
import type { Reporter } from '../exec/reporter.js';
import { ensureDir } from '../util/fs.js';
import { generateDemoDataset, DEMO_TRUTH_FILE, type DemoTruth } from './dataset.js';
import { demoRecipeYaml } from './recipe.js';

export interface DemoOptions {
  reporter?: Reporter;
  workers?: number;
  signal?: AbortSignal;
  /** Number of images (default: the generator's default, a few hundred). */
  count?: number;
}

export interface DemoResult {
  out: string;
  dataDir: string;
  recipeFile: string;
  truth: DemoTruth;
  build: BuildResult;
}

/**
 * Generate the demo dataset (once: it is deterministic, so an existing one is reused), write its
 * recipe beside it, and build it. Everything lands under `out`.
 */
export async function runDemo(out: string, options: DemoOptions = {}): Promise<DemoResult> {
  const root = resolve(out);
  const dataDir = join(root, 'data');
  await ensureDir(root);
  let truth: DemoTruth;
  const truthFile = join(dataDir, DEMO_TRUTH_FILE);
  if (existsSync(truthFile) && options.count === undefined) {
    truth = JSON.parse(await readFile(truthFile, 'utf8')) as DemoTruth;
    options.reporter?.info(`using the sample dataset already in ${dataDir}`);
  } else {
    options.reporter?.info(`generating the sample dataset in ${dataDir}`);
    truth = await generateDemoDataset(dataDir, { count: options.count });
  }
  const recipeFile = join(root, 'recipe.yaml');
  await writeFile(recipeFile, demoRecipeYaml());
  const result = await build(recipeFile, { reporter: options.reporter, workers: options.workers, signal: options.signal });
  return { out: root, dataDir, recipeFile, truth, build: result };
}
