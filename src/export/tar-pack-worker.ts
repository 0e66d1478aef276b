import type { PackReply, PackRequest, PackSample } from './tar-packer.js';

/**
 * The tar packing thread (tar-packer.ts is its other side). It writes shards whose members it
 * reads itself: for each member a file path (read here) or bytes the main thread made (text
 * members, converted images), after the member's header, which the main thread made too, all in
 * one transferred buffer per message. Reading the files, padding, md5, writing and fsync happen
 * here, in one 8 MB batch buffer per shard written with one write call when full, so no image
 * byte is copied between threads. A sample whose file cannot be read (or no longer has the size
 * its header says) is left out whole and reported; a failed write ends the shard with the
 * error's code and path.
 *
 * The thread runs this function's source (`packWorkerSource`), so it must be self-contained:
 * only `require`d built-ins, no imports — the same code then runs from `dist/` and under tsx
 * without a module loader in every thread.
 */
export function packWorkerMain(): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  const fs = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  const port = (require('node:worker_threads') as typeof import('node:worker_threads')).parentPort!;

  const BLOCK = 512;
  /** Small enough that what was just read is still in the CPU cache when it is hashed and written. */
  const BATCH_BYTES = 256 << 10;
  const END_BYTES = 2 * BLOCK;

  interface Shard {
    fd: number;
    file: string;
    devDir: string | null;
    md5: import('node:crypto').Hash;
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
    s.md5.update(chunk);
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
      if (s.used === s.batch.length) flush(s);
      const n = fill(s.used, Math.min(left, s.batch.length - s.used));
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

  /** Append the file `path`, exactly `size` bytes as its header says. */
  function appendFile(s: Shard, path: string, size: number): void {
    const fd = fs.openSync(path, 'r');
    try {
      let got = 0;
      append(s, size, (at, n) => {
        const r = fs.readSync(fd, s.batch, at, n, got);
        if (r === 0) throw new Error(`${path} changed since it was catalogued (${size} bytes expected, only ${got} read)`);
        got += r;
        return r;
      });
      const now = fs.fstatSync(fd).size;
      if (now !== size) throw new Error(`${path} changed since it was catalogued (${size} bytes expected, ${now} now)`);
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Add one sample whole, or leave it out (and say why) when one of its files cannot be read. A
   * sample that fits the batch never reaches the file before it is complete; a larger one is
   * streamed through the batch, and on failure the file is truncated back and the md5 restored.
   */
  function addSample(s: Shard, sample: PackSample, inline: Buffer): void {
    const bytes = sample.members.reduce((t, m) => t + BLOCK + padded(m.size), 0);
    if (s.used + bytes > s.batch.length) flush(s);
    const start = { used: s.used, size: s.size, md5: bytes > s.batch.length ? s.md5.copy() : null };
    try {
      for (const m of sample.members) {
        appendBytes(s, inline, m.header, BLOCK);
        if (m.path !== undefined) appendFile(s, m.path, m.size);
        else appendBytes(s, inline, m.data!, m.size);
        append(s, padded(m.size) - m.size, (at, n) => (s.batch.fill(0, at, at + n), n));
      }
    } catch (err) {
      if (err instanceof WriteError) throw err;
      if (start.md5) {
        writing(s.file, () => fs.ftruncateSync(s.fd, start.size));
        s.md5 = start.md5;
        s.size = start.size;
        s.used = 0;
      } else {
        s.used = start.used;
      }
      s.skipped.push({ id: sample.id, error: (err as Error).message });
      return;
    }
    if (s.devDir) {
      for (const m of sample.members) {
        const file = join(s.devDir, m.name);
        if (m.path !== undefined) writing(file, () => fs.copyFileSync(m.path!, file));
        else writing(file, () => fs.writeFileSync(file, inline.subarray(m.data!, m.data! + m.size)));
      }
    }
    s.nsamples++;
  }

  function fileMd5(path: string): { size: number; md5: string } {
    const fd = fs.openSync(path, 'r');
    try {
      const h = createHash('md5');
      const buf = Buffer.allocUnsafe(BATCH_BYTES);
      let size = 0;
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; size += n) h.update(buf.subarray(0, n));
      return { size, md5: h.digest('hex') };
    } finally {
      fs.closeSync(fd);
    }
  }

  function drop(id: number): void {
    const s = shards.get(id);
    shards.delete(id);
    if (s) fs.closeSync(s.fd);
  }

  function handle(m: PackRequest): PackReply | null {
    switch (m.op) {
      case 'open': {
        const fd = writing(m.file, () => fs.openSync(m.file, 'w'));
        shards.set(m.id, {
          fd, file: m.file, devDir: m.devDir, md5: createHash('md5'), batch: Buffer.allocUnsafe(BATCH_BYTES),
          used: 0, size: 0, nsamples: 0, skipped: [],
        });
        return null;
      }
      case 'add': {
        const s = shards.get(m.id)!;
        const inline = Buffer.from(m.inline);
        for (const sample of m.samples) addSample(s, sample, inline);
        return { op: 'ack', id: m.id };
      }
      case 'finish': {
        const s = shards.get(m.id)!;
        append(s, END_BYTES, (at, n) => (s.batch.fill(0, at, at + n), n));
        flush(s);
        shards.delete(m.id);
        // fsync in the thread pool: this thread goes on packing other shards meanwhile.
        fs.fsync(s.fd, (err) => {
          fs.close(s.fd, () => undefined);
          port.postMessage(
            err
              ? ({ op: 'error', id: m.id, message: err.message, code: err.code, path: s.file } satisfies PackReply)
              : ({ op: 'done', id: m.id, size: s.size, md5: s.md5.digest('hex'), nsamples: s.nsamples, skipped: s.skipped } satisfies PackReply),
          );
        });
        return null;
      }
      case 'abort':
        drop(m.id);
        return { op: 'aborted', id: m.id };
      case 'md5':
        return { op: 'md5', id: m.id, ...fileMd5(m.file) };
    }
  }

  port.on('message', (m: PackRequest) => {
    const earlier = failed.get(m.id);
    if (earlier) {
      if (m.op === 'abort' || m.op === 'finish') failed.delete(m.id);
      port.postMessage(m.op === 'abort' ? { op: 'aborted', id: m.id } : earlier);
      return;
    }
    try {
      const reply = handle(m);
      if (reply) port.postMessage(reply);
    } catch (err) {
      const e = err instanceof WriteError ? err.errno : (err as NodeJS.ErrnoException);
      const reply: PackReply = { op: 'error', id: m.id, message: e.message, code: e.code, path: err instanceof WriteError ? err.path : undefined };
      if (m.op !== 'md5') {
        drop(m.id);
        if (m.op !== 'finish') failed.set(m.id, reply);
      }
      if (m.op !== 'open') port.postMessage(reply);
    }
  });
}

/**
 * The thread's code: the function's own (compiled) source. tsx and esbuild wrap named functions
 * in `__name(...)` calls to keep their names, so that helper is defined first.
 */
export const packWorkerSource = `var __name = (f) => f;\n(${packWorkerMain.toString()})();`;
