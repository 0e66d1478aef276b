import { Command, Option } from 'commander';
import { join, resolve } from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import type { Reporter } from '../exec/reporter.js';
import type { KeepRule } from '../steps/dedup-match.js';
import type { ClusterRecord } from '../steps/dedup.js';
import { KEEP_RULES } from './choices.js';
import { action, parseNonNegativeNumber, parsePositiveInt, reporterFor, withOutputFlags, type CliState, type OutputFlags } from './common.js';
import { interruptSignal } from './signals.js';
import { csvLine, failedImages, runStandalone } from './workdir-run.js';

export interface DedupDirOptions {
  /** Parameters of the `dedup` step (keep rule, thresholds, geometric check); defaults as the step. */
  params?: Record<string, unknown>;
  workdir?: string;
  workers?: number;
  reporter?: Reporter;
  signal?: AbortSignal;
}

export interface DedupDirResult {
  images: number;
  clusters: ClusterRecord[];
  /** Images that could not be read or decoded (path and why); they are in no cluster. */
  failed: Array<{ path: string; reason: string }>;
  clustersJsonl: string;
  duplicatesCsv: string;
}

export const DUPLICATES_CSV_HEADER = ['cluster', 'path', 'kept', 'method', 'distance'];

/**
 * Find duplicate clusters among the images under `dir` with the same library steps a recipe runs
 * (folder source → probe → hash → dedup_signals → dedup), and write `out/clusters.jsonl` (one
 * cluster per line: cluster, keep, members, min_similarity, keep_reason, evidence) and
 * `out/duplicates.csv` (one row per member: cluster, path, kept, method, distance). Paths are
 * relative to `dir`, with forward slashes.
 */
export async function runDedupDir(dir: string, out: string, options: DedupDirOptions = {}): Promise<DedupDirResult> {
  const { DedupParamsSchema, readClusters } = await import('../steps/dedup.js');
  const { requireFolder } = await import('../sources/walk.js');
  const { writeFileAtomic } = await import('../util/fs.js');
  const parsed = DedupParamsSchema.safeParse(options.params ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`dedup: parameter ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const root = resolve(dir);
  await requireFolder(root);
  const recipe = {
    name: 'dedup',
    source: { format: 'folder', path: root },
    steps: [{ probe: {} }, { hash: {} }, { dedup_signals: {} }, { dedup: options.params ?? {} }],
  };
  return runStandalone(recipe, options, async (catalog, result) => {
    const clusters = await readClusters(catalog, result.runId);
    const failed = await failedImages(catalog, result.runId);
    const images = await catalog.scalar(`SELECT count(*) FROM active`);
    const clustersJsonl = clusters.map((c) => JSON.stringify(c)).join('\n') + (clusters.length ? '\n' : '');
    const lines = [csvLine(DUPLICATES_CSV_HEADER)];
    for (const c of clusters) {
      lines.push(csvLine([c.cluster, c.keep, 'true', 'keep', 0]));
      for (const e of c.evidence) lines.push(csvLine([c.cluster, e.path, 'false', e.method, e.distance]));
    }
    const duplicatesCsv = lines.join('\n') + '\n';
    await writeFileAtomic(join(out, 'clusters.jsonl'), clustersJsonl);
    await writeFileAtomic(join(out, 'duplicates.csv'), duplicatesCsv);
    return { images, clusters, failed, clustersJsonl, duplicatesCsv };
  });
}

interface DedupFlags extends OutputFlags {
  out: string;
  keep?: KeepRule;
  exactOnly?: boolean;
  phashThreshold?: number;
  dhashThreshold?: number;
  geometric: boolean;
  workdir?: string;
  workers?: number;
}

export function registerDedup(program: Command, state: CliState): void {
  withOutputFlags(
    program
      .command('dedup')
      .description('duplicate clusters (exact and near copies) of the images under DIR: OUT/clusters.jsonl and OUT/duplicates.csv')
      .argument('<dir>', 'folder of images (searched recursively)')
      .requiredOption('--out <dir>', 'output folder')
      .addOption(new Option('--keep <rule>', 'which image of a cluster to keep').choices([...KEEP_RULES]).default('largest'))
      .option('--exact-only', 'only exact copies (same bytes or same pixels)')
      .option('--phash-threshold <bits>', 'near duplicate within this pHash distance (default 6)', parseNonNegativeNumber('--phash-threshold', 64))
      .option('--dhash-threshold <bits>', '... and this dHash distance (default 12)', parseNonNegativeNumber('--dhash-threshold', 64))
      .option('--no-geometric', 'skip the feature-matching check of borderline pairs (they are then not duplicates)')
      .option('--workdir <dir>', 'keep the catalog here, so a rerun reuses the per-image work (default: a temporary folder)')
      .option('--workers <n>', 'worker threads (default: number of cores)', parsePositiveInt('--workers')),
  ).action(
    action(state, async (dir: string, flags: DedupFlags) => {
      const reporter = reporterFor(flags);
      const interrupt = interruptSignal(reporter);
      try {
        const params: Record<string, unknown> = { keep: flags.keep ?? 'largest', geometric: flags.geometric };
        if (flags.exactOnly) params.exact_only = true;
        if (flags.phashThreshold !== undefined) params.phash_threshold = Math.trunc(flags.phashThreshold);
        if (flags.dhashThreshold !== undefined) params.dhash_threshold = Math.trunc(flags.dhashThreshold);
        if (flags.phashThreshold !== undefined && flags.phashThreshold > 10) params.candidate_radius = Math.trunc(flags.phashThreshold);
        const r = await runDedupDir(dir, flags.out, {
          params, workdir: flags.workdir, workers: flags.workers, reporter, signal: interrupt.signal,
        });
        const dups = r.clusters.reduce((n, c) => n + c.members.length - 1, 0);
        const summary = { images: r.images, clusters: r.clusters.length, duplicates: dups, failed: r.failed.length, out: flags.out };
        if (flags.json) process.stdout.write(JSON.stringify(summary) + '\n');
        else {
          process.stdout.write(
            `${r.images} images: ${r.clusters.length} duplicate clusters, ${dups} duplicates to drop` +
              ` → ${join(flags.out, 'clusters.jsonl')}, ${join(flags.out, 'duplicates.csv')}\n`,
          );
        }
        if (r.failed.length > 0) {
          for (const f of r.failed.slice(0, 10)) process.stderr.write(`imgsift: ${f.path}: ${f.reason}\n`);
          process.stderr.write(`imgsift: ${r.failed.length} image(s) could not be read or decoded; they are in no cluster\n`);
          return EXIT.attention;
        }
        return EXIT.ok;
      } finally {
        interrupt.dispose();
      }
    }),
  );
}
