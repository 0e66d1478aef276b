import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeViaTemp } from '../util/fs.js';
import { sha256Hex } from '../util/hash.js';

/**
 * Content-addressed storage: `<root>/<sha[0:2]>/<sha>.<ext>`. Bytes are written under a temporary
 * name in `<root>/tmp/` and renamed into place, so an object is complete or absent whatever kills
 * the process; equal contents land on one file. Leftover temporaries of a killed run are removed
 * by `open` (the catalog lock guarantees no other run uses the folder).
 */
export class ObjectStore {
  private readonly dirs = new Set<string>();
  private readonly tmp: string;

  private constructor(
    readonly root: string,
    private readonly durable: boolean,
  ) {
    this.tmp = join(root, 'tmp');
  }

  static async open(root: string, options: { durable?: boolean } = {}): Promise<ObjectStore> {
    const store = new ObjectStore(root, options.durable ?? true);
    await rm(store.tmp, { recursive: true, force: true });
    await mkdir(store.tmp, { recursive: true });
    return store;
  }

  pathFor(sha256: string, ext: string): string {
    return join(this.root, sha256.slice(0, 2), `${sha256}.${ext}`);
  }

  /** Store `bytes`; returns their sha256 and the object's path. */
  async put(bytes: Buffer, ext: string): Promise<{ sha256: string; path: string }> {
    const sha256 = sha256Hex(bytes);
    const path = this.pathFor(sha256, ext);
    try {
      const st = await stat(path);
      if (st.size === bytes.length) return { sha256, path };
    } catch {
      // absent: write it
    }
    const dir = join(this.root, sha256.slice(0, 2));
    if (!this.dirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.dirs.add(dir);
    }
    await writeViaTemp(join(this.tmp, `${sha256}.${randomBytes(4).toString('hex')}`), path, bytes, this.durable);
    return { sha256, path };
  }
}
