import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { asStorageError } from '../errors.js';
import { packWorkerSource } from './tar-pack-worker.js';
import { ustarHeader } from './tar.js';

/**
 * Tar shards packed on worker threads (tar-pack-worker.ts): the main thread only says which
 * members go in, in order — a file's path, or bytes it made — and each shard's thread reads the
 * files, writes headers and padding, hashes and writes the shard. Shards are spread over the
 * threads, so a multi-core machine writes several at once; the output is the same bytes
 * whatever the number of threads, since one shard is always one thread's, in order.
 */

/**
 * A member as the thread receives it: its header at `header` in the message's inline buffer, then
 * `size` bytes from the file `path` or at `data` in the inline buffer.
 */
export interface PackMember {
  name: string;
  header: number;
  size: number;
  path?: string;
  data?: number;
}

export interface PackSample {
  /** The sample's id, to report it when it has to be left out. */
  id: string;
  members: PackMember[];
}

export type PackRequest =
  | { op: 'open'; id: number; file: string; devDir: string | null }
  | { op: 'add'; id: number; samples: PackSample[]; inline: ArrayBuffer }
  | { op: 'finish'; id: number }
  | { op: 'abort'; id: number }
  | { op: 'md5'; id: number; file: string };

export type PackReply =
  | { op: 'ack'; id: number }
  | { op: 'done'; id: number; size: number; md5: string; nsamples: number; skipped: Array<{ id: string; error: string }> }
  | { op: 'aborted'; id: number }
  | { op: 'md5'; id: number; size: number; md5: string }
  | { op: 'error'; id: number; message: string; code?: string; path?: string };

/** A member to pack: a local file of `size` bytes (read by the packing thread), or bytes. */
export type MemberInput = { name: string; path: string; size: number } | { name: string; data: Uint8Array };

export interface PackedShardResult {
  size: number;
  md5: string;
  nsamples: number;
  /** Samples left out because one of their files could not be read when packed. */
  skipped: Array<{ id: string; error: string }>;
}

/** Samples per message, and inline bytes that end a message early. */
const BATCH_SAMPLES = 64;
const BATCH_INLINE_BYTES = 1 << 20;
/**
 * What a shard may have queued for its thread before `add` waits: enough that the main thread
 * plans a whole shard and goes on to the next (on another thread) while this one is packed —
 * planning is far quicker than packing, so a short queue would leave one thread working at a
 * time. Paths cost little; bytes made on the main thread (converted images) are bounded.
 */
const MAX_UNACKED = 256;
const MAX_UNACKED_BYTES = 64 << 20;

interface Pending {
  resolve: (reply: PackReply) => void;
  reject: (err: unknown) => void;
}

interface Thread {
  worker: Worker;
  /** Per request id: replies expected, in order. */
  waiting: Map<number, Pending[]>;
  /** Samples sent and not yet packed: a new shard goes to the thread with the least work left. */
  queued: number;
}

function replyError(r: Extract<PackReply, { op: 'error' }>): unknown {
  const err = Object.assign(new Error(r.message), { code: r.code });
  return asStorageError(err, r.path);
}

export class TarPacker {
  private readonly threads: Thread[] = [];
  private nextId = 1;
  get size(): number {
    return this.threads.length;
  }
  private failure: Error | undefined;

  /** `threads`: default up to 4, one per core. */
  constructor(threads = Math.min(4, availableParallelism())) {
    for (let i = 0; i < Math.max(1, threads); i++) this.threads.push(this.start());
  }

