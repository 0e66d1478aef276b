/**
 * The consumer side of the work queue (`imgsift worker --redis URL`): watch the Redis set where
 * queue builds register their queues, and run each shard job that arrives with buildShard. A job
 * carries the recipe text, so a worker needs only the data and the shared workdir. A job that runs
 * again (a retry, or the job of a worker that died) reruns buildShard, which resumes from the
 * shard's own catalog or skips a shard already marked done: results are never written twice.
 */
import { hostname } from 'node:os';
import { Writable } from 'node:stream';
import { Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { parseRecipe } from '../recipe/load.js';
import { Reporter } from '../exec/reporter.js';
import { ImgsiftError, errorMessage } from '../errors.js';
import { QUEUES_KEY, connectionFor, maskRedisUrl, scrubUrl } from './redis.js';
import type { ShardJobData } from './queue.js';

export interface WorkerTimings {
  /** How long a job's lock lasts without renewal, ms: a dead worker's job is free again after this. */
  lockDuration: number;
  /** How often workers look for jobs whose lock expired, ms. */
  stalledInterval: number;
  /** Times a job may stall (its worker died) before it counts as failed. */
  maxStalledCount: number;
}

export const DEFAULT_TIMINGS: WorkerTimings = { lockDuration: 30_000, stalledInterval: 30_000, maxStalledCount: 2 };

export interface RunWorkerOptions extends Partial<WorkerTimings> {
  redis: string;
  /** Shard jobs this process runs at once (each with its own thread pool). */
  concurrency?: number;
  /** Worker threads per shard build (default: the job's, else the number of cores). */
  workers?: number;
  /** How often the list of build queues is read, ms. */
  pollMs?: number;
  reporter?: Reporter;
  /** Stop taking jobs; the ones in flight finish first. */
  signal?: AbortSignal;
  /** Shown as the job's `processedBy` in the build's progress (default host:pid). */
  name?: string;
}

/** Check a job's data before any work, so a malformed job fails with a message, not a stack. */
export function checkJobData(data: unknown, id: string | undefined): ShardJobData {
  const d = data as Partial<ShardJobData> | null;
  const bad = (what: string) => new ImgsiftError(`job ${id ?? '?'}: ${what}`);
  if (!d || typeof d !== 'object') throw bad('no data');
  if (!d.recipe || typeof d.recipe.text !== 'string' || typeof d.recipe.file !== 'string' || typeof d.recipe.baseDir !== 'string') {
    throw bad('recipe must have text, file and baseDir');
  }
  if (typeof d.workdir !== 'string' || !d.workdir) throw bad('no workdir');
  const s = d.shard;
  if (!s || !Number.isInteger(s.index) || !Number.isInteger(s.count) || s.index < 0 || s.count < 1 || s.index >= s.count) {
    throw bad(`shard must be {index, count} with 0 <= index < count (got ${JSON.stringify(s)})`);
  }
  if (!Array.isArray(d.set) || d.set.some((v) => typeof v !== 'string')) throw bad('set must be a list of KEY=VALUE strings');
  return d as ShardJobData;
}

/**
 * A reporter for one job: its log lines go to the worker's reporter prefixed with the shard, its
 * progress counters to the job (so the build can see them), at most once a second.
 */
function jobReporter(job: Job, parent: Reporter, prefix: string): Reporter {
  let last = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        let ev: { level?: string; msg?: string; event?: string; label?: string; done?: number; total?: number | null };
        try {
          ev = JSON.parse(line);
        } catch {
          continue;
        }
        if (ev.event === 'progress') {
          const now = Date.now();
          if (now - last >= 1000) {
            last = now;
            job.updateProgress({ label: ev.label, done: ev.done, total: ev.total }).catch(() => undefined);
          }
          continue;
        }
        if (ev.level === 'warn') parent.warn(`${prefix} ${ev.msg}`);
        else parent.info(`${prefix} ${ev.msg}`);
      }
      done();
    },
  });
  return new Reporter({ mode: 'json', stream: sink, interval: 1 });
}

/** Run jobs until the signal fires; resolves once the jobs in flight have finished. */
export async function runWorker(options: RunWorkerOptions): Promise<{ jobs: number; failed: number }> {
  const reporter = options.reporter ?? new Reporter();
  const where = maskRedisUrl(options.redis);
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const timings: WorkerTimings = {
    lockDuration: options.lockDuration ?? DEFAULT_TIMINGS.lockDuration,
    stalledInterval: options.stalledInterval ?? DEFAULT_TIMINGS.stalledInterval,
    maxStalledCount: options.maxStalledCount ?? DEFAULT_TIMINGS.maxStalledCount,
  };
  const counts = { jobs: 0, failed: 0 };
  const { buildShard } = await import('./shard-build.js');

  const processor = async (job: Job<ShardJobData>) => {
    const data = checkJobData(job.data, job.id);
    const label = `[shard ${data.shard.index}/${data.shard.count}]`;
    reporter.info(`${label} started (job ${job.id}, attempt ${job.attemptsMade + 1})`);
    counts.jobs++;
    try {
      const recipe = parseRecipe(data.recipe.text, data.recipe.file, data.recipe.baseDir, { set: data.set });
      const stats = await buildShard(recipe, {
        shard: data.shard, workdir: data.workdir, set: data.set, reporter: jobReporter(job, reporter, label), workers: options.workers ?? data.workers, shardsUri: data.shardsUri,
      });
      reporter.info(`${label} done: ${stats.skipped ? 'already done before' : `${stats.samples} samples, ${stats.computed} computed`}`);
      return stats;
    } catch (err) {
      counts.failed++;
      reporter.warn(`${label} failed: ${errorMessage(err)}`);
      throw err;
    }
  };

  const client = new Redis(options.redis, { maxRetriesPerRequest: 1, lazyConnect: true });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    throw new ImgsiftError(`redis ${where}: ${scrubUrl(errorMessage(err), options.redis)}`, 1);
  }
  const workers = new Map<string, Worker<ShardJobData>>();
  reporter.info(`worker ${name} on ${where}: waiting for shard jobs (concurrency ${options.concurrency ?? 1})`);
  try {
    while (!options.signal?.aborted) {
      let queues: string[];
      try {
        queues = await client.smembers(QUEUES_KEY);
      } catch (err) {
        reporter.warn(`redis ${where}: ${scrubUrl(errorMessage(err), options.redis)}; trying again`);
        queues = [...workers.keys()];
      }
      for (const q of queues) {
        if (workers.has(q)) continue;
        const w = new Worker<ShardJobData>(q, processor, {
          connection: connectionFor(options.redis), concurrency: options.concurrency ?? 1, name, ...timings,
        });
        w.on('error', (err) => reporter.warn(`queue ${q}: ${scrubUrl(errorMessage(err), options.redis)}`));
        workers.set(q, w);
        reporter.info(`following queue ${q}`);
      }
      // A build that finished removed its queue from the set: stop following it.
      for (const [q, w] of workers) {
        if (queues.includes(q)) continue;
        workers.delete(q);
        await w.close();
      }
      await sleep(options.pollMs ?? 1000, options.signal);
    }
  } finally {
    // close() lets the jobs in flight finish; their shards are then complete and marked.
    await Promise.all([...workers.values()].map((w) => w.close()));
    client.disconnect();
  }
  return counts;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
