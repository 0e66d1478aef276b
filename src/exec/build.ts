import { join, resolve } from 'node:path';
import { Catalog } from '../catalog/catalog.js';
import { recordRunSamples, syncDrops, useRun } from '../catalog/run-view.js';
import { loadRecipe } from '../recipe/load.js';
import { formatPath } from '../recipe/yaml-locate.js';
import type { Recipe } from '../recipe/schema.js';
import { createSource } from '../sources/index.js';
import { getExporter } from '../export/registry.js';
import { getStep } from '../steps/registry.js';
import type { MapStep, StepContext, StepStats } from '../steps/types.js';
import { paramsHash, sha256Hex, stableStringify } from '../util/hash.js';
import { EXIT, ImgsiftError, InputError, UsageError } from '../errors.js';
import { recipeFilterSqlProblems } from '../steps/filter.js';
import { closeStaleRuns, trackRun } from './stale-runs.js';
import { BAD_ROWS_FILE, ingestSources, type IngestInput, type IngestStats } from './ingest.js';
import { InterruptedError, runMapPhase, type PlannedMapStep } from './map-phase.js';
import { WorkerPool } from './pool.js';
import { skippedFile } from './skipped.js';
import { DEFAULT_MAX_PIXELS, pixelLimit, setPixelLimit } from '../image/open.js';
import { Reporter } from './reporter.js';
import { mkdir } from 'node:fs/promises';
import { markBuildRunning } from '../catalog/build-marker.js';
import { checkCopyGroups } from '../steps/copy-groups.js';
import { collectSummary, type BuildSummary, type StepRows, type StepSummary } from '../report/summary.js';
import { writeReport } from '../report/html.js';
import { saveTaxonomy } from '../review/taxonomy.js';
import { fetchSourceFile, isHttpUrl } from '../sources/remote.js';
import { MAIN_ROLE, resolveRole, roleAliasesOf, saveRoleAliases } from '../catalog/roles.js';
import type { ShardSpec } from '../distrib/shard.js';
import { SHARD_STEPS } from '../distrib/shard-steps.js';
import { foldShards, planMerge } from '../distrib/merge.js';

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
  /** `KEY=VALUE` overrides of recipe values (`--set`), when the recipe is given as a file. */
  set?: readonly string[];
  reporter?: Reporter;
  signal?: AbortSignal;
  /** The command line, recorded with the run. */
  argv?: string[];
  /** Name this build's dataset version (overrides the recipe's `tag:`). */
  tag?: string;
  /**
   * Array-job mode (src/distrib/shard-build.ts): ingest only this shard's samples and run the
   * per-sample work (map steps and SHARD_STEPS) into `workdir`; no whole-dataset steps, no exports.
   */
  shard?: ShardSpec;
  /** Fold the finished shards of `<workdir>/shards/` into the catalog first (src/distrib/merge.ts). */
  merge?: boolean;
  /** With merge: go on when some shards are missing (the build computes their samples itself). */
  partial?: boolean;
  /** With merge: fetch the shard folders from this s3://bucket/prefix first. */
  shardsUri?: string;
}

/** The workdir a build of `recipe` uses (`--workdir`, else the recipe's, else .imgsift/<name>). */
export function resolveWorkdir(recipe: Recipe, override?: string): string {
  return resolve(recipe.baseDir, override ?? recipe.workdir ?? `.imgsift/${recipe.name}`);
}

/** The recipe's identity: lines are where the recipe says it, not what it says, so moving a step's line keeps the hash. */
export function recipeHashOf(recipe: Recipe): string {
  const hashed = { ...recipe, file: undefined, baseDir: undefined, steps: recipe.steps.map(({ name, params }) => ({ name, params })) };
  return sha256Hex(stableStringify(hashed)).slice(0, 16);
}

