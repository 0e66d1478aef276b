import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { asStorageError } from '../errors.js';
import { acquireHasher, XXH128_MODULE } from './content-hash.js';
import { packLane, packWorkerSource, type PackLane, type PackWorkerData } from './tar-pack-lane.js';
import { checkUstarMember, fillUstarHeader, tarEntryBytes, USTAR_TEMPLATE } from './tar.js';
import { Writeback } from './writeback.js';

/**
 * Tar shards packed in lanes (tar-pack-lane.ts): this thread says which members go in, in order —
 * each one's name and size, then a file's path or bytes it made — and the shard's lane writes the
 * headers, reads the files, pads, hashes and writes the shard. One lane is this thread, packing
 * between its other work; the others are worker threads. Shards go to lanes as they free up, so
 * a multi-core machine writes several at once; the output is the same bytes whatever the number
 * of lanes, since one shard is always one lane's, in order.
 */

/**
 * A batch of samples as the lane receives it, in columns (cheap to pass between threads):
 * sample i has `counts[i]` members; member j is named `names[j]` and described by
 * `members[2j..2j+1]` = [its size, -1 for a file (the next of `paths`) or the offset of its bytes
 * in `inline`]. `inline` only when a member of the batch has bytes.
 */
export interface PackBatch {
  ids: string[];
  counts: Int32Array;
  names: string[];
  members: Float64Array;
  paths: string[];
  inline: ArrayBuffer | null;
}

export type PackRequest =
  | { op: 'open'; id: number; file: string; devDir: string | null; md5: boolean }
  | ({ op: 'add'; id: number } & PackBatch)
  | { op: 'finish'; id: number }
  | { op: 'abort'; id: number };

export type PackReply =
  | { op: 'ack'; id: number; inline: ArrayBuffer | null }
  | { op: 'done'; id: number; size: number; xxh128: string; md5: string | null; nsamples: number; skipped: Array<{ id: string; error: string }> }
  | { op: 'aborted'; id: number }
  | { op: 'error'; id: number; message: string; code?: string; path?: string };

/** A member to pack: a local file of `size` bytes (read by the shard's lane), or bytes. */
export type MemberInput = { name: string; path: string; size: number } | { name: string; data: Uint8Array };

export interface PackedShardResult {
  size: number;
  /** Content hash of the shard (content-hash.ts). */
  xxh128: string;
  /** When the shard was opened with `md5`. */
  md5: string | null;
  nsamples: number;
  /** Samples left out because one of their files could not be read when packed. */
  skipped: Array<{ id: string; error: string }>;
}

/** Samples per message (fewer when their inline bytes fill INLINE_BYTES first). */
const BATCH_SAMPLES = 256;
/**
 * A batch's inline buffer (bytes made here): a batch is sent when the next sample's do not fit,
 * so every buffer has this size and can be reused (a larger sample gets one of its own).
 */
const INLINE_BYTES = 256 << 10;
/**
 * What a shard may have queued for its lane before `add` waits: enough that the planning plans a
 * whole shard and goes on to the next (in another lane) while this one is packed — planning is
 * far quicker than packing, so a short queue would leave one lane working at a time. Paths cost
 * little; bytes made while planning (converted images) are bounded.
 */
const MAX_UNACKED = 256;
const MAX_UNACKED_BYTES = 64 << 20;
/** Inline buffers kept for reuse. */
const MAX_POOLED = 64;

interface Pending {
  resolve: (reply: PackReply) => void;
  reject: (err: unknown) => void;
}

interface Lane {
  /** Send a request (`transfer`: buffers given to a worker, not copied). */
  post(m: PackRequest, transfer?: ArrayBuffer[]): void;
  stop(): Promise<void>;
  /** Per request id: replies expected, in order. */
  waiting: Map<number, Pending[]>;
  /** Shards given to the lane and not finished: it takes another when it has fewer than two. */
  shards: number;
}

/** Shards a lane holds at once: the one it packs and the next, so it never waits between them. */
const SHARDS_PER_LANE = 2;

function replyError(r: Extract<PackReply, { op: 'error' }>): unknown {
  const err = Object.assign(new Error(r.message), { code: r.code });
  return asStorageError(err, r.path);
}

