import { parentPort, workerData } from 'node:worker_threads';
import sharp from '../image/sharp.js';
import { runSampleGroup } from './run-sample.js';
import type { SampleTask } from './task.js';

/** Worker thread entry: runs the groups of sample tasks posted by the pool, one group at a time. */
const port = parentPort;
if (!port) throw new Error('exec/worker.ts must run in a worker thread');

// One libvips thread per worker: the pool already spreads work over the cores.
sharp.concurrency((workerData as { sharpThreads?: number } | undefined)?.sharpThreads ?? 1);
sharp.cache(false);

port.on('message', (msg: { id: number; tasks: SampleTask[] }) => {
  runSampleGroup(msg.tasks).then(
    (results) => port.postMessage({ id: msg.id, results }),
    (err: unknown) => port.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
