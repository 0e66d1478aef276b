import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { tempPathFor } from '../util/fs.js';
import { resolveInside } from '../util/paths.js';
import { UsageError } from '../errors.js';

/**
 * Where an export writes: a local folder, or (see s3-sink.ts) a bucket prefix. Every object is
 * complete or absent under its final name: writers stream to a temporary name (or an unfinished
 * multipart upload) and commit at the end.
 */
export interface Sink {
  /** The destination as the user wrote it, for messages (never includes credentials). */
  readonly location: string;
  /** Write a whole object. */
  put(path: string, data: Uint8Array | string): Promise<void>;
  /** Start writing an object in pieces; nothing is visible under `path` before `commit`. */
  create(path: string): Promise<SinkWriter>;
  /** Size and md5 (hex) of an existing object, or undefined when absent. */
  stat(path: string): Promise<{ size: number; md5?: string } | undefined>;
  /** Paths of the objects under a prefix ('' for all), relative to the sink, sorted. */
  list(prefix?: string): Promise<string[]>;
  remove(path: string): Promise<void>;
}

export interface SinkWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Make the object visible under its final name; returns its size and md5. */
  commit(): Promise<{ size: number; md5: string }>;
  /** Drop what was written. */
  abort(): Promise<void>;
}

/** A local folder. Paths are relative and may not escape it. */
export class LocalSink implements Sink {
  readonly root: string;
  constructor(
    readonly location: string,
    root: string,
  ) {
    this.root = resolve(root);
  }

  private full(path: string): string {
    const p = resolveInside(this.root, path);
    if (!p) throw new UsageError(`export path ${JSON.stringify(path)} escapes ${this.location}`);
    return p;
  }

  async put(path: string, data: Uint8Array | string): Promise<void> {
    const w = await this.create(path);
    try {
      await w.write(typeof data === 'string' ? Buffer.from(data) : data);
      await w.commit();
    } catch (err) {
      await w.abort();
      throw err;
    }
  }

  async create(path: string): Promise<SinkWriter> {
    const final = this.full(path);
    await mkdir(dirname(final), { recursive: true });
    const tmp = tempPathFor(final);
    const fh: FileHandle = await open(tmp, 'w');
    const md5 = createHash('md5');
    let size = 0;
    let done = false;
    return {
      async write(chunk) {
        md5.update(chunk);
        size += chunk.length;
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off)).bytesWritten;
      },
      async commit() {
        done = true;
        await fh.sync();
        await fh.close();
        await rename(tmp, final);
        return { size, md5: md5.digest('hex') };
      },
      async abort() {
        if (done) return;
        done = true;
        await fh.close().catch(() => undefined);
        await rm(tmp, { force: true });
      },
    };
  }

  async stat(path: string): Promise<{ size: number; md5?: string } | undefined> {
    const p = this.full(path);
    try {
      const st = await stat(p);
      if (!st.isFile()) return undefined;
      const md5 = createHash('md5');
      for await (const chunk of createReadStream(p)) md5.update(chunk as Buffer);
      return { size: st.size, md5: md5.digest('hex') };
    } catch {
      return undefined;
    }
  }

  async list(prefix = ''): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, rel: string) => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        if (e.name.startsWith('.') && e.name.endsWith('.tmp')) continue;
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(join(dir, e.name), r);
        else if (e.isFile() && r.startsWith(prefix)) out.push(r);
      }
    };
    await walk(this.root, '');
    return out.sort();
  }

  async remove(path: string): Promise<void> {
    await rm(this.full(path), { force: true });
  }
}

/** Parse `s3://bucket/prefix`. */
export function parseS3Url(to: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(to);
  if (!m) return undefined;
  return { bucket: m[1], prefix: m[2].replace(/\/+$/, '') };
}

/**
 * The sink for an export's `to`: a local folder (relative to the recipe's folder) or s3://.
 */
export async function createSink(to: string, baseDir: string): Promise<Sink> {
  if (/^s3:\/\//.test(to)) {
    throw new UsageError(`export destination ${to}: s3:// output is not available in this build`);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(to)) {
    throw new UsageError(`export destination ${to}: only local folders and s3://bucket/prefix are supported`);
  }
  return new LocalSink(to, resolve(baseDir, to));
}

