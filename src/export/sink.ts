import { copyFile, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { z } from 'zod';
import { tempPathFor } from '../util/fs.js';
import { resolveInside } from '../util/paths.js';
import { UsageError, asStorageError } from '../errors.js';
import type { S3SinkOptions } from './s3-sink.js';
import type { ExportContext } from './types.js';
import { acquireHasher, fileContentHash, releaseHasher } from './content-hash.js';

/**
 * Where an export writes: a local folder, or (s3-sink.ts) a bucket prefix. Every object is
 * complete or absent under its final name: writers stream to a temporary name (a temporary file,
 * or a spool file then an upload that only becomes visible once complete) and commit at the end.
 *
 * Writes are idempotent: committing the bytes already under that name (compared with the file
 * on disk, or by size and content hash in S3) leaves the old object untouched and reports
 * `written: false`, so a rerun rewrites and re-uploads nothing that has not changed. Every object's
 * content hash is its xxh128 (content-hash.ts).
 */
export interface Sink {
  /** The destination as the user wrote it, for messages (never includes credentials). */
  readonly location: string;
  readonly kind: 'local' | 's3';
  /** Write a whole object. */
  put(path: string, data: Uint8Array | string): Promise<Committed>;
  /**
   * Commit a finished local file as `path`. The sink takes the file over: it is moved or
   * deleted whether or not the commit succeeds. Name it with `scratchFile` so a local sink can
   * rename it into place instead of copying.
   */
  putFile(path: string, file: string, options?: PutFileOptions): Promise<Committed>;
  /** A fresh temporary local file name for `putFile(path, ...)`; the caller creates the file. */
  scratchFile(path: string): Promise<string>;
  /** Start writing an object in pieces; nothing is visible under `path` before `commit`. */
  create(path: string): Promise<SinkWriter>;
  /** An object's bytes, or undefined when absent (for small objects such as indexes). */
  get(path: string): Promise<Buffer | undefined>;
  /** Size and content hash of an existing object, or undefined when absent. */
  stat(path: string): Promise<ObjectInfo | undefined>;
  /** Paths of the objects under a prefix ('' for all), relative to the sink, sorted. */
  list(prefix?: string): Promise<string[]>;
  remove(path: string): Promise<void>;
  /**
   * Clear what interrupted writers left behind: temporary files of processes that are gone, or
   * unfinished multipart uploads under the prefix started before this sink was opened. Call it
   * once before an export; exports to one destination must not run at the same time. Returns
   * how many leftovers were removed.
   */
  sweep(): Promise<number>;
  /** Release connections. */
  close(): Promise<void>;
}

export interface PutFileOptions {
  /** The file's size and content hash, when the writer computed them on the way (the file is not hashed again). */
  known?: { size: number; xxh128: string };
  /**
   * A local sink syncs the file before it renames it into place, so that after a power loss the
   * object is whole or absent (the default); false leaves writing it back to the kernel, as tar does.
   */
  sync?: boolean;
}

export interface ObjectInfo {
  size: number;
  /** Content hash (content-hash.ts), when the store can tell it. */
  xxh128?: string;
}

export interface Committed {
  size: number;
  xxh128: string;
  /** False when an identical object was already there and was left untouched. */
  written: boolean;
}

export interface SinkWriter {
  write(chunk: Uint8Array): Promise<void>;
  /** Make the object visible under its final name (unless identical to what is there). */
  commit(): Promise<Committed>;
  /**
   * Drop what was written. During a commit it stops the upload if it still can and waits for it
   * to settle: afterwards the object is either absent or complete, never partial.
   */
  abort(): Promise<void>;
}

/** Temporary names this module and util/fs.ts make: `.<name>.<pid>.<8 hex>.tmp`. */
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/** A local folder. Paths are relative and may not escape it. */
export class LocalSink implements Sink {
  readonly kind = 'local' as const;
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

  async put(path: string, data: Uint8Array | string): Promise<Committed> {
    const w = await this.create(path);
    try {
      await w.write(typeof data === 'string' ? Buffer.from(data) : data);
      return await w.commit();
    } catch (err) {
      await w.abort();
      throw err;
    }
  }

  async scratchFile(path: string): Promise<string> {
    const final = this.full(path);
    await mkdir(dirname(final), { recursive: true });
    return tempPathFor(final);
  }

  async putFile(path: string, file: string, options: PutFileOptions = {}): Promise<Committed> {
    const final = this.full(path);
    try {
      const { size, xxh128 } = options.known ?? (await fileContentHash(file));
      if (await sameContent(final, file, size)) return { size, xxh128, written: false };
      await mkdir(dirname(final), { recursive: true });
      // Renaming is atomic on one file system; from elsewhere copy beside the target first.
      let src = file;
      if (dirname(file) !== dirname(final)) {
        src = tempPathFor(final);
        await copyFile(file, src);
      }
      if (options.sync !== false) await syncFile(src);
      try {
        await rename(src, final);
      } catch (err) {
        await rm(src, { force: true });
        throw err;
      }
      return { size, xxh128, written: true };
    } catch (err) {
      throw asStorageError(err, final);
    } finally {
      await rm(file, { force: true });
    }
  }

  async create(path: string): Promise<SinkWriter> {
    const final = this.full(path);
    const tmp = tempPathFor(final);
    const hash = await acquireHasher();
    let fh: FileHandle;
    try {
      await mkdir(dirname(final), { recursive: true });
      fh = await open(tmp, 'w');
    } catch (err) {
      releaseHasher(hash);
      throw asStorageError(err, final);
    }
    let size = 0;
    let done = false;
    return {
      async write(chunk) {
        hash.update(chunk);
        size += chunk.length;
        let off = 0;
        try {
          while (off < chunk.length) off += (await fh.write(chunk, off)).bytesWritten;
        } catch (err) {
          throw asStorageError(err, final);
        }
      },
      async commit() {
        done = true;
        const digest = hash.digest('hex');
        releaseHasher(hash);
        try {
          if (await sameContent(final, tmp, size)) {
            await fh.close();
            await rm(tmp, { force: true });
            return { size, xxh128: digest, written: false };
          }
          await fh.sync();
          await fh.close();
          await rename(tmp, final);
        } catch (err) {
          await fh.close().catch(() => undefined);
          await rm(tmp, { force: true });
          throw asStorageError(err, final);
        }
        return { size, xxh128: digest, written: true };
      },
      async abort() {
        if (done) return;
        done = true;
        releaseHasher(hash);
        await fh.close().catch(() => undefined);
        await rm(tmp, { force: true });
      },
    };
  }

  async get(path: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.full(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async stat(path: string): Promise<ObjectInfo | undefined> {
    const p = this.full(path);
    try {
      const st = await stat(p);
      if (!st.isFile()) return undefined;
      return await fileContentHash(p);
    } catch {
      return undefined;
    }
  }

  async list(prefix = ''): Promise<string[]> {
    const out: string[] = [];
    await walk(this.root, '', (rel, isFile) => {
      if (isFile && !TEMP_NAME.test(rel.slice(rel.lastIndexOf('/') + 1)) && rel.startsWith(prefix)) out.push(rel);
    });
    return out.sort();
  }

  /** Remove an object; folders it leaves empty go too, up to the root (as prefixes do in a bucket). */
  async remove(path: string): Promise<void> {
    const full = this.full(path);
    await rm(full, { force: true });
    for (let dir = dirname(full); dir.startsWith(this.root + sep); dir = dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        return; // not empty: what is above is not either
      }
    }
  }

  async sweep(): Promise<number> {
    const stale: string[] = [];
    await walk(this.root, '', (rel) => {
      const m = TEMP_NAME.exec(rel.slice(rel.lastIndexOf('/') + 1));
      if (m && !processAlive(Number(m[1]))) stale.push(rel);
    });
    for (const rel of stale) await rm(join(this.root, rel), { recursive: true, force: true });
    return stale.length;
  }

  async close(): Promise<void> {}
}

/** Visit files and folders under `dir` (not descending into temporary folders). */
async function walk(dir: string, rel: string, visit: (rel: string, isFile: boolean) => void): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      visit(r, false);
      if (!TEMP_NAME.test(e.name)) await walk(join(dir, e.name), r, visit);
    } else if (e.isFile()) {
      visit(r, true);
    }
  }
}