export class TarPacker {
  private readonly lanes: Lane[] = [];
  /**
   * Inline buffers the lanes gave back with their acks: new memory costs a page fault per 4 KB
   * on first touch (a few microseconds each on a virtual machine), reused memory does not.
   */
  private readonly buffers: Buffer[] = [];
  /** Shards opened and not yet given to a lane, oldest first. */
  private readonly waitingShards: PackedShard[] = [];
  private nextId = 1;
  get size(): number {
    return this.lanes.length;
  }
  private failure: Error | undefined;

  /**
   * `lanes`: default one per core, up to 4; `workersOnly`: no lane on this thread (tests use it
   * to run every lane's path).
   */
  constructor(lanes = Math.min(4, availableParallelism()), { workersOnly = false } = {}) {
    for (let i = 0; i < Math.max(1, lanes); i++) this.lanes.push(i === 0 && !workersOnly ? this.startHere() : this.startWorker());
  }

  /** A lane's reply: settle the request it answers. */
  private answer(lane: Lane, r: PackReply): void {
    if (r.op === 'ack' && r.inline?.byteLength === INLINE_BYTES && this.buffers.length < MAX_POOLED) {
      this.buffers.push(Buffer.from(r.inline));
    }
    const queue = lane.waiting.get(r.id);
    const p = queue?.shift();
    if (queue && queue.length === 0) lane.waiting.delete(r.id);
    if (!p) return;
    // After an error the lane answers every later request about that shard with the same error.
    if (r.op === 'error') p.reject(replyError(r));
    else p.resolve(r);
  }

  /** The lane cannot go on: every request waiting on it fails, and so does every later one. */
  private fail(lane: Lane, err: Error): void {
    this.failure ??= err;
    for (const queue of lane.waiting.values()) for (const p of queue) p.reject(err);
    lane.waiting.clear();
  }

  private startWorker(): Lane {
    // Plain CommonJS in a clean thread: no inherited flags (a loader such as tsx, --input-type=module).
    const workerData: PackWorkerData = { xxh128Module: XXH128_MODULE, ustarTemplate: USTAR_TEMPLATE };
    const worker = new Worker(packWorkerSource, { eval: true, execArgv: [], workerData });
    const lane: Lane = {
      post: (m, transfer = []) => worker.postMessage(m, transfer),
      stop: async () => void (await worker.terminate()),
      waiting: new Map(),
      shards: 0,
    };
    worker.on('message', (r: PackReply) => this.answer(lane, r));
    worker.on('error', (err) => this.fail(lane, err));
    worker.on('exit', (code) => this.fail(lane, new Error(`tar packing thread exited with code ${code}`)));
    return lane;
  }

  /**
   * The lane on this thread: one request (a batch of up to 256 samples, a few milliseconds of
   * reading and writing) per turn of the event loop, so planning, commits and progress go on
   * between them. Replies are answered at once: nothing crosses threads.
   */
  private startHere(): Lane {
    const queue: PackRequest[] = [];
    let scheduled = false;
    let stopped = false;
    const packing: PackLane = packLane({
      fs, join, md5: () => createHash('md5'), createXXHash128: acquireHasher, writeHeader: fillUstarHeader, template: USTAR_TEMPLATE,
      reply: (r) => this.answer(lane, r),
      fail: (err) => this.fail(lane, err instanceof Error ? err : new Error(String(err))),
    });
    const turn = () => {
      scheduled = false;
      if (stopped || queue.length === 0) return;
      try {
        packing.receive(queue.shift()!);
      } catch (err) {
        // As a worker's uncaught error: the lane cannot go on.
        return this.fail(lane, err instanceof Error ? err : new Error(String(err)));
      }
      schedule();
    };
    const schedule = () => {
      if (scheduled || stopped || queue.length === 0) return;
      scheduled = true;
      setImmediate(turn);
    };
    const lane: Lane = {
      post: (m) => {
        queue.push(m);
        schedule();
      },
      stop: async () => {
        stopped = true;
        queue.length = 0;
        packing.closeAll();
        this.fail(lane, this.failure ?? new Error('tar packer closed'));
      },
      waiting: new Map(),
      shards: 0,
    };
    return lane;
  }

