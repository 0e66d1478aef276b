import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { EXIT, ImgsiftError, UsageError } from '../errors.js';
import { CONTENT_HASH_HEX, acquireHasher, contentHash, fileContentHash, releaseHasher } from './content-hash.js';
import { processAlive, type Committed, type PutFileOptions, type ObjectInfo, type Sink, type SinkWriter } from './sink.js';

/**
 * An S3 bucket prefix (AWS, or an S3-compatible store through an endpoint override) as a Sink.
 *
 * Complete or absent: a writer spools the object to a local file while its hash is computed, and
 * only then uploads it — a single PutObject (atomic) up to one part size, otherwise a multipart
 * upload, which S3 shows under its key only once CompleteMultipartUpload succeeds; on failure or
 * abort the upload is aborted (parts dropped). A process killed mid-upload leaves at most an
 * unfinished multipart upload, which is invisible as an object and is aborted by the next
 * export's `sweep()`. Spooling first also means an unchanged object is never re-sent: the hash is
 * known before anything goes over the network.
 *
 * Same content: every object carries its content hash as metadata (`x-amz-meta-xxh128`,
 * content-hash.ts); an object without it (written by another tool, or by imgsift before it hashed
 * with xxh128) counts as different and is uploaded again. A single PutObject also carries
 * Content-MD5, which every S3-compatible store checks on arrival.
 *
 * Credentials come from the SDK's default provider chain (environment, AWS_PROFILE and the shared
 * config/credentials files, SSO, container and instance roles). They are never logged: messages
 * name only s3://bucket/key, and any credential text a store echoes back is masked.
 */

export interface S3SinkOptions {
  /** S3-compatible endpoint; default: AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then AWS itself. */
  endpoint?: string;
  /** Default: AWS_REGION or the profile's region, else us-east-1. */
  region?: string;
  /** Path-style addressing (http://host/bucket/key); default: on when an endpoint is overridden. */
  forcePathStyle?: boolean;
  /** Multipart part size in bytes (at least 5 MiB, S3's minimum). Default 8 MiB. */
  partSize?: number;
  /** Parts in flight per object. Default 4. */
  queueSize?: number;
  /** Attempts per request, SDK standard retry strategy. Default 5. */
  maxAttempts?: number;
  /** Folder for spool files (an `imgsift-spool` folder is made inside). Default: the OS temporary folder. */
  spoolDir?: string;
  /** Keys per ListObjectsV2 page (S3 returns at most 1000). */
  listPageSize?: number;
}

const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const SPOOL_NAME = /^(\d+)-[0-9a-f]{16}\.spool$/;

const CONTENT_TYPES: Record<string, string> = {
  tar: 'application/x-tar', json: 'application/json', jsonl: 'application/x-ndjson', csv: 'text/csv',
  parquet: 'application/vnd.apache.parquet', txt: 'text/plain; charset=utf-8', html: 'text/html; charset=utf-8',
  jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', tiff: 'image/tiff',
};

/** An S3 failure, described by bucket/key, operation and the store's error — nothing else. */
export class S3SinkError extends ImgsiftError {
  constructor(message: string, readonly status: number | undefined, exitCode: number) {
    super(message, exitCode);
    this.name = 'S3SinkError';
  }
}

/** Set by `abort()` to stop a commit that is uploading. */
class Cancel {
  cancelled = false;
  private hook: (() => void) | undefined;
  onCancel(fn: () => void): void {
    this.hook = fn;
    if (this.cancelled) fn();
  }
  cancel(): void {
    this.cancelled = true;
    this.hook?.();
  }
}

export class S3Sink implements Sink {
  readonly kind = 's3' as const;
  readonly location: string;
  /** Requests sent, by command name (PutObject, UploadPart, HeadObject, ...), retries not counted. */
  readonly requests: Record<string, number> = {};
  private readonly openedAt = Date.now();
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly spoolDir: string;
  private readonly listPageSize: number | undefined;
  /** Text a store might echo back that must never reach a message (filled on the first error). */
  private secrets: string[] | undefined;

