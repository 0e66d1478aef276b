import type { Command } from 'commander';
import { action, parsePositiveInt, reporterFor, withOutputFlags, type CliState, type OutputFlags } from './common.js';
import { interruptSignal } from './signals.js';

interface WorkerFlags extends OutputFlags {
  redis: string;
  concurrency: number;
  workers?: number;
  lockDuration?: number;
  stalledInterval?: number;
  maxStalled?: number;
  name?: string;
}

export function registerWorker(program: Command, state: CliState): void {
  withOutputFlags(
    program
      .command('worker')
      .description('run shard jobs of queue builds (`imgsift build R --queue URL`) from Redis until stopped')
      .requiredOption('--redis <url>', 'redis://[:password@]host:port/db (env IMGSIFT_REDIS)', process.env.IMGSIFT_REDIS)
      .option('--concurrency <n>', 'shard jobs run at once by this process', parsePositiveInt('--concurrency'), 1)
      .option('--workers <n>', 'worker threads per shard build (default: number of cores)', parsePositiveInt('--workers'))
      .option('--lock-duration <ms>', "a job's lock time: a dead worker's job is retried after it (default 30000)", parsePositiveInt('--lock-duration'))
      .option('--stalled-interval <ms>', 'how often to look for jobs of dead workers (default 30000)', parsePositiveInt('--stalled-interval'))
      .option('--max-stalled <n>', 'times a job may lose its worker before it fails (default 2)', parsePositiveInt('--max-stalled'))
      .option('--name <name>', 'name shown in the build progress (default host:pid)'),
  ).action(
    action(state, async (flags: WorkerFlags) => {
      const { parseRedisUrl } = await import('../distrib/redis.js');
      const redis = parseRedisUrl(flags.redis, '--redis');
      const { runWorker } = await import('../distrib/worker.js');
      const reporter = reporterFor(flags);
      const interrupt = interruptSignal(reporter);
      try {
        const r = await runWorker({
          redis, concurrency: flags.concurrency, workers: flags.workers, lockDuration: flags.lockDuration,
          stalledInterval: flags.stalledInterval, maxStalledCount: flags.maxStalled, name: flags.name, reporter, signal: interrupt.signal,
        });
        reporter.info(`worker stopped: ${r.jobs} job(s) run, ${r.failed} failed`);
        return 0;
      } finally {
        interrupt.dispose();
      }
    }),
  );
}
