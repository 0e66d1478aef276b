import { join, resolve } from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import { syncDrops, useRun } from '../catalog/run-view.js';
import { loadRecipe } from '../recipe/load.js';
import type { Recipe } from '../recipe/schema.js';
import { createSource } from '../sources/index.js';
import { getExporter } from '../export/registry.js';
import { getStep } from '../steps/registry.js';
import type { MapStep, StepContext, StepStats } from '../steps/types.js';
import { paramsHash, sha256Hex, stableStringify } from '../util/hash.js';
import { EXIT, ImgsiftError, InputError } from '../errors.js';
import { closeStaleRuns, trackRun } from './stale-runs.js';
import { BAD_ROWS_FILE, ingest, type IngestStats } from './ingest.js';
import { InterruptedError, runMapPhase, type PlannedMapStep } from './map-phase.js';
import { WorkerPool } from './pool.js';
import { Reporter } from './reporter.js';
import { collectSummary, type BuildSummary, type StepSummary } from '../report/summary.js';
import { writeReport } from '../report/html.js';
import { saveTaxonomy } from '../review/taxonomy.js';

export interface BuildOptions {
  /** Process only the first N samples of the source. */
  maxSamples?: number;
  /** Development mode: exports write locally (extracted shards) instead of uploading. */
  dev?: boolean;
  /** Go on past malformed manifest rows, counting them. */
  skipBadRows?: boolean;
  /** Worker threads for per-sample steps (default: recipe `workers`, else the number of cores). */
  workers?: number;
  /** Override the recipe's workdir. */
  workdir?: string;
  reporter?: Reporter;
  signal?: AbortSignal;
  /** The command line, recorded with the run. */
  argv?: string[];
}

export interface BuildResult {
  runId: number;
  workdir: string;
  summary: BuildSummary;
  /** 0, or 1 when the run finished with something worth attention (stated in `summary.attention`). */
  exitCode: number;
}

/** A recipe's steps in execution order: runs of consecutive per-sample steps become one pass. */
type Stage =
  | { kind: 'map'; steps: PlannedMapStep[] }
  | { kind: 'reduce'; name: string; params: unknown };

/** Plan the stages; a map step's cache key covers its version, parameters and those of the steps it uses. */
export function planStages(recipe: Recipe): Stage[] {
  const stages: Stage[] = [];
  const keys = new Map<string, string>();
  for (const { name, params, line } of recipe.steps) {
    const step = getStep(name);
    if (!step) throw new ImgsiftError(`unknown step ${name}`);
    if (step.kind === 'reduce') {
      stages.push({ kind: 'reduce', name, params });
      continue;
    }
    const uses = (step.uses ?? []).map((u) => {
      const k = keys.get(u);
      if (!k) {
        const where = { file: recipe.file, line };
        throw new InputError(where, `step '${name}' needs step '${u}' to run before it in the recipe (add '- ${u}: {}' above it)`);
      }
      return k;
    });
    const ph = paramsHash({ step: name, version: step.version, params: step.cacheKey ? step.cacheKey(params) : params, uses });
    keys.set(name, ph);
    const planned: PlannedMapStep = { step: step as MapStep<unknown>, params, paramsHash: ph };
    const last = stages[stages.length - 1];
    if (last && last.kind === 'map') last.steps.push(planned);
    else stages.push({ kind: 'map', steps: [planned] });
  }
  return stages;
}

/**
 * The main job: ingest the source into the workdir's catalog, run the steps, write the exports,
 * and return the summary. Safe to interrupt at any point and run again: per-sample work is cached
 * by content, batches are committed atomically, and exports are rewritten from the catalog.
 */
