import { mkdir, rename, writeFile, rm, open } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** A temporary name beside `path`, so the final rename stays on one file system. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Write a file so that it is complete or absent under its final name:
 * write to a temporary name, fsync, then rename.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeViaTemp(tempPathFor(path), path, data, true);
}

/**
 * Write `data` to `tmp`, fsync it when `durable`, and rename it to `path`; on any failure the
 * temporary file is removed and the error rethrown. `tmp` must be on the same file system.
 */
export async function writeViaTemp(tmp: string, path: string, data: Uint8Array | string, durable: boolean): Promise<void> {
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function ensureDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
}

export { writeFile };
