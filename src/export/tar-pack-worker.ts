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
  const BATCH_BYTES = 8 << 20;
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

  function flush(s: Shard): void {
    if (s.used === 0) return;
    const chunk = s.batch.subarray(0, s.used);
    s.md5.update(chunk);
    writing(s.file, () => {
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(s.fd, chunk, off, chunk.length - off);
    });
    s.size += chunk.length;
    s.used = 0;
  }

  /** Room for `bytes` more in the batch: flush it, or grow it for a sample larger than the batch. */
  function reserve(s: Shard, bytes: number): void {
    if (s.used + bytes <= s.batch.length) return;
    flush(s);
    if (bytes > s.batch.length) s.batch = Buffer.allocUnsafe(bytes);
  }

  /** Read `path` (exactly `size` bytes, as its header says) into `buf` at `at`. */
  function readFileInto(path: string, buf: Buffer, at: number, size: number): void {
    const fd = fs.openSync(path, 'r');
    try {
      let got = 0;
      while (got < size) {
        const n = fs.readSync(fd, buf, at + got, size - got, null);
        if (n === 0) break;
        got += n;
      }
      const now = fs.fstatSync(fd).size;
      if (got !== size || now !== size) throw new Error(`${path} changed during the export (${size} bytes planned, ${now} now)`);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Add one sample whole, or leave it out (and say why) when one of its files cannot be read. */
  function addSample(s: Shard, sample: PackSample, inline: Buffer): void {
    reserve(s, sample.members.reduce((t, m) => t + BLOCK + padded(m.size), 0));
    // Written past `used` first: a read that fails leaves nothing of the sample in the shard.
    const start = s.used;
    let at = start;
    try {
      for (const m of sample.members) {
        inline.copy(s.batch, at, m.header, m.header + BLOCK);
        if (m.path !== undefined) readFileInto(m.path, s.batch, at + BLOCK, m.size);
        else inline.copy(s.batch, at + BLOCK, m.data!, m.data! + m.size);
        s.batch.fill(0, at + BLOCK + m.size, at + BLOCK + padded(m.size));
        at += BLOCK + padded(m.size);
      }
    } catch (err) {
      s.skipped.push({ id: sample.id, error: (err as Error).message });
      return;
    }
    if (s.devDir) {
      let p = start;
      for (const m of sample.members) {
        const file = join(s.devDir, m.name);
        writing(file, () => fs.writeFileSync(file, s.batch.subarray(p + BLOCK, p + BLOCK + m.size)));
        p += BLOCK + padded(m.size);
      }
    }
    s.used = at;
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
        reserve(s, END_BYTES);
        s.batch.fill(0, s.used, s.used + END_BYTES);
        s.used += END_BYTES;
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