  /** Send a request whose reply (or error) settles the returned promise. */
  request(lane: Lane, m: PackRequest, transfer: ArrayBuffer[] = []): Promise<PackReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<PackReply>((resolve, reject) => {
      if (!lane.waiting.has(m.id)) lane.waiting.set(m.id, []);
      lane.waiting.get(m.id)!.push({ resolve, reject });
      lane.post(m, transfer);
    });
  }

  /** A buffer for a batch's inline bytes (at least `bytes`): one given back by a lane, or a new one. */
  inlineBuffer(bytes: number): Buffer {
    if (bytes > INLINE_BYTES) return Buffer.allocUnsafeSlow(bytes);
    return this.buffers.pop() ?? Buffer.allocUnsafeSlow(INLINE_BYTES);
  }

  /**
   * Start a shard written to the local file `file` (created); `devDir`: also write each member
   * there; `md5`: hash it with md5 too (xxh128 always); `writebackMin`: keep the file's writeback
   * going from this many bytes written on (writeback.ts), for a file synced once done. A lane takes
   * it when it has room (assign): shards go to lanes as they free up, not when they are planned,
   * so lanes given shards of different sizes still finish together.
   */
  open(file: string, devDir: string | null, md5 = false, writebackMin: number | null = null): PackedShard {
    const writeback = writebackMin === null ? null : new Writeback(file, writebackMin);
    const shard = new PackedShard(this, this.nextId++, file, devDir, md5, writeback);
    this.waitingShards.push(shard);
    this.assign();
    return shard;
  }

  /** Give waiting shards, oldest first, to the lanes holding the fewest. */
  private assign(): void {
    while (this.waitingShards.length > 0) {
      let t: Lane | undefined;
      for (const c of this.lanes) if (c.shards < SHARDS_PER_LANE && (!t || c.shards < t.shards)) t = c;
      if (!t) return;
      t.shards++;
      this.waitingShards.shift()!.start(t);
    }
  }

  /** A shard is finished or dropped: its lane has room for another; a waiting one is dropped. */
  release(shard: PackedShard, t: Lane | null): void {
    if (t) {
      t.shards--;
      this.assign();
    } else {
      const i = this.waitingShards.indexOf(shard);
      if (i >= 0) this.waitingShards.splice(i, 1);
    }
  }

  async close(): Promise<void> {
    this.failure ??= new Error('tar packer closed');
    await Promise.all(this.lanes.map((t) => t.stop()));
  }
}

export class PackedShard {
  private ids: string[] = [];
  private counts: number[] = [];
  private members: number[] = [];
  private paths: string[] = [];
  private names: string[] = [];
  /** Bytes made here, written in place; taken when a member of the batch has some. */
  private inline: Buffer | null = null;
  private inlineBytes = 0;
  /** Bytes of the archive the batch adds (headers, files, padding). */
  private batchBytes = 0;
  private unacked: Array<{ reply: Promise<PackReply>; bytes: number }> = [];
  private unackedBytes = 0;
  private ended = false;
  /** The lane packing the shard, once it has one; requests made before wait in `held`. */
  private lane: Lane | null = null;
  private held: Array<{ m: PackRequest; transfer: ArrayBuffer[]; resolve: (r: PackReply) => void; reject: (e: unknown) => void }> = [];

  constructor(
    private readonly packer: TarPacker,
    private readonly id: number,
    private readonly file: string,
    private readonly devDir: string | null,
    private readonly md5: boolean,
    /** Starts the file's writeback as batches are written (a local destination syncs it at the end). */
    private readonly writeback: Writeback | null,
  ) {}

  /** The shard's lane is `t`: open the file there and send what was held. */
  start(t: Lane): void {
    this.lane = t;
    // 'open' has no reply of its own: its failure comes back as the reply to the first later request.
    t.post({ op: 'open', id: this.id, file: this.file, devDir: this.devDir, md5: this.md5 });
    for (const h of this.held) this.packer.request(t, h.m, h.transfer).then(h.resolve, h.reject);
    this.held = [];
  }

  private request(m: PackRequest, transfer: ArrayBuffer[] = []): Promise<PackReply> {
    if (this.lane) return this.packer.request(this.lane, m, transfer);
    return new Promise((resolve, reject) => this.held.push({ m, transfer, resolve, reject }));
  }