  private constructor(
    readonly bucket: string,
    readonly prefix: string,
    /** The region requests are signed for. */
    readonly region: string,
    private readonly client: S3Client,
    private readonly endpoint: string | undefined,
    options: S3SinkOptions,
  ) {
    this.location = `s3://${bucket}${prefix ? `/${prefix}` : ''}`;
    this.partSize = options.partSize ?? 8 * MiB;
    this.queueSize = options.queueSize ?? 4;
    this.spoolDir = join(options.spoolDir ?? tmpdir(), 'imgsift-spool');
    this.listPageSize = options.listPageSize;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const name = String(context.commandName ?? 'unknown').replace(/Command$/, '');
        this.requests[name] = (this.requests[name] ?? 0) + 1;
        return next(args);
      },
      { step: 'initialize', name: 'imgsiftRequestCount' },
    );
  }

  /** A sink for s3://bucket/prefix; resolves region and endpoint (no request is sent). */
  static async open(bucket: string, prefix: string, options: S3SinkOptions = {}): Promise<S3Sink> {
    const partSize = options.partSize ?? 8 * MiB;
    if (!Number.isInteger(partSize) || partSize < MIN_PART) {
      throw new UsageError(`s3: part size must be at least 5 MiB (S3's minimum part size); got ${partSize} bytes`);
    }
    if (options.queueSize !== undefined && !(Number.isInteger(options.queueSize) && options.queueSize >= 1)) {
      throw new UsageError(`s3: concurrency must be a positive integer; got ${options.queueSize}`);
    }
    const env = process.env;
    const endpoint = options.endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined);
    if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) {
      throw new UsageError(`s3: endpoint must be an http:// or https:// URL (from the export's s3.endpoint, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)`);
    }
    const config: S3ClientConfig = {
      maxAttempts: options.maxAttempts ?? 5,
      retryMode: 'standard',
      forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
    };
    if (endpoint !== undefined) {
      config.endpoint = endpoint;
      // Many S3-compatible stores reject the newer default CRC checksum headers; send them only
      // where an operation requires one (single puts still carry Content-MD5), unless the user chose.
      if (!env.AWS_REQUEST_CHECKSUM_CALCULATION) config.requestChecksumCalculation = 'WHEN_REQUIRED';
      if (!env.AWS_RESPONSE_CHECKSUM_VALIDATION) config.responseChecksumValidation = 'WHEN_REQUIRED';
    }
    let region = options.region;
    if (!region) {
      // The SDK reads AWS_REGION and the profile's region; without either, AWS's default region.
      const probe = new S3Client(config);
      region = await probe.config.region().catch(() => 'us-east-1');
      probe.destroy();
    }
    const client = new S3Client({ ...config, region });
    return new S3Sink(bucket, prefix, region, client, endpoint, { ...options, partSize });
  }

  // -------------------------------------------------------------------------------------------
  // Writing

  async put(path: string, data: Uint8Array | string): Promise<Committed> {
    const key = this.key(path);
    const body = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const xxh128 = await contentHash(body);
    if (await this.same(path, body.length, xxh128)) return { size: body.length, xxh128, written: false };
    await this.upload(key, body, body.length, xxh128);
    return { size: body.length, xxh128, written: true };
  }

  async scratchFile(path: string): Promise<string> {
    this.key(path);
    await mkdir(this.spoolDir, { recursive: true });
    return join(this.spoolDir, `${process.pid}-${randomBytes(8).toString('hex')}.spool`);
  }

  async putFile(path: string, file: string, options: PutFileOptions = {}): Promise<Committed> {
    try {
      const { size, xxh128 } = options.known ?? (await fileContentHash(file));
      return await this.commitFile(path, file, size, xxh128, new Cancel());
    } finally {
      await rm(file, { force: true });
    }
  }

  async create(path: string): Promise<SinkWriter> {
    const file = await this.scratchFile(path);
    const hash = await acquireHasher();
    let fh: FileHandle;
    try {
      fh = await open(file, 'w');
    } catch (err) {
      releaseHasher(hash);
      throw err;
    }
    const cancel = new Cancel();
    let size = 0;
    let state: 'writing' | 'committing' | 'done' = 'writing';
    let committing: Promise<Committed> | undefined;
    const drop = async () => {
      await fh.close().catch(() => undefined);
      await rm(file, { force: true });
    };
    return {
      write: async (chunk) => {
        if (state !== 'writing') throw new Error(`s3 writer for ${this.location}/${path} is no longer open`);
        hash.update(chunk);
        size += chunk.length;
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off)).bytesWritten;
      },
      commit: async () => {
        if (state !== 'writing') throw new Error(`s3 writer for ${this.location}/${path} was already committed or aborted`);
        state = 'committing';
        const digest = hash.digest('hex');
        releaseHasher(hash);
        committing = (async () => {
          try {
            await fh.close();
            return await this.commitFile(path, file, size, digest, cancel);
          } finally {
            await rm(file, { force: true });
            state = 'done';
          }
        })();
        return committing;
      },
      abort: async () => {
        if (state === 'writing') {
          state = 'done';
          releaseHasher(hash);
          await drop();
        } else if (state === 'committing') {
          cancel.cancel();
          await committing!.catch(() => undefined);
        }
      },
    };
  }

  /** Upload a spooled file unless an identical object is there. */
  private async commitFile(path: string, file: string, size: number, xxh128: string, cancel: Cancel): Promise<Committed> {
    const key = this.key(path);
    if (await this.same(path, size, xxh128)) return { size, xxh128, written: false };
    if (cancel.cancelled) throw new S3SinkError(`s3://${this.bucket}/${key}: upload aborted`, undefined, EXIT.attention);
    // A single PutObject's body is read whole (at most a part size) for its Content-MD5.
    if (size <= this.partSize) {
      await this.upload(key, await readFile(file), size, xxh128);
      return { size, xxh128, written: true };
    }
    const body = createReadStream(file, { highWaterMark: MiB });
    // Failing the body (rather than Upload.abort(), whose promise settles before the cleanup
    // request is sent) makes Upload finish the parts in flight, abort the multipart upload, and
    // only then reject — so after abort() returns nothing is left half-done.
    cancel.onCancel(() => body.destroy(Object.assign(new Error('upload aborted'), { name: 'AbortError' })));
    try {
      await this.upload(key, body, size, xxh128);
    } finally {
      body.destroy();
    }
    return { size, xxh128, written: true };
  }

  /** Upload `body`: a Buffer, or a stream when larger than a part (a single PutObject's Content-MD5 is computed from its Buffer). */
  private async upload(key: string, body: Buffer | NodeJS.ReadableStream, size: number, xxh128: string): Promise<void> {
    const single = size <= this.partSize;
    const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body as Buffer,
        ContentLength: size,
        ContentType: CONTENT_TYPES[ext] ?? 'application/octet-stream',
        Metadata: { xxh128 },
        // The whole object's md5 only fits a single PutObject (Upload copies params into every part).
        ...(single ? { ContentMD5: createHash('md5').update(body as Buffer).digest('base64') } : {}),
      },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      throw await this.error(single ? 'PutObject' : 'multipart upload', key, err);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  private async same(path: string, size: number, xxh128: string): Promise<boolean> {
    const old = await this.stat(path);
    return old !== undefined && old.size === size && old.xxh128 === xxh128;
  }

  async stat(path: string): Promise<ObjectInfo | undefined> {
    const key = this.key(path);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      const xxh128 = head.Metadata?.xxh128;
      return { size: head.ContentLength ?? 0, ...(xxh128 && CONTENT_HASH_HEX.test(xxh128) ? { xxh128 } : {}) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw await this.error('HeadObject', key, err);
    }
  }

  async get(path: string): Promise<Buffer | undefined> {
    const key = this.key(path);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return Buffer.from(await res.Body!.transformToByteArray());
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw await this.error('GetObject', key, err);
    }
  }

  async list(prefix = ''): Promise<string[]> {
    const base = this.prefix ? `${this.prefix}/` : '';
    const out: string[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: base + prefix, ContinuationToken: token, MaxKeys: this.listPageSize }),
        );
        for (const o of res.Contents ?? []) if (o.Key?.startsWith(base)) out.push(o.Key.slice(base.length));
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw await this.error('ListObjectsV2', base + prefix, err);
    }
    return out.sort();
  }

  async remove(path: string): Promise<void> {
    const key = this.key(path);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (!isNotFound(err)) throw await this.error('DeleteObject', key, err);
    }
  }

  /** Unfinished multipart uploads under the prefix, as (key, upload id, start time). */
  async incompleteUploads(): Promise<Array<{ key: string; uploadId: string; initiated?: Date }>> {
    const base = this.prefix ? `${this.prefix}/` : '';
    const out: Array<{ key: string; uploadId: string; initiated?: Date }> = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    try {
      for (;;) {
        const res = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: base || undefined, KeyMarker: keyMarker, UploadIdMarker: idMarker }),
        );
        for (const u of res.Uploads ?? []) if (u.Key && u.UploadId) out.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated });
        if (!res.IsTruncated) break;
        keyMarker = res.NextKeyMarker;
        idMarker = res.NextUploadIdMarker;
      }
    } catch (err) {
      throw await this.error('ListMultipartUploads', base, err);
    }
    return out;
  }

  async sweep(): Promise<number> {
    let n = 0;
    for (const u of await this.incompleteUploads()) {
      if (u.initiated && u.initiated.getTime() >= this.openedAt) continue; // started by this run
      try {
        await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.key, UploadId: u.uploadId }));
        n++;
      } catch (err) {
        if (!isNotFound(err)) throw await this.error('AbortMultipartUpload', u.key, err);
      }
    }
    // Spool files of processes that are gone.
    for (const name of await readdir(this.spoolDir).catch(() => [] as string[])) {
      const m = SPOOL_NAME.exec(name);
      if (m && !processAlive(Number(m[1]))) {
        await rm(join(this.spoolDir, name), { force: true });
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  // -------------------------------------------------------------------------------------------

  /** The object key for a sink-relative path. */
  private key(path: string): string {
    if (path === '' || path.startsWith('/') || path.includes('\0') || path.split('/').some((s) => s === '' || s === '.' || s === '..')) {
      throw new UsageError(`export path ${JSON.stringify(path)} is not a valid key under ${this.location}`);
    }
    return this.prefix ? `${this.prefix}/${path}` : path;
  }

  /** A precise error that names bucket, key and operation, with any credential text masked. */
  private async error(op: string, key: string, err: unknown): Promise<S3SinkError> {
    if (this.secrets === undefined) {
      const c = await this.client.config.credentials().catch(() => undefined);
      this.secrets = [c?.secretAccessKey, c?.sessionToken, c?.accessKeyId].filter((s): s is string => !!s && s.length >= 4);
    }
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; $fault?: string };
    const status = e?.$metadata?.httpStatusCode;
    // Errors of bodiless responses (HEAD) come back as 'UnknownError': say the HTTP status instead.
    let detail = e?.message && e.message !== 'UnknownError' ? e.message : status ? STATUS_CODES[status] ?? 'error' : String(err);
    if (e?.name && e.name !== 'Error' && !detail.startsWith(e.name)) detail = `${e.name}: ${detail}`;
    for (const s of this.secrets) detail = detail.split(s).join('***');
    const where = this.endpoint ? ` (endpoint ${safeOrigin(this.endpoint)})` : '';
    const hint =
      e?.name === 'NoSuchBucket' ? `; bucket '${this.bucket}' does not exist`
      : status === 403 ? '; check the credentials (AWS_PROFILE or AWS_* environment variables) and the bucket policy'
      : e?.name === 'CredentialsProviderError' ? '; set AWS_PROFILE (shared config/credentials files) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY'
      : '';
    return new S3SinkError(
      `s3://${this.bucket}/${key}: ${op} failed${status ? ` (HTTP ${status})` : ''}${where}: ${detail}${hint}`,
      status,
      e?.$fault === 'client' ? EXIT.usage : EXIT.attention,
    );
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.name === 'NoSuchUpload' || e?.$metadata?.httpStatusCode === 404 && e?.name !== 'NoSuchBucket';
}

/** scheme://host:port of an endpoint, without any user:password@ it may carry. */
function safeOrigin(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return '(custom endpoint)';
  }
}
