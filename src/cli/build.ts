import type { Command } from 'commander';
import { action, parsePositiveInt, reporterFor, withOutputFlags, type CliState, type OutputFlags } from './common.js';
import { interruptSignal } from './signals.js';
import { UsageError } from '../errors.js';
import type { ShardStats } from '../distrib/shard.js';

/** A shard build's outcome in a few lines: samples, work done, where the marker is. */
export function formatShardStats(s: ShardStats): string {
  const head = `shard ${s.shard.index}/${s.shard.count} of '${s.recipe}': ` +
    (s.skipped ? `already done, nothing to do (${s.samples} samples)` : `${s.samples} samples, ${s.computed} computed, ${s.seconds.toFixed(1)} s`);
  const lines = [head];
  if (!s.skipped) {
    for (const st of s.steps) {
      const figures = Object.entries(st.stats).map(([k, v]) => `${k} ${v}`).join(', ');
      lines.push(`  ${st.name}${figures ? `: ${figures}` : ''}`);
    }
  }
  for (const a of s.attention) lines.push(`attention: ${a}`);
  lines.push(`marker: ${s.dir}/done.json`);
  return lines.join('\n');
}

/** The rows --skip-bad-rows skipped: the first ones with file:line and reason, and where the rest are. */
export function formatBadRows(ingest: { badRows: number; badRowExamples: string[]; badRowsFile?: string }): string {
  if (ingest.badRows === 0) return '';
  const shown = ingest.badRowExamples.length;
  const lines = [
    `imgsift: ${ingest.badRows} bad row(s) skipped` +
      (shown < ingest.badRows ? `, the first ${shown}:` : ':'),
    ...ingest.badRowExamples.map((e) => `  ${e}`),
  ];
  if (ingest.badRowsFile) lines.push(`imgsift: every skipped row, with its reason: ${ingest.badRowsFile}`);
  return lines.join('\n') + '\n';
}

interface BuildFlags extends OutputFlags {
  maxSamples?: number;
  dev?: boolean;
  skipBadRows?: boolean;
  workers?: number;
  workdir?: string;
  set: string[];
  tag?: string;
  shard?: string;
  merge?: boolean;
  partial?: boolean;
  shardsUri?: string;
  queue?: string;
  batches?: number;
  batchSize?: number;
  attempts?: number;
}