  /**
   * Queue a sample; throws (before anything of it is queued) when a member name does not fit
   * USTAR. A promise only when the lane has too much queued: wait for it before adding more.
   */
  add(id: string, members: MemberInput[]): Promise<void> | undefined {
    let need = 0;
    for (const m of members) {
      checkUstarMember(m.name, 'path' in m ? m.size : m.data.byteLength);
      if (!('path' in m)) need += m.data.byteLength;
    }
    // A full batch goes first; a sample larger than a whole buffer gets one of its own.
    const waiting = this.inline && this.inlineBytes + need > this.inline.byteLength ? this.send() : undefined;
    if (need > 0 && !this.inline) this.inline = this.packer.inlineBuffer(need);
    let at = this.inlineBytes;
    for (const m of members) {
      let data = -1;
      if ('path' in m) this.paths.push(m.path);
      else {
        data = at;
        this.inline!.set(m.data, at);
        at += m.data.byteLength;
      }
      const size = 'path' in m ? m.size : m.data.byteLength;
      this.members.push(size, data);
      this.batchBytes += tarEntryBytes(size);
      this.names.push(m.name);
    }
    this.inlineBytes = at;
    this.ids.push(id);
    this.counts.push(members.length);
    const more = this.ids.length >= BATCH_SAMPLES ? this.send() : undefined;
    return waiting && more ? Promise.all([waiting, more]).then(() => undefined) : (waiting ?? more);
  }

  /** Post the batch; a promise when the lane's queue is over its bounds, settled when it is not. */
  private send(): Promise<void> | undefined {
    if (this.ids.length === 0) return undefined;
    // The buffer goes to the lane as it is (to a worker transferred, not copied); the next batch gets a new one.
    const inline = (this.inline?.buffer ?? null) as ArrayBuffer | null;
    const bytes = this.inlineBytes;
    const batch: PackBatch = {
      ids: this.ids, counts: Int32Array.from(this.counts), names: this.names, members: Float64Array.from(this.members),
      paths: this.paths, inline,
    };
    const transfer = [batch.counts.buffer as ArrayBuffer, batch.members.buffer as ArrayBuffer];
    if (inline) transfer.push(inline);
    const reply = this.request({ op: 'add', id: this.id, ...batch }, transfer);
    const written = this.batchBytes;
    reply.then(() => this.writeback?.wrote(written), () => undefined); // a failure surfaces from finish() (or drain)
    this.unacked.push({ reply, bytes });
    this.unackedBytes += bytes;
    this.ids = [];
    this.counts = [];
    this.members = [];
    this.paths = [];
    this.names = [];
    this.inline = null;
    this.inlineBytes = 0;
    this.batchBytes = 0;
    return this.unacked.length > MAX_UNACKED || this.unackedBytes > MAX_UNACKED_BYTES ? this.drain() : undefined;
  }

  private async drain(): Promise<void> {
    while (this.unacked.length > MAX_UNACKED || this.unackedBytes > MAX_UNACKED_BYTES) {
      const oldest = this.unacked.shift()!;
      this.unackedBytes -= oldest.bytes;
      await oldest.reply;
    }
  }

  /**
   * Write the end of the archive and close the file (not synced: the sink syncs it before it
   * commits it). The request goes out at once, right behind the shard's last samples: the lane
   * finishes the shard before it turns to shards queued after it.
   */
  async finish(): Promise<PackedShardResult> {
    try {
      await this.send();
      const done = this.request({ op: 'finish', id: this.id });
      done.catch(() => undefined); // an earlier failure rejects it too: surfaced below
      await Promise.all(this.unacked.map((u) => u.reply));
      const r = await done;
      this.end(); // the lane is done with it: it takes the next shard while the writeback ends
      if (r.op !== 'done') throw new Error(`unexpected reply ${r.op}`);
      await this.writeback?.close(); // a failed writeback fails the shard
      return { size: r.size, xxh128: r.xxh128, md5: r.md5, nsamples: r.nsamples, skipped: r.skipped };
    } catch (err) {
      await this.writeback?.close().catch(() => undefined);
      throw err;
    } finally {
      this.end();
    }
  }

  /** Stop writing the shard (the caller removes the file). */
  async abort(): Promise<void> {
    if (this.ended) return;
    if (this.lane) {
      await Promise.allSettled(this.unacked.map((u) => u.reply));
      await this.request({ op: 'abort', id: this.id }).catch(() => undefined);
    } else {
      for (const h of this.held) h.reject(new Error('shard aborted'));
      this.held = [];
    }
    await this.writeback?.close().catch(() => undefined);
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.packer.release(this, this.lane);
  }
}