/** Whether a process with this id exists (temporary names carry their writer's pid). */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `path` is a file holding exactly the bytes of the local file `candidate` (`size` bytes;
 * read only when the size matches). Comparing bytes costs a fraction of hashing the old file.
 */
async function sameContent(path: string, candidate: string, size: number): Promise<boolean> {
  try {
    const st = await stat(path);
    if (!st.isFile() || st.size !== size) return false;
  } catch {
    return false;
  }
  return sameBytes(path, candidate);
}

/** Whether two files hold the same bytes, compared a MiB at a time. */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  const fa = await open(a, 'r');
  try {
    const fb = await open(b, 'r');
    try {
      const ba = Buffer.allocUnsafe(1 << 20);
      const bb = Buffer.allocUnsafe(1 << 20);
      for (let pos = 0; ; ) {
        const [ra, rb] = await Promise.all([fa.read(ba, 0, ba.length, pos), fb.read(bb, 0, bb.length, pos)]);
        if (ra.bytesRead !== rb.bytesRead) return false;
        if (ra.bytesRead === 0) return true;
        if (!ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
        pos += ra.bytesRead;
      }
    } finally {
      await fb.close();
    }
  } finally {
    await fa.close();
  }
}

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Destinations

/**
 * Options for s3:// destinations, as an export's `s3:` key. Everything else (credentials,
 * profile, region, endpoint) comes from the standard AWS environment and profile files.
 */
