/**
 * The producer side of a queue build (`imgsift build R --queue redis://…`): split the recipe's
 * samples into N shards, put one BullMQ job per shard on a queue of this build's own, and wait while
 * any number of `imgsift worker` processes run them. BullMQ's stalled-job check hands the job of a
 * worker that died to another one; a job that fails `attempts` times fails the build with the list.
 * Merging the finished shards is the caller's (exec/build.ts with `merge`).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { loadRecipe } from '../recipe/load.js';
import type { Recipe } from '../recipe/schema.js';
import { createSource } from '../sources/index.js';
import { fetchSourceFile, isHttpUrl } from '../sources/remote.js';
import { EXIT, ImgsiftError, UsageError, errorMessage } from '../errors.js';
import { sha256Hex, stableStringify } from '../util/hash.js';
import { Reporter } from '../exec/reporter.js';
import { resolveWorkdir } from '../exec/build.js';
import type { ShardStats } from './shard.js';
import { QUEUES_KEY, connectionFor, maskRedisUrl, scrubUrl } from './redis.js';

/** What a worker needs to build one shard: everything travels in the job, nothing on the worker's disk but the data. */
export interface ShardJobData {
  /** The recipe's text, where it was read from (for messages) and where its relative paths resolve. */
  recipe: { file: string; text: string; baseDir: string };
  /** `--set` overrides, applied by the worker when it parses the text. */
  set: string[];
  /** Absolute workdir on storage every worker sees; the shard writes `<workdir>/shards/<I>/`. */
  workdir: string;
  shard: { index: number; count: number };
  /** Worker threads per shard build (the worker's own `--workers` wins). */
  workers?: number;
  /** s3://bucket/prefix the finished shard folder is uploaded to (`--shards-uri`). */
  shardsUri?: string;
}

/** Samples per job when `--batches` is not given. */
export const DEFAULT_BATCH_SIZE = 1000;

export interface QueueBuildOptions {
  /** redis://[:password@]host:port/db */
  redis: string;
  /** Number of shard jobs; default ceil(samples / batchSize). */
  batches?: number;
  batchSize?: number;
  /** Runs of one job before the build gives up on it (a stalled job is retried apart from these). */
  attempts?: number;
  workdir?: string;
  set?: readonly string[];
  workers?: number;
  shardsUri?: string;
  reporter?: Reporter;
  signal?: AbortSignal;
  /** How often the build looks at its jobs, ms. */
  pollMs?: number;
}

export interface QueueWaitResult {
  queue: string;
  workdir: string;
  shards: number;
  /** The recipe as loaded (with `--set`), for the merge. */
  recipe: Recipe;
  /** Per shard: the worker that finished it and what its build returned. */
  finished: Array<{ index: number; worker?: string; stats: ShardStats }>;
}

/** One queue per build: the same workdir, recipe text, overrides and shard count give the same name. */
export function queueNameFor(workdir: string, recipeText: string, set: readonly string[], shards: number): string {
  return `imgsift-${sha256Hex(stableStringify({ workdir, recipeText, set: [...set], shards })).slice(0, 16)}`;
}

/** The job id of shard I of N: adding it twice (a rerun of the build) keeps one job. */
export function jobIdOf(index: number, count: number): string {
  return `shard-${index}-of-${count}`;
}

/** Records the recipe's sources yield (no image is opened): the basis of the default shard count. */
export async function countSourceRecords(recipe: Recipe, workdir: string): Promise<number> {
  let n = 0;
  for (const { config } of recipe.sources ?? [{ config: recipe.source }]) {
    const path = isHttpUrl(config.path) ? await fetchSourceFile(config.path, workdir) : config.path;
    const source = createSource({ ...config, path }, recipe.baseDir);
    for await (const _ of source.read({ onBadRow: () => undefined })) n++;
  }
  return n;
}

/**
 * Enqueue the shard jobs of a build and wait until every one is done. Rerunning the same command
 * after an interruption finds the same queue and jobs: finished ones count at once, failed ones are
 * retried, the rest are waited for.
 */
