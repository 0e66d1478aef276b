import type { IHasher } from 'hash-wasm';
import type { PackBatch, PackReply, PackRequest } from './tar-packer.js';
import { fillUstarHeader, type UstarTemplate } from './tar.js';

/**
 * A tar packing lane (tar-packer.ts is its other side): it writes shards whose members it reads
 * itself. For each member it gets a name and size, then a file path (read here) or bytes the
 * planning made (text members, converted images) in one buffer per batch (given back with the
 * ack, for reuse). Headers (names were checked to fit USTAR), reading the files, padding,
 * hashing (xxh128, content-hash.ts) and writing happen here, through one 256 KB batch buffer per
 * shard written with one write call when full, so no image byte is copied between threads. A
 * sample whose file cannot be read (or no longer has the size its header says) is left out whole
 * and reported; a failed write ends the shard with the error's code and path.
 *
 * A lane runs on a worker thread (packWorkerSource) or on the export's own thread, which packs
 * between planning the next shards (TarPacker's first lane): one worker fewer to start (about
 * 0.06 CPU-s here) and to compile this code in. A worker runs this function's source, so it is
 * self-contained: everything it uses comes from `host`.
 */
export function packLane(host: PackHost): PackLane {
  const { fs, join, writeHeader, template } = host;

  const BLOCK = 512;
  /** Small enough that what was just read is still in the CPU cache when it is hashed and written. */
  const BATCH_BYTES = 256 << 10;
  /** Numbers per member in a batch (PackBatch.members in tar-packer.ts). */
  const MEMBER_FIELDS = 2;
  const END_BYTES = 2 * BLOCK;
  const NO_BYTES = Buffer.alloc(0);

  interface Shard {
    fd: number;
    file: string;
    devDir: string | null;
    xxh128: IHasher;
    /** Only when the index lists md5s too (the export's `index_md5`). */
    md5: import('node:crypto').Hash | null;
    batch: Buffer;
    used: number;
    size: number;
    nsamples: number;
    skipped: Array<{ id: string; error: string }>;
  }
  const shards = new Map<number, Shard>();
  /** Shards that failed: every later request about them gets the first error (an 'open' has no reply). */
  const failed = new Map<number, PackReply>();

  /** An error of the destination (the shard cannot go on), with the path it concerns. */
  class WriteError extends Error {
    constructor(readonly errno: NodeJS.ErrnoException, readonly path: string) {
      super(errno.message);
    }
  }
  const writing = <T>(path: string, f: () => T): T => {
    try {
      return f();
    } catch (err) {
      throw new WriteError(err as NodeJS.ErrnoException, path);
    }
  };

  const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

  /** Hash and write the batch at the end of the shard (positional writes: a rollback truncates the file). */
  function flush(s: Shard): void {
    if (s.used === 0) return;
    const chunk = s.batch.subarray(0, s.used);
    s.xxh128.update(chunk);
    s.md5?.update(chunk);
    writing(s.file, () => {
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(s.fd, chunk, off, chunk.length - off, s.size + off);
    });
    s.size += chunk.length;
    s.used = 0;
  }

  /** `bytes` from `fill` into the batch, flushing it whenever it is full. */
  function append(s: Shard, bytes: number, fill: (at: number, n: number) => number): void {
    for (let left = bytes; left > 0; ) {
      if (s.used === BATCH_BYTES) flush(s);
      const n = fill(s.used, Math.min(left, BATCH_BYTES - s.used));
      s.used += n;
      left -= n;
    }
  }

  /** Append `len` bytes of `src` from `from`. */
  function appendBytes(s: Shard, src: Buffer, from: number, len: number): void {
    let at = from;
    append(s, len, (to, n) => {
      src.copy(s.batch, to, at, at + n);
      at += n;
      return n;
    });
  }

  /**
   * Append the file `path`, exactly `size` bytes as its header says. The last read asks for one
   * byte more (the batch has a spare byte past its end): getting it means the file grew, without
   * a stat per file.
   */
  function appendFile(s: Shard, path: string, size: number): void {
    const fd = fs.openSync(path, 'r');
    try {
      let got = 0;
      const changed = (now: string) => new Error(`${path} changed since it was catalogued (${size} bytes expected, ${now})`);
      append(s, size, (at, n) => {
        const last = got + n === size;
        const r = fs.readSync(fd, s.batch, at, last ? n + 1 : n, got);
        if (r === 0) throw changed(`only ${got} read`);
        if (r > n) throw changed('more found');
        got += r;
        return r;
      });
      if (size === 0 && fs.readSync(fd, s.batch, s.used, 1, 0) > 0) throw changed('more found');
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Append the header of member `name` of `size` bytes (a whole block: the batch is block-aligned here). */
  function appendHeader(s: Shard, name: string, size: number): void {
    if (s.used === BATCH_BYTES) flush(s);
    writeHeader(s.batch, s.used, template, name, size);
    s.used += BLOCK;
  }

  /** A sample of a batch: its members are `members[first .. first + count)`, its files `paths[firstPath ..]`. */
  interface SampleRef {
    id: string;
    first: number;
    count: number;
    firstPath: number;
  }

  /**
   * Add one sample whole, or leave it out (and say why) when one of its files cannot be read. A
   * sample that fits the batch never reaches the file before it is complete; a larger one is
   * streamed through the batch, and on failure the file is truncated back and the hashes restored.
   */
  function addSample(s: Shard, b: PackBatch, inline: Buffer, ref: SampleRef): void {
    const m = b.members;
    let bytes = 0;
    for (let j = ref.first; j < ref.first + ref.count; j++) bytes += BLOCK + padded(m[j * MEMBER_FIELDS]);
    if (s.used + bytes > BATCH_BYTES) flush(s);
    const start = { used: s.used, size: s.size, hashes: bytes > BATCH_BYTES ? { xxh128: s.xxh128.save(), md5: s.md5?.copy() ?? null } : null };
    try {
      for (let j = ref.first, p = ref.firstPath; j < ref.first + ref.count; j++) {
        const size = m[j * MEMBER_FIELDS];
        const data = m[j * MEMBER_FIELDS + 1];
        appendHeader(s, b.names[j], size);
        if (data < 0) appendFile(s, b.paths[p++], size);
        else appendBytes(s, inline, data, size);
        append(s, padded(size) - size, (at, n) => (s.batch.fill(0, at, at + n), n));
      }
    } catch (err) {
      if (err instanceof WriteError) throw err;
      if (start.hashes) {
        writing(s.file, () => fs.ftruncateSync(s.fd, start.size));
        s.xxh128.load(start.hashes.xxh128);
        s.md5 = start.hashes.md5;
        s.size = start.size;
        s.used = 0;
      } else {
        s.used = start.used;
      }
      s.skipped.push({ id: ref.id, error: (err as Error).message });
      return;
    }
    if (s.devDir) {
      for (let j = ref.first, p = ref.firstPath; j < ref.first + ref.count; j++) {
        const file = join(s.devDir, b.names[j]);
        const size = m[j * MEMBER_FIELDS];
        const data = m[j * MEMBER_FIELDS + 1];
        if (data < 0) {
          const path = b.paths[p++];
          writing(file, () => fs.copyFileSync(path, file));
        } else writing(file, () => fs.writeFileSync(file, inline.subarray(data, data + size)));
      }
    }
    s.nsamples++;
  }

  /**
   * Hashers not in use (a shard's goes back here when it ends). Making one is asynchronous
   * (WebAssembly) and the rest of a request is not: an 'open' that finds none, and every request
   * after it, waits while one is made, and they are then handled at once — on this thread's lane,
   * a whole shard without a turn of the event loop between. So the lane makes two as it starts,
   * while the catalog is read: a lane holds at most two shards at a time (tar-packer.ts).
   */
  const hashers: IHasher[] = [];
  /** Batch buffers of ended shards, for the next: new memory costs a page fault per 4 KB on first use. */
  const batches: Buffer[] = [];
  /** Requests not yet handled, in order. */
  const waiting: PackRequest[] = [];
  let making = false;
  function make(n: number): void {
    making = true;
    Promise.all(Array.from({ length: n }, () => host.createXXHash128())).then((made) => {
      hashers.push(...made);
      making = false;
      pump();
    }, host.fail);
  }
  function pump(): void {
    while (!making && waiting.length > 0) {
      if (waiting[0].op === 'open' && hashers.length === 0) return make(1);
      receive(waiting.shift()!);
    }
  }
  make(2);

  function drop(id: number): void {
    const s = shards.get(id);
    shards.delete(id);
    if (s) {
      hashers.push(s.xxh128);
      batches.push(s.batch);
      fs.closeSync(s.fd);
    }
  }

  function handle(m: PackRequest): PackReply | null {
    switch (m.op) {
      case 'open': {
        const fd = writing(m.file, () => fs.openSync(m.file, 'w'));
        shards.set(m.id, {
          fd, file: m.file, devDir: m.devDir, xxh128: hashers.pop()!.init(), md5: m.md5 ? host.md5() : null,
          batch: batches.pop() ?? Buffer.allocUnsafe(BATCH_BYTES + 1),
          used: 0, size: 0, nsamples: 0, skipped: [],
        });
        return null;
      }
      case 'add': {
        const s = shards.get(m.id)!;
        const inline = m.inline ? Buffer.from(m.inline) : NO_BYTES;
        const ref: SampleRef = { id: '', first: 0, count: 0, firstPath: 0 };
        for (let i = 0; i < m.ids.length; i++) {
          ref.id = m.ids[i];
          ref.count = m.counts[i];
          addSample(s, m, inline, ref);
          for (let j = ref.first; j < ref.first + ref.count; j++) if (m.members[j * MEMBER_FIELDS + 1] < 0) ref.firstPath++;
          ref.first += ref.count;
        }
        return { op: 'ack', id: m.id, inline: m.inline }; // the buffer goes back for reuse
      }
      case 'finish': {
        const s = shards.get(m.id)!;
        append(s, END_BYTES, (at, n) => (s.batch.fill(0, at, at + n), n));
        flush(s);
        shards.delete(m.id);
        const xxh128 = s.xxh128.digest('hex');
        hashers.push(s.xxh128);
        batches.push(s.batch);
        // No fsync here: the sink syncs the file (unless told not to) before it renames it into
        // place, a wait this lane need not make before packing the next shard.
        writing(s.file, () => fs.closeSync(s.fd));
        return {
          op: 'done', id: m.id, size: s.size, xxh128, md5: s.md5?.digest('hex') ?? null,
          nsamples: s.nsamples, skipped: s.skipped,
        };
      }
      case 'abort':
        drop(m.id);
        return { op: 'aborted', id: m.id };
    }
  }

  function receive(m: PackRequest): void {
    const earlier = failed.get(m.id);
    if (earlier) {
      if (m.op === 'abort' || m.op === 'finish') failed.delete(m.id);
      host.reply(m.op === 'abort' ? { op: 'aborted', id: m.id } : earlier, []);
      return;
    }
    try {
      const reply = handle(m);
      if (reply) host.reply(reply, reply.op === 'ack' && reply.inline ? [reply.inline] : []);
    } catch (err) {
      const e = err instanceof WriteError ? err.errno : (err as NodeJS.ErrnoException);
      const reply: PackReply = { op: 'error', id: m.id, message: e.message, code: e.code, path: err instanceof WriteError ? err.path : undefined };
      drop(m.id);
      if (m.op !== 'finish') failed.set(m.id, reply);
      if (m.op !== 'open') host.reply(reply, []);
    }
  }
  return {
    receive(m) {
      waiting.push(m);
      pump();
    },
    closeAll() {
      waiting.length = 0;
      for (const id of [...shards.keys()]) drop(id);
    },
  };
}

/** What a lane is given by the thread it runs on (it imports nothing itself). */
export interface PackHost {
  fs: typeof import('node:fs');
  join: (...paths: string[]) => string;
  /** A new md5 hash (for a shard opened with `md5`). */
  md5: () => import('node:crypto').Hash;
  createXXHash128: () => Promise<IHasher>;
  writeHeader: typeof fillUstarHeader;
  template: UstarTemplate;
  /** Answer a request (`transfer`: buffers that go back to the planning thread). */
  reply: (r: PackReply, transfer: ArrayBuffer[]) => void;
  /** The lane cannot go on (a hasher could not be made). */
  fail: (err: unknown) => void;
}

export interface PackLane {
  /** Take the next request; requests are handled in order, each answered through `host.reply`. */
  receive(m: PackRequest): void;
  /** Drop every request not handled and close the files of shards still open. */
  closeAll(): void;
}

/** What a packing worker is started with. */
export interface PackWorkerData {
  /** Absolute path of the hash module (content-hash.ts XXH128_MODULE). */
  xxh128Module: string;
  /** tar.ts USTAR_TEMPLATE. */
  ustarTemplate: UstarTemplate;
}

/** A worker thread's start: its host is built-ins `require`d here, and the port to the packer. */
function packWorkerMain(lane: typeof packLane, writeHeader: typeof fillUstarHeader): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const threads = require('node:worker_threads') as typeof import('node:worker_threads');
  const port = threads.parentPort!;
  const { xxh128Module, ustarTemplate } = threads.workerData as PackWorkerData;
  const packing = lane({
    fs: require('node:fs'),
    join: (require('node:path') as typeof import('node:path')).join,
    md5: () => (require('node:crypto') as typeof import('node:crypto')).createHash('md5'),
    createXXHash128: (require(xxh128Module) as { createXXHash128: () => Promise<IHasher> }).createXXHash128,
    writeHeader,
    template: ustarTemplate,
    reply: (r, transfer) => port.postMessage(r, transfer),
    fail: (err) => process.nextTick(() => { throw err; }), // the worker's 'error' event
  });
  port.on('message', (m: PackRequest) => packing.receive(m));
}

/**
 * A worker's code: plain CommonJS (no module loader in the thread, so it runs the same from
 * `dist/` and under tsx) — the start function's own compiled source, called with the lane's and
 * the header writer's. tsx and esbuild wrap named functions in `__name(...)` calls to keep their
 * names, so that helper is defined first.
 */
export const packWorkerSource = `var __name = (f) => f;\n(${packWorkerMain.toString()})(${packLane.toString()}, ${fillUstarHeader.toString()});`;
