import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/**
 * sha256 (the content hash of everything an export writes, sink.ts) of a large stream computed
 * on a worker thread, so hashing a big object overlaps with making its next chunks instead of
 * adding to the main thread. Chunks are copied to the worker (structured clone), so the caller
 * may reuse or write them at once. Streams under OFF_THREAD_BYTES are hashed in place at
 * `digest`: for them a message round trip costs more than the hash.
 */
const OFF_THREAD_BYTES = 1 << 20;

/** The worker: one hash per stream id, fed in message order. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let h = hashes.get(m.id);
    if (!h) hashes.set(m.id, (h = createHash('sha256')));
    for (const c of m.chunks) h.update(c);
  } else if (m.op === 'digest') {
    const h = hashes.get(m.id) || createHash('sha256');
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, hex: h.digest('hex') });
  } else {
    hashes.delete(m.id);
  }
});`;

interface Waiter {
  resolve: (hex: string) => void;
  reject: (err: Error) => void;
}

let worker: Worker | undefined;
let nextId = 1;
const waiting = new Map<number, Waiter>();

function hashWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] }); // CommonJS, whatever flags the process has
  w.unref(); // never keeps the process alive by itself; ref'd while a digest is awaited
  w.on('message', (m: { id: number; hex: string }) => {
    const waiter = waiting.get(m.id);
    waiting.delete(m.id);
    if (waiting.size === 0) w.unref();
    waiter?.resolve(m.hex);
  });
  const fail = (err: Error) => {
    if (worker === w) worker = undefined;
    for (const waiter of waiting.values()) waiter.reject(err);
    waiting.clear();
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`hashing thread exited with code ${code}`)));
  worker = w;
  return w;
}

/** A chunk the worker can receive: its own bytes only (a view's whole ArrayBuffer would be cloned). */
function ownBytes(chunk: Uint8Array): Uint8Array {
  return chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : new Uint8Array(chunk);
}

/** sha256 of a stream of chunks; `digest` gives it in hex. */
export class StreamSha256 {
  private readonly id = nextId++;
  /** Chunks not yet sent, while the stream is still small. */
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  private offThread = false;

  update(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    if (this.offThread) {
      hashWorker().postMessage({ op: 'update', id: this.id, chunks: [ownBytes(chunk)] });
      return;
    }
    if (this.heldBytes + chunk.byteLength >= OFF_THREAD_BYTES) {
      this.offThread = true;
      hashWorker().postMessage({ op: 'update', id: this.id, chunks: [...this.held, ownBytes(chunk)] });
      this.held = [];
      this.heldBytes = 0;
      return;
    }
    this.held.push(Buffer.from(chunk)); // a copy: the caller may reuse its buffer
    this.heldBytes += chunk.byteLength;
  }

  digest(): Promise<string> {
    if (!this.offThread) {
      const h: Hash = createHash('sha256');
      for (const c of this.held) h.update(c);
      this.held = [];
      return Promise.resolve(h.digest('hex'));
    }
    const w = hashWorker();
    return new Promise<string>((resolve, reject) => {
      waiting.set(this.id, { resolve, reject });
      w.ref();
      w.postMessage({ op: 'digest', id: this.id });
    });
  }

  /** Forget the stream (an aborted write). */
  drop(): void {
    this.held = [];
    if (this.offThread && worker) worker.postMessage({ op: 'drop', id: this.id });
  }
}
