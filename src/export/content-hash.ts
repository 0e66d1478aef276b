import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import type { IHasher } from 'hash-wasm';

/**
 * The content hash of everything an export writes: XXH3-128, xxHash's 128-bit hash, in hex as
 * `xxh128sum` (Debian's xxhash package) prints it. It tells whether an object already holds the
 * bytes about to be written (S3) and whether a file is still the one an export wrote before a
 * rerun removes it — never against someone forging content, so it need not be cryptographic
 * (rsync chose xxh128 for the same job). hash-wasm runs it in WebAssembly at about 8 GB/s a core
 * here, against 1.5 GB/s for sha256 with the CPU's SHA instructions and 0.65 for md5: on an export
 * that copies images into tar shards, sha256 was 0.4 of the packing threads' 1.05 CPU-s
 * (`bench/export-wds.ts`), xxh128 is under 0.1. Content in the catalog stays keyed by sha256.
 */
/** The hash's hex form: 32 lowercase hex digits. */
export const CONTENT_HASH_HEX = /^[0-9a-f]{32}$/;

const require = createRequire(import.meta.url);
/**
 * hash-wasm's XXH3-128 module alone (its index is 270 KB of JavaScript to parse for one hash).
 * The tar packing workers (tar-pack-lane.ts) `require` the same file by this path.
 */
export const XXH128_MODULE = require.resolve('hash-wasm/dist/xxhash128.umd.min.js');
const { createXXHash128, xxhash128 } = require(XXH128_MODULE) as {
  createXXHash128: () => Promise<IHasher>;
  xxhash128: (data: Uint8Array) => Promise<string>;
};

/**
 * Hashers given back, for reuse: making one is a WebAssembly instance (about 0.7 ms here), reusing
 * one costs microseconds — an export of many small files asks for one per file.
 */
const idle: IHasher[] = [];
const MAX_IDLE = 32;

/**
 * A hasher (`update`, `digest('hex')`; `save`/`load` its state to roll back), reset. Give it back
 * with releaseHasher once its digest is taken or it is dropped, and use it no more.
 */
export async function acquireHasher(): Promise<IHasher> {
  return (idle.pop() ?? (await createXXHash128())).init();
}

export function releaseHasher(h: IHasher): void {
  if (idle.length < MAX_IDLE) idle.push(h);
}

/** The content hash of some bytes. */
export function contentHash(data: Uint8Array): Promise<string> {
  return xxhash128(data);
}

/** A local file's size and content hash. */
export async function fileContentHash(path: string): Promise<{ size: number; xxh128: string }> {
  const h = await acquireHasher();
  try {
    let size = 0;
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      h.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { size, xxh128: h.digest('hex') };
  } finally {
    releaseHasher(h);
  }
}