export async function runQueueJobs(recipeFile: string, options: QueueBuildOptions): Promise<QueueWaitResult> {
  const reporter = options.reporter ?? new Reporter();
  const set = [...(options.set ?? [])];
  const file = resolve(recipeFile);
  const recipe = await loadRecipe(file, { set });
  const text = await readFile(file, 'utf8');
  const workdir = resolveWorkdir(recipe, options.workdir);
  let shards = options.batches;
  if (shards === undefined) {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const records = await countSourceRecords(recipe, workdir);
    if (records === 0) throw new ImgsiftError(`${recipe.file}: the source has no samples: nothing to build`, EXIT.attention);
    shards = Math.ceil(records / batchSize);
    reporter.info(`${records} source records in batches of ${batchSize}: ${shards} shard job${shards > 1 ? 's' : ''}`);
  }
  if (!Number.isInteger(shards) || shards < 1) throw new UsageError(`--batches must be a whole number >= 1 (got ${shards})`);

  const name = queueNameFor(workdir, text, set, shards);
  const where = maskRedisUrl(options.redis);
  // The set of live build queues is plain Redis; a client that fails fast says when Redis is not there.
  const client = new Redis(options.redis, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new ImgsiftError(`redis ${where}: ${scrubUrl(errorMessage(err), options.redis)}`, EXIT.attention);
  }
  const queue = new Queue<ShardJobData>(name, { connection: connectionFor(options.redis) });
  // A Redis that is down would otherwise be retried for ever, silently.
  const connectError = new Promise<never>((_, reject) => {
    queue.on('error', (err) => reject(new ImgsiftError(`redis ${where}: ${scrubUrl(errorMessage(err), options.redis)}`, EXIT.attention)));
  });
  connectError.catch(() => undefined);
  try {
    await client.sadd(QUEUES_KEY, name);
    const data = (index: number): ShardJobData => ({
      recipe: { file, text, baseDir: recipe.baseDir }, set, workdir, shard: { index, count: shards }, ...(options.workers ? { workers: options.workers } : {}),
      ...(options.shardsUri ? { shardsUri: options.shardsUri } : {}),
    });
    await queue.addBulk(Array.from({ length: shards }, (_, i) => ({
      name: 'shard',
      data: data(i),
      opts: { jobId: jobIdOf(i, shards), attempts: options.attempts ?? 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false },
    })));
    reporter.info(`queue ${name} on ${where}: ${shards} shard jobs for ${workdir}`);
    const workers = await queue.getWorkersCount().catch(() => 0);
    if (workers === 0) reporter.info(`no worker is connected yet: start some with \`imgsift worker --redis ${where}\``);

    const result = await waitForJobs(queue, shards, { reporter, signal: options.signal, pollMs: options.pollMs ?? 500, connectError });
    // Every shard is done and marked on disk: the queue has served its purpose.
    await client.srem(QUEUES_KEY, name);
    await queue.obliterate({ force: true }).catch(() => undefined);
    return { queue: name, workdir, shards, recipe, finished: result };
  } finally {
    await queue.close().catch(() => undefined);
    client.disconnect();
  }
}

async function waitForJobs(
  queue: Queue<ShardJobData>,
  shards: number,
  opts: { reporter: Reporter; signal?: AbortSignal; pollMs: number; connectError: Promise<never> },
): Promise<QueueWaitResult['finished']> {
  const startedAt = Date.now();
  const progress = opts.reporter.progress('queue: shards', shards);
  const finished = new Map<number, QueueWaitResult['finished'][number]>();
  const retried = new Set<number>();
  const failed = new Map<number, string>();
  const seenActive = new Map<number, string>();
  while (finished.size + failed.size < shards) {
    if (opts.signal?.aborted) {
      throw new ImgsiftError(
        `interrupted; ${finished.size}/${shards} shards done. The jobs stay queued (workers go on): run the same command again to wait for them and merge`,
        130,
      );
    }
    for (let i = 0; i < shards; i++) {
      if (finished.has(i) || failed.has(i)) continue;
      const job: Job<ShardJobData> | undefined = await Promise.race([queue.getJob(jobIdOf(i, shards)), opts.connectError]);
      if (!job) throw new ImgsiftError(`queue ${queue.name}: job ${jobIdOf(i, shards)} disappeared (was the queue emptied by hand?): run the build again`, EXIT.attention);
      const state = await job.getState();
      if (state === 'completed') {
        const stats = job.returnvalue as unknown as ShardStats;
        finished.set(i, { index: i, worker: job.processedBy, stats });
        progress.tick();
        const what = stats?.skipped ? 'already done' : `${stats?.samples ?? '?'} samples, ${stats?.computed ?? '?'} computed`;
        opts.reporter.info(`shard ${i}/${shards} done${job.processedBy ? ` by ${job.processedBy}` : ''}: ${what}${job.attemptsMade > 1 ? ` (attempt ${job.attemptsMade})` : ''}`);
      } else if (state === 'failed') {
        // A job left failed by an earlier run of this build gets its attempts again, once.
        if (!retried.has(i) && job.finishedOn !== undefined && job.finishedOn < startedAt) {
          retried.add(i);
          await job.retry('failed');
          continue;
        }
        failed.set(i, job.failedReason || 'failed');
        progress.tick(1, 1);
      } else if (state === 'active' && job.processedBy && seenActive.get(i) !== job.processedBy) {
        if (seenActive.has(i)) opts.reporter.warn(`shard ${i}/${shards}: worker ${seenActive.get(i)} stopped; retried by ${job.processedBy}`);
        seenActive.set(i, job.processedBy);
      }
    }
    if (finished.size + failed.size < shards) await new Promise((r) => setTimeout(r, opts.pollMs));
  }
  progress.finish();
  if (failed.size) {
    const list = [...failed].sort((a, b) => a[0] - b[0]).map(([i, why]) => `  shard ${i}/${shards} (${jobIdOf(i, shards)}): ${why}`);
    throw new ImgsiftError(
      `${failed.size} of ${shards} shard jobs failed after their attempts:\n${list.join('\n')}\n` +
        `fix the cause and run the same command again: finished shards are kept, failed ones are retried`,
      EXIT.attention,
    );
  }
  return [...finished.values()].sort((a, b) => a.index - b.index);
}
