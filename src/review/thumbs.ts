import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { openImage } from '../image/open.js';
import type { Catalog } from '../catalog/catalog.js';
import { errorMessage } from '../errors.js';
import { sha256Hex } from '../util/hash.js';
import { readUri, statUri } from '../util/uri.js';

/**
 * Thumbnails and full images of samples, for the review app.
 *
 * A file is only ever located through the catalog: the request names a sample id, and the bytes
 * come from that sample's `files.uri` (role 'image'). No part of a request is used as a path, so
 * `/thumb/..%2F..%2Fetc%2Fpasswd` is just an id that no sample has.
 *
 * Thumbnails are cached on disk under `<workdir>/thumbs/<size>/` by content hash, so a sample and
 * its exact duplicates share one file and a rerun of the server starts warm.
 */

export const THUMB_SIZE = 256;
/** Formats a browser shows as they are; others (TIFF, SVG, HEIF, ...) are sent converted to PNG. */
const BROWSER_FORMATS: Record<string, string> = {
  jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', gif: 'image/gif', avif: 'image/avif',
};
/** Larger inputs are refused rather than decoded (decompression bombs). */
const MAX_INPUT_PIXELS = 100_000_000;

export interface ImageBytes {
  body: Buffer;
  contentType: string;
}

export class ThumbnailError extends Error {}

interface Located {
  uri: string;
  /** Content hash: the recorded sha256 of the file, else one derived from where/size/mtime. */
  key: string;
}

export class Thumbnailer {
  private readonly inflight = new Map<string, Promise<Buffer>>();
  /** Content keys that failed to decode, with the reason (not retried while the server runs). */
  private readonly failed = new Map<string, string>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** Pixels decoded at most: MAX_INPUT_PIXELS, or the reviewed run's lower limit (setRunLimit). */
  private limit = MAX_INPUT_PIXELS;

  constructor(
    private readonly catalog: Catalog,
    private readonly workdir: string,
    private readonly size = THUMB_SIZE,
    /** Thumbnails generated at once (decoding is CPU-bound; the grid asks for dozens together). */
    private readonly concurrency = 2,
  ) {}

  /** Decode under the reviewed run's pixel limit too (its recipe's max_pixels; undefined: none recorded). */
  setRunLimit(maxPixels: number | undefined): void {
    const limit = Math.min(MAX_INPUT_PIXELS, maxPixels ?? MAX_INPUT_PIXELS);
    if (limit !== this.limit) this.failed.clear(); // what failed under the old limit may not now
    this.limit = limit;
  }

  /** The WebP thumbnail of a sample; null when the id is unknown or has no image file. */
  async thumbnail(sampleId: string): Promise<ImageBytes | null> {
    const loc = await this.locate(sampleId);
    if (!loc) return null;
    const reason = this.failed.get(loc.key);
    if (reason !== undefined) throw new ThumbnailError(reason);
    const path = join(this.workdir, 'thumbs', String(this.size), loc.key.slice(0, 2), `${loc.key}.webp`);
    try {
      return { body: await readFile(path), contentType: 'image/webp' };
    } catch {
      // not cached yet
    }
    let job = this.inflight.get(loc.key);
    if (!job) {
      job = this.limited(() => this.generate(loc, path)).finally(() => this.inflight.delete(loc.key));
      this.inflight.set(loc.key, job);
    }
    return { body: await job, contentType: 'image/webp' };
  }

  /** The sample's image as the browser can show it; null when the id is unknown. */
  async fullImage(sampleId: string): Promise<ImageBytes | null> {
    const loc = await this.locate(sampleId);
    if (!loc) return null;
    let bytes: Buffer;
    try {
      bytes = await readUri(loc.uri);
    } catch (err) {
      throw new ThumbnailError(`cannot read the image: ${errorMessage(err)}`);
    }
    let format: string | undefined;
    try {
      format = (await openImage(bytes, { limitInputPixels: this.limit }).metadata()).format;
    } catch (err) {
      throw new ThumbnailError(`cannot decode the image: ${errorMessage(err)}`);
    }
    const type = format ? BROWSER_FORMATS[format] : undefined;
    if (type) return { body: bytes, contentType: type };
    try {
      const png = await openImage(bytes, { limitInputPixels: this.limit }).rotate().png().toBuffer();
      return { body: png, contentType: 'image/png' };
    } catch (err) {
      throw new ThumbnailError(`cannot convert the image: ${errorMessage(err)}`);
    }
  }

  private async locate(sampleId: string): Promise<Located | null> {
    const row = await this.catalog.one<{ uri: string; sha256: string | null }>(
      `SELECT f.uri, fs.sha256 FROM files f LEFT JOIN file_status fs ON fs.uri = f.uri
       WHERE f.sample_id = ? AND f.role = 'image'`,
      [sampleId],
    );
    if (!row) return null;
    if (row.sha256) return { uri: row.uri, key: row.sha256 };
    try {
      const st = await statUri(row.uri);
      return { uri: row.uri, key: sha256Hex(`${row.uri}\0${st.size}\0${st.mtimeMs}`) };
    } catch (err) {
      throw new ThumbnailError(`cannot read the image: ${errorMessage(err)}`);
    }
  }

  private async generate(loc: Located, path: string): Promise<Buffer> {
    let webp: Buffer;
    try {
      const bytes = await readUri(loc.uri);
      webp = await openImage(bytes, { limitInputPixels: this.limit, failOn: 'none' })
        .rotate()
        .resize(this.size, this.size, { fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 78 })
        .toBuffer();
    } catch (err) {
      const reason = `cannot make a thumbnail: ${errorMessage(err).split('\n')[0]}`;
      this.failed.set(loc.key, reason);
      throw new ThumbnailError(reason);
    }
    // Write to a temporary name and rename, so a reader never sees half a file.
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, webp);
    await rename(tmp, path);
    return webp;
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

/** A grey tile saying why there is no picture, for samples whose image cannot be decoded. */
export function placeholderSvg(reason: string): Buffer {
  const text = reason.length > 60 ? reason.slice(0, 57) + '…' : reason;
  const esc = text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="256" height="192" viewBox="0 0 256 192">` +
      `<rect width="256" height="192" fill="#2a2d33"/>` +
      `<path d="M108 70h40v32h-40z M112 96l10-12 8 8 6-6 8 10z" fill="none" stroke="#e5484d" stroke-width="3"/>` +
      `<text x="128" y="130" fill="#c9ccd1" font-family="sans-serif" font-size="11" text-anchor="middle">${esc}</text>` +
      `</svg>`,
  );
}
