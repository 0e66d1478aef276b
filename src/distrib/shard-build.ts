import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build, recipeHashOf, resolveWorkdir } from '../exec/build.js';
import { Reporter } from '../exec/reporter.js';
import { loadRecipe } from '../recipe/load.js';
import type { Recipe } from '../recipe/schema.js';
import { writeFileAtomic } from '../util/fs.js';
import { DONE_FILE, shardDir, type ShardMarker, type ShardSpec, type ShardStats } from './shard.js';
import { uploadShard } from './s3-shards.js';

export interface ShardBuildOptions {
  shard: ShardSpec;
  /** The main workdir (the shard works in `<workdir>/shards/<I>`); default the recipe's. */
  workdir?: string;
  set?: readonly string[];
  reporter?: Reporter;
  signal?: AbortSignal;
  workers?: number;
  skipBadRows?: boolean;
  maxSamples?: number;
  /** Upload the finished shard folder to s3://bucket/prefix/<I>/ (marker last). */
  shardsUri?: string;
  argv?: string[];
}

/** The marker of a shard folder, when there is a readable one. */
export async function readMarker(dir: string): Promise<ShardMarker | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, DONE_FILE), 'utf8')) as ShardMarker;
  } catch {
    return undefined;
  }
}

/**
 * One array-job task: ingest the recipe's source keeping shard I's samples, run the per-sample
 * work (map steps, and the per-sample reduce steps of SHARD_STEPS) into the shard's own catalog
 * `<workdir>/shards/<I>/catalog.duckdb`, then write `done.json`. A shard whose marker names this
 * recipe is finished: a rerun does nothing. A shard killed midway resumes like a local build,
 * from the batches its catalog committed.
 */
export async function buildShard(recipeOrFile: Recipe | string, opts: ShardBuildOptions): Promise<ShardStats> {
  const recipe = typeof recipeOrFile === 'string' ? await loadRecipe(recipeOrFile, { set: opts.set }) : recipeOrFile;
  const reporter = opts.reporter ?? new Reporter();
  const { index, count } = opts.shard;
  const workdir = resolveWorkdir(recipe, opts.workdir);
  const dir = shardDir(workdir, index);
  const recipeHash = recipeHashOf(recipe);
  const old = await readMarker(dir);
  if (old && old.recipeHash === recipeHash && old.shard.index === index && old.shard.count === count && old.dir === dir) {
    reporter.info(`shard ${index}/${count} is already done (${join(dir, DONE_FILE)}): nothing to do`);
    if (opts.shardsUri) await uploadShard(opts.shardsUri, dir, index, reporter);
    return { ...old, skipped: true, exitCode: 0, attention: [] };
  }
  // Another recipe's (or another split's) marker goes before any work: the folder is unfinished now.
  await rm(join(dir, DONE_FILE), { force: true });
  const t0 = Date.now();
  const result = await build(recipe, {
    shard: opts.shard, workdir: dir, reporter, signal: opts.signal, workers: opts.workers,
    skipBadRows: opts.skipBadRows, maxSamples: opts.maxSamples, argv: opts.argv,
  });
  const steps = result.summary.steps.map(({ name, stats, seconds }) => ({ name, stats, seconds }));
  const computed = steps.reduce((n, s) => n + (typeof s.stats['samples computed'] === 'number' ? s.stats['samples computed'] : 0), 0);
  const marker: ShardMarker = {
    recipeHash, recipe: recipe.name, shard: { index, count }, dir,
    samples: result.summary.ingest.added + result.summary.ingest.updated, computed, steps,
    seconds: (Date.now() - t0) / 1000, finished: new Date().toISOString(),
  };
  await writeFileAtomic(join(dir, DONE_FILE), JSON.stringify(marker, null, 2) + '\n');
  if (opts.shardsUri) await uploadShard(opts.shardsUri, dir, index, reporter);
  return { ...marker, skipped: false, exitCode: result.exitCode, attention: result.summary.attention };
}