/** Why a source gave no samples, in words. */
function emptySourceMessage(source: string, s: IngestStats, where: string | undefined): string {
  if (s.read === 0) {
    return `${source} has no samples${s.badRows ? ` (${s.badRows} malformed rows skipped)` : ''}: nothing to build. Check source.path and source.format`;
  }
  if (where && s.filtered > 0) return `${source}: none of the ${s.read} records matched source.where (${where}); nothing to build`;
  return `${source}: ${s.read} records read but none became a sample (explode found ${s.explodedEmpty} empty lists); nothing to build`;
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

/**
 * Plan the stages; a map step's cache key covers its version, parameters and those of the steps it
 * uses (the content of the roles it reads, and its declared fields, are added per sample). A step
 * reading a role that an earlier step of the same pass makes starts a new pass, so every pass reads
 * files that exist when it starts. Roles are checked here, before any work: each role a step reads
 * comes from the source or from an earlier step.
 */
export function planStages(recipe: Recipe): Stage[] {
  const stages: Stage[] = [];
  // Every decode obeys the run's pixel limit, so a result depends on it: a limit other than the
  // default is part of every per-sample step's key (the default leaves existing caches valid).
  const limit = runPixelLimit(recipe);
  const limitKey = limit !== DEFAULT_MAX_PIXELS ? { max_pixels: limit } : {};
  const keys = new Map<string, string>();
  const aliases = roleAliasesOf(recipe);
  const configs = recipe.sources?.map((s) => s.config) ?? [recipe.source];
  const available = new Set<string>([MAIN_ROLE, ...configs.flatMap((c) => Object.keys(c.fields.files ?? {}))]);
  let madeInPass = new Set<string>();
  const remote = [...new Set(configs.flatMap((c) => [
    ...Object.entries(c.fields.prefixes ?? {}).filter(([, p]) => /^https?:\/\//i.test(p)).map(([r]) => r),
    ...(c.format === 'urls' ? [MAIN_ROLE] : []),
  ]))];
  const download = recipe.steps.findIndex((s) => s.name === 'download');
  const firstMap = recipe.steps.findIndex((s) => getStep(s.name)?.kind === 'map');
  if (remote.length && (download < 0 || (firstMap >= 0 && firstMap < download))) {
    throw new ImgsiftError(
      `${recipe.file}: role${remote.length > 1 ? 's' : ''} ${remote.join(', ')} ${remote.length > 1 ? 'are' : 'is'} fetched from URLs: ` +
        `put a download step before the per-sample steps`,
    );
  }
  for (const { name, params, role, line } of recipe.steps) {
    const step = getStep(name);
    if (!step) throw new ImgsiftError(`unknown step ${name}`);
    const where = `${recipe.file}${line !== undefined ? `:${line}` : ''}: steps: ${name}`;
    if (step.kind === 'reduce') {
      stages.push({ kind: 'reduce', name, params });
      madeInPass = new Set();
      continue;
    }
    const uses = (step.uses ?? []).map((u) => {
      const k = keys.get(u);
      if (!k) {
        const at = { file: recipe.file, line };
        throw new InputError(at, `step '${name}' needs step '${u}' to run before it in the recipe (add '- ${u}: {}' above it)`);
      }
      return k;
    });
    const named = step.roles ? step.roles(params) : [role ?? MAIN_ROLE];
    const roles = named.map((r) => resolveRole(r, aliases));
    for (const r of roles) {
      if (!available.has(r)) {
        throw new ImgsiftError(`${where}: reads role '${r}', which neither the source (${[...available].join(', ')}) nor an earlier step makes`);
      }
    }
    const fields = step.fields?.(params) ?? [];
    const ph = paramsHash({ step: name, version: step.version, params: step.cacheKey ? step.cacheKey(params) : params, uses, ...(role ? { role } : {}), ...limitKey });
    keys.set(name, ph);
    const planned: PlannedMapStep = {
      step: step as MapStep<unknown>, params, paramsHash: ph, roles, fields,
      ...(named.some((n, i) => n !== roles[i]) ? { roleNames: named } : {}),
    };
    const last = stages[stages.length - 1];
    if (last && last.kind === 'map' && !roles.some((r) => madeInPass.has(r))) last.steps.push(planned);
    else {
      stages.push({ kind: 'map', steps: [planned] });
      madeInPass = new Set();
    }
    for (const r of step.produces?.(params) ?? []) {
      available.add(r);
      madeInPass.add(r);
    }
  }
  return stages;
}

/**
 * The run's one pixel limit: the recipe's `max_pixels` (default Pillow's), lowered by a probe step's
 * own `max_pixels`, so what the probe flags as a decompression bomb is exactly what nothing decodes.
 */
export function runPixelLimit(recipe: Pick<Recipe, 'max_pixels' | 'steps'>): number {
  let limit = recipe.max_pixels ?? DEFAULT_MAX_PIXELS;
  for (const s of recipe.steps) {
    const own = s.name === 'probe' ? (s.params as { max_pixels?: unknown }).max_pixels : undefined;
    if (typeof own === 'number' && own < limit) limit = own;
  }
  return limit;
}

/**
 * The main job: ingest the source into the workdir's catalog, run the steps, write the exports,
 * and return the summary. Safe to interrupt at any point and run again: per-sample work is cached
 * by content, batches are committed atomically, and exports are rewritten from the catalog.
 */
export async function build(recipeOrFile: Recipe | string, options: BuildOptions = {}): Promise<BuildResult> {
  const recipe = typeof recipeOrFile === 'string' ? await loadRecipe(recipeOrFile, { set: options.set }) : recipeOrFile;
  const reporter = options.reporter ?? new Reporter();
  const workdir = resolveWorkdir(recipe, options.workdir);
  const stages = planStages(recipe);
  if (options.shard && options.merge) throw new UsageError('--shard and --merge are two phases of an array build: give one of them');
  // Every shard must be there (or --partial) before the catalog is touched.
  const mergePlan = options.merge
    ? await planMerge(workdir, { recipeHash: recipeHashOf(recipe), partial: options.partial, shardsUri: options.shardsUri, reporter })
    : undefined;
  // Filter SQL is checked before anything is read, so a typo costs no ingest.
  const sqlProblems = await recipeFilterSqlProblems(recipe.steps);
  if (sqlProblems.length) {
    const p = sqlProblems[0];
    const line = recipe.steps[Number(p.path[1])]?.line;
    throw new InputError({ file: recipe.file, line, field: formatPath(p.path) }, p.message);
  }
  const started = Date.now();
  // Tell a running review app to let go of the catalog (and to refresh when this build ends).
  await mkdir(workdir, { recursive: true });
  const unmark = markBuildRunning(workdir);
  let catalog: Catalog;
  try {
    catalog = await Catalog.open(workdir);
  } catch (err) {
    unmark();
    throw err;
  }
  let pool: WorkerPool | undefined;
  let runId = 0;
  let untrack = () => {};
  const outerLimit = pixelLimit();
  try {
    const limit = runPixelLimit(recipe);
    setPixelLimit(limit);
    const stale = await closeStaleRuns(catalog);
    if (stale.length) reporter.info(`run${stale.length > 1 ? 's' : ''} ${stale.join(', ')} did not finish (the process was killed): marked interrupted`);
    runId = (await catalog.scalar(`SELECT coalesce(max(id), 0) FROM runs`)) + 1;
    untrack = trackRun(catalog, runId);
    const recipeHash = recipeHashOf(recipe);
    const tag = options.tag ?? recipe.tag;
    if (tag !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(tag)) throw new UsageError(`--tag ${tag}: a tag of letters, digits, ".", "_" or "-"`);
    await catalog.run(
      `INSERT INTO runs (id, name, recipe_hash, started, status, argv, tag, max_pixels) VALUES (?, ?, ?, current_timestamp, 'running', ?, ?, ?)`,
      [runId, recipe.name, recipeHash, JSON.stringify(options.argv ?? []), tag ?? null, limit],
    );
    reporter.info(`run ${runId} of '${recipe.name}'${tag ? ` (tag ${tag})` : ''} in ${workdir}`);
    await saveTaxonomy(catalog, recipe.review);
    const merged = mergePlan ? await foldShards(catalog, mergePlan, reporter) : undefined;

    const sources = recipe.sources ?? [{ config: recipe.source }];
    const inputs: IngestInput[] = [];
    for (const { name, config } of sources) {
      const sourceConfig = isHttpUrl(config.path) ? { ...config, path: await fetchSourceFile(config.path, workdir) } : config;
      inputs.push({ source: createSource(sourceConfig, recipe.baseDir), name, where: config.where, explode: config.explode });
    }
    const ingested: IngestStats = await ingestSources(catalog, inputs, {
      runId, reporter, maxSamples: options.maxSamples, skipBadRows: options.skipBadRows, badRowsFile: join(workdir, BAD_ROWS_FILE),
      onDuplicateId: recipe.on_duplicate_id, skippedFile: skippedFile(workdir), signal: options.signal, shard: options.shard,
    });
    if (options.signal?.aborted) throw new InterruptedError();
    // A shard may own none of a small source's samples: that is a finished, empty shard.
    if (ingested.read === 0 || (ingested.added + ingested.updated === 0 && !options.shard)) {
      const described = inputs.map((i) => i.source.description).join(', ');
      throw new ImgsiftError(emptySourceMessage(described, ingested, inputs.map((i) => i.where).filter(Boolean).join('; ') || undefined), EXIT.attention);
    }
    await saveRoleAliases(catalog, recipe);
    await useRun(catalog, runId);

    const ctx: StepContext = { catalog, runId, workdir, reporter, baseDir: recipe.baseDir, signal: options.signal, lookups: recipe.lookups };
    const steps: StepSummary[] = merged ? [merged] : [];
    for (const stage of stages) {
      if (options.signal?.aborted) throw new InterruptedError();
      // A shard does per-sample work only; whole-dataset steps run once, in the merge.
      if (options.shard && stage.kind === 'reduce' && !SHARD_STEPS.has(stage.name)) continue;
      const t0 = Date.now();
      const before = await datasetSize(catalog, runId);
      const first = steps.length;
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
            ...Object.fromEntries(Object.entries(phase.skipped[p.step.name] ?? {}).map(([why, n]) => [`skipped (${why})`, n])),
            ...(phase.skipped[p.step.name] ? { 'skipped, listed in': skippedFile(workdir) } : {}),
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
      const rows = stepRows(before, await datasetSize(catalog, runId));
      for (const st of steps.slice(first)) st.rows = rows;
    }
    const kept = await recordRunSamples(catalog, runId);
    reporter.info(`run ${runId}${tag ? ` (${tag})` : ''}: ${kept} samples in the dataset`);

    // No picture may lose every copy to the cleaning rules together (duplicates + leaks + imports).
    const copies = options.shard ? { groups: 0, lost: [] } : await checkCopyGroups(catalog, runId);
    if (copies.groups) {
      steps.push({ name: 'copy check', kind: 'reduce', stats: { 'groups of copies': copies.groups, 'groups that lost every copy': copies.lost.length }, seconds: 0 });
    }

    const exports: StepSummary[] = [];
    for (const ex of options.shard ? [] : recipe.export) {
      if (options.signal?.aborted) throw new InterruptedError();
      const t0 = Date.now();
      const exporter = getExporter(ex.format)!;
      const stats = await exporter.run({ ...ctx, dev: options.dev ?? false }, ex.options);
      exports.push({ name: ex.format, kind: 'export', stats, seconds: (Date.now() - t0) / 1000 });
    }

    const summary = await collectSummary(catalog, {
      runId, tag, recipe: recipe.name, workdir, ingest: ingested, steps, exports, seconds: (Date.now() - started) / 1000,
    });
    if (copies.lost.length) {
      const shown = copies.lost.slice(0, 5).map((g) => g.paths.join(' + ')).join('; ');
      summary.attention.push(`${copies.lost.length} group(s) of copies lost every member to the cleaning rules (${shown}${copies.lost.length > 5 ? '; ...' : ''})`);
    }
    await catalog.run(`UPDATE runs SET finished = current_timestamp, status = 'finished', summary = ? WHERE id = ?`, [
      JSON.stringify(summary), runId,
    ]);
    if (recipe.report && !options.shard) {
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
    setPixelLimit(outerLimit);
    untrack();
    await pool?.close();
    catalog.close();
    unmark();
  }
}

/** The dataset's size at a point of the run: samples per source, and the run's drops by reason. */
interface DatasetSize {
  bySource: Map<string, number>;
  drops: Map<string, number>;
}

async function datasetSize(catalog: Catalog, runId: number): Promise<DatasetSize> {
  const sources = await catalog.all<{ source: string; n: bigint }>(`SELECT source, count(*) AS n FROM active GROUP BY source`);
  const drops = await catalog.all<{ reason: string; n: bigint }>(`SELECT reason, count(*) AS n FROM drops WHERE run_id = ${Math.trunc(runId)} GROUP BY reason`);
  return {
    bySource: new Map(sources.map((r) => [r.source, Number(r.n)])),
    drops: new Map(drops.map((r) => [r.reason, Number(r.n)])),
  };
}

/** A step's effect, from the sizes before and after it (so two filter steps each get their own figures). */
function stepRows(before: DatasetSize, after: DatasetSize): StepRows {
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const bySource: StepRows['by_source'] = {};
  for (const name of [...new Set([...before.bySource.keys(), ...after.bySource.keys()])].sort()) {
    bySource[name] = { in: before.bySource.get(name) ?? 0, out: after.bySource.get(name) ?? 0 };
  }
  const dropped: Record<string, number> = {};
  for (const [reason, n] of after.drops) {
    const d = n - (before.drops.get(reason) ?? 0);
    if (d > 0) dropped[reason] = d;
  }
  return { in: sum(before.bySource), out: sum(after.bySource), by_source: bySource, dropped };
}
