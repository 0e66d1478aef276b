import { pack as tarPack, type Pack } from 'tar-stream';

/**
 * A deterministic USTAR writer over tar-stream's `pack`: every header carries the same mtime,
 * owner and mode, so the same entries in the same order always give the same bytes. Names must
 * fit plain USTAR (ASCII; ≤ 100 bytes, or split at a '/' into a ≤ 155-byte prefix and a ≤ 100-byte
 * name) — tar-stream would otherwise fall back to a PAX header, which we refuse rather than emit.
 */

/** The mtime of every entry: the Unix epoch, so output does not depend on when it was written. */
export const TAR_MTIME = new Date(0);
export const TAR_MODE = 0o644;

const BLOCK = 512;

/** Why `name` cannot be a USTAR member name, or null when it can. */
export function ustarNameProblem(name: string): string | null {
  if (name.length === 0) return 'tar member name is empty';
  if (!/^[\x20-\x7e]+$/.test(name)) return `tar member name ${JSON.stringify(name)} must be printable ASCII`;
  if (name.startsWith('/') || name.split('/').includes('..')) {
    return `tar member name ${JSON.stringify(name)} must be relative and not contain '..'`;
  }
  if (name.length > 255) return `tar member name ${JSON.stringify(name)} is ${name.length} bytes; USTAR allows at most 255`;
  if (name.length <= 100) return null;
  // Same split rule as tar-stream: move leading directories into the prefix until the rest fits.
  let rest = name;
  let prefix = '';
  while (rest.length > 100) {
    const i = rest.indexOf('/');
    if (i < 0) break;
    prefix += (prefix ? '/' : '') + rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  if (rest.length > 100 || prefix.length > 155) {
    return `tar member name ${JSON.stringify(name)} cannot be split into a USTAR prefix (≤ 155 bytes) and name (≤ 100 bytes) at a '/'`;
  }
  return null;
}

/** Bytes a member of `size` bytes takes in the archive: one header block plus padded data. */
export function tarEntryBytes(size: number): number {
  return BLOCK + Math.ceil(size / BLOCK) * BLOCK;
}

/** Bytes of the end-of-archive marker (two zero blocks). */
export const TAR_END_BYTES = 2 * BLOCK;

/**
 * Streams a tar: `add` entries in order (awaiting each applies backpressure), then `finish`.
 * Read the archive from `stream` (an async-iterable of chunks).
 */
export class UstarWriter {
  readonly stream: Pack = tarPack();

  /** Append a regular file member; rejects names that do not fit USTAR. */
  add(name: string, data: Uint8Array): Promise<void> {
    const problem = ustarNameProblem(name);
    if (problem) return Promise.reject(new Error(problem));
    return new Promise((resolve, reject) => {
      this.stream.entry(
        { name, size: data.byteLength, mode: TAR_MODE, mtime: TAR_MTIME, uid: 0, gid: 0, uname: '', gname: '', type: 'file' },
        data,
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** Write the end-of-archive marker and end the stream. */
  finish(): void {
    this.stream.finalize();
  }
}

export interface TarEntry {
  name: string;
  data: Uint8Array;
}

/** A whole archive in memory (small archives and tests). */
export async function tarBuffer(entries: Iterable<TarEntry>): Promise<Buffer> {
  const w = new UstarWriter();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of w.stream as AsyncIterable<Buffer>) chunks.push(c);
  })();
  try {
    for (const e of entries) await w.add(e.name, e.data);
    w.finish();
  } catch (err) {
    w.stream.destroy(err as Error);
    await collected.catch(() => undefined);
    throw err;
  }
  await collected;
  return Buffer.concat(chunks);
}
