import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { SampleTask, SampleTaskResult } from './task.js';

export interface PoolOptions {
  /** Worker threads (default: the number of cores). */
  workers?: number;
  /** A task running longer than this is abandoned and its worker replaced (default 120 s; a group gets this per task). */
  taskTimeoutMs?: number;
}

interface Job {
  id: number;
  tasks: SampleTask[];
  resolve: (r: SampleTaskResult[]) => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  timer?: NodeJS.Timeout;
}

const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);

/** Start a worker thread; under tsx (tests, dev) the TypeScript loader is registered first. */
function spawnWorker(): Worker {
  if (WORKER_URL.pathname.endsWith('.ts')) {
    const code = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
    return new Worker(code, { eval: true });
  }
  return new Worker(WORKER_URL);
}

/**
 * A fixed set of worker threads running per-sample tasks. `run` queues a task (`runGroup`, a group
 * of tasks a worker runs step by step, so batching steps see them together) and resolves with its
 * result; it never rejects for a bad sample: a worker that crashes or hangs is replaced and its
 * samples get a failed outcome with the reason. Callers bound the queue (back-pressure) by
 * awaiting `waitForRoom` before submitting.
 */
export class WorkerPool {
  readonly size: number;
  private readonly timeoutMs: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private roomWaiters: Array<() => void> = [];

  constructor(options: PoolOptions = {}) {
    this.size = Math.max(1, options.workers ?? availableParallelism());
    this.timeoutMs = options.taskTimeoutMs ?? 120_000;
    for (let i = 0; i < this.size; i++) this.slots.push(this.startSlot());
  }

  /** Jobs (tasks or groups) queued or running. */
  get pending(): number {
    return this.queue.length + this.slots.filter((s) => s.job).length;
  }

  /** Resolves once fewer than `limit` tasks are pending (for one submitter that awaits it before each `run`). */
  async waitForRoom(limit = this.size * 4): Promise<void> {
    while (this.pending >= limit) {
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  async run(task: SampleTask): Promise<SampleTaskResult> {
    return (await this.runGroup([task]))[0];
  }

  /** Run tasks that need the same steps in one worker, together; one result per task, in order. */
  runGroup(tasks: SampleTask[]): Promise<SampleTaskResult[]> {
    if (this.closed) return Promise.reject(new Error('worker pool is closed'));
    if (tasks.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, tasks, resolve });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private startSlot(): Slot {
    const slot: Slot = { worker: spawnWorker() };
    slot.worker.on('message', (msg: { id: number; results?: SampleTaskResult[]; error?: string }) => {
      const job = slot.job;
      if (!job || job.id !== msg.id) return;
      this.finish(slot, msg.results ?? failed(job.tasks, `worker error: ${msg.error}`));
    });
    slot.worker.on('error', (err) => this.replace(slot, `worker crashed: ${err.message}`));
    slot.worker.on('exit', (code) => {
      if (!this.closed) this.replace(slot, `worker exited with code ${code}`);
    });
    slot.worker.unref();
    return slot;
  }

  /** A worker died or hung: fail its samples, start a fresh worker in its place. */
  private replace(slot: Slot, reason: string): void {
    const index = this.slots.indexOf(slot);
    if (index < 0) return;
    const job = slot.job;
    if (slot.timer) clearTimeout(slot.timer);
    slot.worker.removeAllListeners();
    void slot.worker.terminate();
    this.slots[index] = this.startSlot();
    if (job && job.tasks.length > 1 && !this.closed) {
      // Which sample brought the worker down? Rerun the group's tasks one by one: only it fails.
      void Promise.all(job.tasks.map((t) => this.run(t))).then(job.resolve, () => job.resolve(failed(job.tasks, reason)));
    } else if (job) {
      job.resolve(failed(job.tasks, reason));
    }
    this.dispatch();
  }

  private finish(slot: Slot, results: SampleTaskResult[]): void {
    const job = slot.job;
    if (slot.timer) clearTimeout(slot.timer);
    slot.job = undefined;
    slot.timer = undefined;
    job?.resolve(results);
    this.dispatch();
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      const limit = this.timeoutMs * job.tasks.length;
      slot.timer = setTimeout(() => this.replace(slot, `timed out after ${limit} ms`), limit);
      slot.worker.postMessage({ id: job.id, tasks: job.tasks });
    }
    // Wake every waiter; each re-checks its own limit.
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }
}

/** The results of tasks whose worker crashed or hung: failed, and not to be cached (they may pass next time). */
function failed(tasks: SampleTask[], reason: string): SampleTaskResult[] {
  return tasks.map((task) => ({
    sampleId: task.sampleId,
    uri: task.uri,
    sha256: task.sha256,
    outcomes: task.steps.map((s) => ({
      step: s.name, paramsHash: s.paramsHash, ok: false, error: reason, elapsedMs: 0, transient: true,
    })),
  }));
}