export async function build(recipeOrFile: Recipe | string, options: BuildOptions = {}): Promise<BuildResult> {
  const recipe = typeof recipeOrFile === 'string' ? await loadRecipe(recipeOrFile) : recipeOrFile;
  const reporter = options.reporter ?? new Reporter();
  const workdir = resolve(recipe.baseDir, options.workdir ?? recipe.workdir ?? `.imgsift/${recipe.name}`);
  const stages = planStages(recipe);
  const started = Date.now();
  const catalog = await Catalog.open(workdir);
  let pool: WorkerPool | undefined;
  let runId = 0;
  let untrack = () => {};
  try {
    const stale = await closeStaleRuns(catalog);
    if (stale.length) reporter.info(`run${stale.length > 1 ? 's' : ''} ${stale.join(', ')} did not finish (the process was killed): marked interrupted`);
    runId = (await catalog.scalar(`SELECT coalesce(max(id), 0) FROM runs`)) + 1;
    untrack = trackRun(catalog, runId);
    // Lines are where the recipe says it, not what it says: moving a step's line keeps the hash.
    const hashed = { ...recipe, file: undefined, baseDir: undefined, steps: recipe.steps.map(({ name, params }) => ({ name, params })) };
    const recipeHash = sha256Hex(stableStringify(hashed)).slice(0, 16);
    await catalog.run(
      `INSERT INTO runs (id, name, recipe_hash, started, status, argv) VALUES (?, ?, ?, current_timestamp, 'running', ?)`,
      [runId, recipe.name, recipeHash, JSON.stringify(options.argv ?? [])],
    );
    reporter.info(`run ${runId} of '${recipe.name}' in ${workdir}`);
    await saveTaxonomy(catalog, recipe.review);

    const source = createSource(recipe.source, recipe.baseDir);
    const ingested: IngestStats = await ingest(catalog, source, {
      runId, reporter, maxSamples: options.maxSamples, skipBadRows: options.skipBadRows, badRowsFile: join(workdir, BAD_ROWS_FILE),
      onDuplicateId: recipe.on_duplicate_id, signal: options.signal,
    });
    if (options.signal?.aborted) throw new InterruptedError();
    await useRun(catalog, runId);

    const ctx: StepContext = { catalog, runId, workdir, reporter, baseDir: recipe.baseDir, signal: options.signal };
    const steps: StepSummary[] = [];
    for (const stage of stages) {
      if (options.signal?.aborted) throw new InterruptedError();
      const t0 = Date.now();
      if (stage.kind === 'map') {
        pool ??= new WorkerPool({ workers: options.workers ?? recipe.workers });
        const phase = await runMapPhase(ctx, stage.steps, pool);
        // The pass's own figures (cache hits, unreadable files) go with its first step.
        const passStats: StepStats = {
          'samples computed': phase.computed,
          'samples from cache': phase.cached,
          ...(phase.unreadable ? { unreadable: phase.unreadable } : {}),
        };
        for (const [i, p] of stage.steps.entries()) {
          await p.step.afterAll?.(ctx, p.params, p.paramsHash);
          const stats: StepStats = {
            ...(i === 0 ? passStats : {}),
            ...(await p.step.stats?.(ctx, p.params, p.paramsHash)),
            ...(phase.failed[p.step.name] ? { failed: phase.failed[p.step.name] } : {}),
          };
          steps.push({ name: p.step.name, kind: 'map', stats, seconds: (Date.now() - t0) / 1000 });
        }
      } else {
        const step = getStep(stage.name)!;
        if (step.kind !== 'reduce') throw new Error('unreachable');
        const stats = await step.run(ctx, stage.params);
        await syncDrops(catalog, runId);
        steps.push({ name: stage.name, kind: 'reduce', stats, seconds: (Date.now() - t0) / 1000 });
      }
    }

    const exports: StepSummary[] = [];
    for (const ex of recipe.export) {
      if (options.signal?.aborted) throw new InterruptedError();
      const t0 = Date.now();
      const exporter = getExporter(ex.format)!;
      const stats = await exporter.run({ ...ctx, dev: options.dev ?? false }, ex.options);
      exports.push({ name: ex.format, kind: 'export', stats, seconds: (Date.now() - t0) / 1000 });
    }

    const summary = await collectSummary(catalog, {
      runId, recipe: recipe.name, workdir, ingest: ingested, steps, exports, seconds: (Date.now() - started) / 1000,
    });
    await catalog.run(`UPDATE runs SET finished = current_timestamp, status = 'finished', summary = ? WHERE id = ?`, [
      JSON.stringify(summary), runId,
    ]);
    if (recipe.report) {
      const file = resolve(recipe.baseDir, recipe.report);
      await writeReport(catalog, runId, file, { summary });
      summary.report = file;
    }
    return { runId, workdir, summary, exitCode: summary.attention.length > 0 ? EXIT.attention : EXIT.ok };
  } catch (err) {
    if (runId > 0) {
      const status = err instanceof InterruptedError ? 'interrupted' : 'failed';
      await catalog.run(`UPDATE runs SET finished = current_timestamp, status = ? WHERE id = ?`, [status, runId]).catch(() => undefined);
    }
    if (err instanceof InterruptedError) {
      throw new ImgsiftError(`interrupted; run the same command again to resume (finished work is kept in ${workdir})`, 130);
    }
    throw err;
  } finally {
    untrack();
    await pool?.close();
    catalog.close();
  }
}