  private start(): Thread {
    // Plain CommonJS in a clean thread: no inherited flags (a loader such as tsx, --input-type=module).
    const worker = new Worker(packWorkerSource, { eval: true, execArgv: [] });
    const t: Thread = { worker, waiting: new Map(), queued: 0 };
    worker.on('message', (r: PackReply) => {
      const queue = t.waiting.get(r.id);
      const p = queue?.shift();
      if (queue && queue.length === 0) t.waiting.delete(r.id);
      if (!p) return;
      // After an error the thread answers every later request about that shard with the same error.
      if (r.op === 'error') p.reject(replyError(r));
      else p.resolve(r);
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      for (const queue of t.waiting.values()) for (const p of queue) p.reject(err);
      t.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`tar packing thread exited with code ${code}`)));
    return t;
  }

  /** Send a request whose reply (or error) settles the returned promise. */
  request(t: Thread, m: PackRequest, transfer: ArrayBuffer[] = []): Promise<PackReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<PackReply>((resolve, reject) => {
      if (!t.waiting.has(m.id)) t.waiting.set(m.id, []);
      t.waiting.get(m.id)!.push({ resolve, reject });
      t.worker.postMessage(m, transfer);
    });
  }

  /** Start a shard written to the local file `file` (created); `devDir`: also write each member there. */
  open(file: string, devDir: string | null): PackedShard {
    // The least loaded thread; ties go round, so equal shards alternate.
    let t = this.threads[this.nextId % this.threads.length];
    for (const c of this.threads) if (c.queued < t.queued) t = c;
    return new PackedShard(this, t, this.nextId++, file, devDir);
  }

  /** Size and md5 of a local file, read on a packing thread. */
  async md5(file: string): Promise<{ size: number; md5: string }> {
    const t = this.threads[this.nextId % this.threads.length];
    const r = await this.request(t, { op: 'md5', id: this.nextId++, file });
    if (r.op !== 'md5') throw new Error(`unexpected reply ${r.op}`);
    return { size: r.size, md5: r.md5 };
  }

  async close(): Promise<void> {
    this.failure ??= new Error('tar packer closed');
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}

export class PackedShard {
  private samples: PackSample[] = [];
  private inline: Uint8Array[] = [];
  private inlineBytes = 0;
  private unacked: Array<{ reply: Promise<PackReply>; bytes: number }> = [];
  private unackedBytes = 0;
  private ended = false;

  constructor(
    private readonly packer: TarPacker,
    private readonly thread: Thread,
    private readonly id: number,
    file: string,
    devDir: string | null,
  ) {
    // 'open' has no reply of its own: its failure comes back as the reply to the first later request.
    thread.worker.postMessage({ op: 'open', id, file, devDir } satisfies PackRequest);
  }

  /** Queue a sample; throws (before anything is queued) when a member name does not fit USTAR. */
  async add(id: string, members: MemberInput[]): Promise<void> {
    const headers = members.map((m) => ustarHeader(m.name, 'path' in m ? m.size : m.data.byteLength));
    const put = (bytes: Uint8Array) => {
      this.inline.push(bytes);
      this.inlineBytes += bytes.byteLength;
      return this.inlineBytes - bytes.byteLength;
    };
    this.samples.push({
      id,
      members: members.map((m, i): PackMember => {
        const header = put(headers[i]);
        if ('path' in m) return { name: m.name, header, size: m.size, path: m.path };
        return { name: m.name, header, size: m.data.byteLength, data: put(m.data) };
      }),
    });
    if (this.samples.length >= BATCH_SAMPLES || this.inlineBytes >= BATCH_INLINE_BYTES) await this.send();
  }

  private async send(): Promise<void> {
    if (this.samples.length === 0) return;
    const inline = new Uint8Array(this.inlineBytes);
    let at = 0;
    for (const c of this.inline) {
      inline.set(c, at);
      at += c.byteLength;
    }
    const reply = this.packer.request(this.thread, { op: 'add', id: this.id, samples: this.samples, inline: inline.buffer }, [inline.buffer]);
    const n = this.samples.length;
    this.thread.queued += n;
    reply.then(() => (this.thread.queued -= n), () => (this.thread.queued -= n));
    this.unacked.push({ reply, bytes: inline.byteLength });
    this.unackedBytes += inline.byteLength;
    this.samples = [];
    this.inline = [];
    this.inlineBytes = 0;
    while (this.unacked.length > MAX_UNACKED || this.unackedBytes > MAX_UNACKED_BYTES) {
      const oldest = this.unacked.shift()!;
      this.unackedBytes -= oldest.bytes;
      await oldest.reply;
    }
  }

  /** Write the end of the archive, fsync and close the file. */
  async finish(): Promise<PackedShardResult> {
    try {
      await this.send();
      await Promise.all(this.unacked.map((u) => u.reply));
      const r = await this.packer.request(this.thread, { op: 'finish', id: this.id });
      if (r.op !== 'done') throw new Error(`unexpected reply ${r.op}`);
      return { size: r.size, md5: r.md5, nsamples: r.nsamples, skipped: r.skipped };
    } finally {
      this.end();
    }
  }

  /** Stop writing the shard (the caller removes the file). */
  async abort(): Promise<void> {
    if (this.ended) return;
    await Promise.allSettled(this.unacked.map((u) => u.reply));
    await this.packer.request(this.thread, { op: 'abort', id: this.id }).catch(() => undefined);
    this.end();
  }

  private end(): void {
    this.ended = true;
  }
}
