import { parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { runSampleTask } from './run-sample.js';
import type { SampleTask } from './task.js';

/** Worker thread entry: runs sample tasks posted by the pool, one at a time. */
const port = parentPort;
if (!port) throw new Error('exec/worker.ts must run in a worker thread');

// One libvips thread per worker: the pool already spreads work over the cores.
sharp.concurrency((workerData as { sharpThreads?: number } | undefined)?.sharpThreads ?? 1);
sharp.cache(false);

port.on('message', (msg: { id: number; task: SampleTask }) => {
  runSampleTask(msg.task).then(
    (result) => port.postMessage({ id: msg.id, result }),
    (err: unknown) => port.postMessage({ id: msg.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