export function registerBuild(program: Command, state: CliState): void {
  withOutputFlags(
    program
      .command('build')
      .description('run a recipe: ingest the source, run its steps, write its exports, print the summary')
      .argument('<recipe>', 'recipe YAML file')
      .option('--max-samples <n>', 'process only the first N samples of the source', parsePositiveInt('--max-samples'))
      .option('--dev', 'development mode: extract shards locally instead of uploading', false)
      .option('--skip-bad-rows', 'go on past malformed manifest rows, counting them (default: stop at the first)', false)
      .option('--workers <n>', 'worker threads for per-sample steps (default: number of cores)', parsePositiveInt('--workers'))
      .option('--workdir <dir>', "catalog folder (default: the recipe's workdir, else .imgsift/<name>)")
      .option('--tag <name>', "name this build's dataset version (v5); imgsift runs / diff / export --tag read it")
      .option('--shard <I/N|auto>', 'array job: run shard I of N (0-based) into <workdir>/shards/I; auto reads the scheduler (JOB_COMPLETION_INDEX+IMGSIFT_SHARDS, SLURM_ARRAY_*, AWS_BATCH_JOB_ARRAY_*)')
      .option('--merge', 'fold the finished shards of <workdir>/shards into the catalog, then run whole-dataset steps and exports', false)
      .option('--partial', 'with --merge: go on when shards are missing (their samples are computed here)', false)
      .option('--shards-uri <s3://bucket/prefix>', 'shard folders on S3: --shard uploads its folder there, --merge copies them back first')
      .option('--queue <redis-url>', 'work queue: enqueue the shards for `imgsift worker` processes (BullMQ on redis://[:password@]host:port/db), wait, then merge')
      .option('--batches <n>', 'with --queue: number of shard jobs (default: samples / --batch-size)', parsePositiveInt('--batches'))
      .option('--batch-size <n>', 'with --queue: samples per shard job when --batches is not given (default 1000)', parsePositiveInt('--batch-size'))
      .option('--attempts <n>', 'with --queue: runs of a failing shard job before the build gives up (default 3)', parsePositiveInt('--attempts'))
      .option('--set <key=value>', 'override a recipe value, e.g. steps[2].quality.min_side=768 (repeatable)', (v: string, prev: string[]) => [...prev, v], []),
  ).action(
    action(state, async (recipe: string, flags: BuildFlags) => {
      const { build } = await import('../exec/build.js');
      const { formatSummary } = await import('../report/summary.js');
      const reporter = reporterFor(flags);
      if (flags.partial && !flags.merge) throw new UsageError('--partial goes with --merge');
      if (flags.shardsUri && !flags.merge && flags.shard === undefined) throw new UsageError('--shards-uri goes with --shard or --merge');
      if (flags.shard !== undefined) {
        if (flags.merge) throw new UsageError('--shard and --merge are two phases of an array build: give one of them');
        const { resolveShardFlag } = await import('../distrib/shard.js');
        const { buildShard } = await import('../distrib/shard-build.js');
        const interrupt = interruptSignal(reporter);
        try {
          const stats = await buildShard(recipe, {
            shard: resolveShardFlag(flags.shard), workdir: flags.workdir, set: flags.set, reporter, signal: interrupt.signal,
            workers: flags.workers, skipBadRows: flags.skipBadRows, maxSamples: flags.maxSamples, shardsUri: flags.shardsUri, argv: process.argv.slice(2),
          });
          if (flags.json) process.stdout.write(JSON.stringify(stats) + '\n');
          else process.stdout.write(formatShardStats(stats) + '\n');
          return stats.exitCode;
        } finally {
          interrupt.dispose();
        }
      }
      if (flags.queue !== undefined) {
        if (flags.shard !== undefined || flags.merge) throw new UsageError('--queue runs the shards and the merge itself: leave out --shard and --merge');
        if (flags.maxSamples !== undefined) throw new UsageError('--max-samples does not go with --queue (shards take whole sources)');
        const { parseRedisUrl } = await import('../distrib/redis.js');
        const redis = parseRedisUrl(flags.queue, '--queue');
        const { runQueueJobs } = await import('../distrib/queue.js');
        const waiting = interruptSignal(reporter);
        try {
          await runQueueJobs(recipe, {
            redis, batches: flags.batches, batchSize: flags.batchSize, attempts: flags.attempts, workdir: flags.workdir, set: flags.set,
            workers: flags.workers, shardsUri: flags.shardsUri, reporter, signal: waiting.signal,
          });
        } finally {
          waiting.dispose();
        }
        flags.merge = true;
      } else if (flags.batches !== undefined || flags.batchSize !== undefined || flags.attempts !== undefined) {
        throw new UsageError('--batches, --batch-size and --attempts go with --queue');
      }
      const interrupt = interruptSignal(reporter);
      try {
        const result = await build(recipe, {
          maxSamples: flags.maxSamples, dev: flags.dev, skipBadRows: flags.skipBadRows, workers: flags.workers,
          workdir: flags.workdir, set: flags.set, reporter, signal: interrupt.signal, argv: process.argv.slice(2), tag: flags.tag,
          merge: flags.merge, partial: flags.partial, shardsUri: flags.shardsUri,
        });
        if (flags.json) process.stdout.write(JSON.stringify(result.summary) + '\n');
        else {
          process.stderr.write(formatBadRows(result.summary.ingest));
          process.stdout.write(formatSummary(result.summary) + '\n');
        }
        return result.exitCode;
      } finally {
        interrupt.dispose();
      }
    }),
  );
}