export const S3Options = z
  .object({
    /** An S3-compatible store (MinIO, R2, Ceph); default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, or AWS. */
    endpoint: z.string().regex(/^https?:\/\/[^/]/, 'endpoint must be an http:// or https:// URL').optional(),
    /** Default: AWS_REGION / the profile's region, else us-east-1. */
    region: z.string().min(1).optional(),
    /** Address buckets as host/bucket/key (MinIO and most self-hosted stores); default: on with a custom endpoint. */
    force_path_style: z.boolean().optional(),
    /** Multipart part size in MiB (S3's minimum is 5). */
    part_size_mb: z.number().int().min(5).max(5120).default(8),
    /** Parts uploaded at once per object (memory: concurrency × part size). */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** Attempts per request (the SDK's standard retry strategy, with backoff). */
    max_attempts: z.number().int().min(1).max(20).default(5),
  })
  .strict();
export type S3Options = z.infer<typeof S3Options>;

export interface CreateSinkOptions {
  /** `--dev`: never upload; an s3:// destination becomes the local folder `dev_extracted/` beside the recipe. */
  dev?: boolean;
  s3?: S3Options;
  /** Where an S3 sink spools objects before uploading them (default: the OS temporary folder). */
  spoolDir?: string;
}

/** Folder, beside the recipe, that stands in for every s3:// destination with `--dev`. */
export const DEV_DIR = 'dev_extracted';

export function isS3Url(to: string): boolean {
  return /^s3:\/\//i.test(to);
}

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parse `s3://bucket/prefix` (no trailing slash in the prefix); undefined for other strings. */
export function parseS3Url(to: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([^/]*)\/?(.*)$/i.exec(to);
  if (!m) return undefined;
  const bucket = m[1];
  // Never echo what looks like credentials written into the URL.
  if (bucket.includes('@')) {
    throw new UsageError(
      'an s3:// destination must not contain credentials; use AWS_PROFILE, the AWS_* environment variables or the shared profile files',
    );
  }
  if (!BUCKET.test(bucket)) {
    throw new UsageError(
      `export destination ${to}: '${bucket}' is not a valid bucket name (3-63 characters of a-z, 0-9, '.' and '-')`,
    );
  }
  const prefix = m[2].replace(/\/+$/, '');
  if (prefix.split('/').some((s) => s === '' || s === '.' || s === '..') && prefix !== '') {
    throw new UsageError(`export destination ${to}: the key prefix may not contain empty, '.' or '..' segments`);
  }
  return { bucket, prefix };
}

/**
 * The sink for an export's `to`: a local folder (relative to the recipe's folder) or
 * s3://bucket/prefix. With `dev`, an s3:// destination is replaced by `<baseDir>/dev_extracted`
 * (the bucket and prefix are dropped, so the seed workflow's `dev_extracted/<split>/...` layout
 * holds) and nothing is uploaded; local destinations stay as they are.
 */
export async function createSink(to: string, baseDir: string, options: CreateSinkOptions = {}): Promise<Sink> {
  if (isS3Url(to)) {
    const url = parseS3Url(to)!;
    if (options.dev) return new LocalSink(`${DEV_DIR} (--dev, instead of ${to})`, join(resolve(baseDir), DEV_DIR));
    // The SDK warns on every process that Node 20 nears its end of support; imgsift supports it.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const { S3Sink } = await import('./s3-sink.js'); // only S3 users load the SDK
    const s3 = S3Options.parse(options.s3 ?? {});
    const sinkOptions: S3SinkOptions = {
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: s3.force_path_style,
      partSize: s3.part_size_mb * 1024 * 1024,
      queueSize: s3.concurrency,
      maxAttempts: s3.max_attempts,
      spoolDir: options.spoolDir,
    };
    return S3Sink.open(url.bucket, url.prefix, sinkOptions);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(to)) {
    throw new UsageError(`export destination ${to}: only local folders and s3://bucket/prefix are supported`);
  }
  return new LocalSink(to, resolve(baseDir, to));
}

/**
 * The sink an exporter should use for its `to`: honours --dev (no uploads) and spools S3 objects
 * under the workdir rather than the OS temporary folder, which may be small. Close it when done.
 */
export function sinkFor(ctx: ExportContext, to: string, s3?: S3Options): Promise<Sink> {
  return createSink(to, ctx.baseDir, { dev: ctx.dev, s3, spoolDir: join(ctx.workdir, 'tmp') });
}

/**
 * Split a destination that names one file (`out/manifest.jsonl`, `s3://bucket/a/m.parquet`)
 * into the folder or prefix for `createSink` and the object's name.
 */
export function splitFileTarget(to: string): { dir: string; name: string } {
  const t = to.replace(/\/+$/, '');
  const i = t.lastIndexOf('/');
  if (isS3Url(t)) {
    const { prefix } = parseS3Url(t)!;
    if (prefix === '') throw new UsageError(`export destination ${to}: name a file under the bucket, e.g. s3://bucket/manifest.jsonl`);
    return { dir: t.slice(0, i), name: t.slice(i + 1) };
  }
  if (t === '' || t === '.' || t === '..' || t.endsWith('/.') || t.endsWith('/..')) {
    throw new UsageError(`export destination ${JSON.stringify(to)} must name a file`);
  }
  return i < 0 ? { dir: '.', name: t } : { dir: t.slice(0, i) || '/', name: t.slice(i + 1) };
}
