import { imageFormat, openImage } from '../image/open.js';
import { z } from 'zod';
import { ImgsiftError } from '../errors.js';
import { md5Hex } from '../util/hash.js';
import { readUri, uriBasename } from '../util/uri.js';
import { OWNED_DIR, listOwned } from './owned-files.js';
import { RELABELED_ACTIVE } from './labels.js';
import type { Sink } from './sink.js';
import type { ExportContext } from './types.js';

/**
 * Helpers shared by the exporters that write one file per image (imagefolder, kohya): the active
 * samples with their image, image bytes copied or re-encoded, and a writer that leaves unchanged
 * files alone and removes the files an earlier export wrote but this one did not.
 */

/** An active sample and where its image is. */
export interface ImageSample {
  id: string;
  path: string | null;
  text: string | null;
  label: string | null;
  group_key: string | null;
  split: string | null;
  source_split: string | null;
  /** Parsed `meta` JSON (null when absent). */
  meta: Record<string, unknown> | null;
  /** Null when the sample has no 'image' file. */
  uri: string | null;
  /** The probed format (sharp's name: jpeg, png, ...), null when not probed. */
  format: string | null;
}

/** Byte order of UTF-8, the same order on every machine and locale. */
export function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The run's active samples (review relabels applied) with their image file, sorted by id. */
export async function activeImageSamples(ctx: ExportContext): Promise<ImageSample[]> {
  const rows = await ctx.catalog.all<Omit<ImageSample, 'meta'> & { meta: string | null }>(
    `SELECT a.id, a.path, a.text, a.label, a.group_key, a.split, a.source_split, a.meta::VARCHAR AS meta,
            f.uri, s.format
     FROM ${RELABELED_ACTIVE} a
     LEFT JOIN files f ON f.sample_id = a.id AND f.role = 'image'
     LEFT JOIN file_status fs ON fs.uri = f.uri
     LEFT JOIN assets s ON s.sha256 = fs.sha256`,
  );
  return rows
    .map((r) => ({ ...r, meta: parseMeta(r.meta) }))
    .sort((a, b) => compareIds(a.id, b.id));
}

/** A sample's `meta` column as an object (a non-object value or bad JSON is kept under `value`). */
export function parseMeta(meta: string | null): Record<string, unknown> | null {
  if (meta === null) return null;
  try {
    const v: unknown = JSON.parse(meta);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { value: meta };
  }
}

export const ReencodeOptions = z
  .object({
    format: z.enum(['jpeg', 'png', 'webp']),
    quality: z.number().int().min(1).max(100).default(90),
  })
  .strict();
export type ReencodeOptions = z.infer<typeof ReencodeOptions>;

const REENCODE_EXT = { jpeg: 'jpg', png: 'png', webp: 'webp' } as const;

export interface EncodedImage {
  data: Buffer;
  /** File extension without the dot. */
  ext: string;
  reencoded: boolean;
}

/**
 * A sample's image as file bytes: copied byte for byte when its format is one of `copyable`
 * (format → extension), otherwise (or when `reencode` is given) re-encoded with sharp, EXIF
 * orientation baked in. Unprobed files are sniffed with sharp.
 */
export async function imageFile(
  sample: ImageSample,
  copyable: Readonly<Record<string, string>>,
  reencode?: ReencodeOptions,
): Promise<EncodedImage> {
  if (!sample.uri) throw new Error('the sample has no image file');
  const bytes = await readUri(sample.uri);
  if (reencode) {
    const img = openImage(bytes).rotate();
    const data =
      reencode.format === 'jpeg' ? await img.jpeg({ quality: reencode.quality }).toBuffer()
      : reencode.format === 'webp' ? await img.webp({ quality: reencode.quality }).toBuffer()
      : await img.png().toBuffer();
    return { data, ext: REENCODE_EXT[reencode.format], reencoded: true };
  }
  const format = sample.format ?? (await imageFormat(bytes));
  if (format === null) throw new Error(`cannot tell the image format of ${uriBasename(sample.uri)}`);
  const ext = copyable[format];
  if (ext) return { data: bytes, ext, reencoded: false };
  return { data: await openImage(bytes).rotate().png().toBuffer(), ext: 'png', reencoded: true };
}

/**
 * Writes files through a sink, counting what changed. A file that already holds the same bytes is
 * left untouched by the sink (reruns rewrite nothing); every path put is remembered, so
 * `removeStale` can delete what an earlier export left that this one did not write.
 */
export class TrackedWriter {
  readonly written = new Set<string>();
  filesWritten = 0;
  filesUnchanged = 0;
  bytesWritten = 0;

  constructor(readonly sink: Sink) {}

  async put(path: string, data: Uint8Array | string): Promise<void> {
    if (this.written.has(path)) throw new ImgsiftError(`export: two outputs both write ${path} in ${this.sink.location}`);
    this.written.add(path);
    const committed = await this.sink.put(path, data);
    if (!committed.written) {
      this.filesUnchanged++;
      return;
    }
    this.filesWritten++;
    this.bytesWritten += committed.size;
  }

  /**
   * Remove every file under the sink that `ours` claims and this writer did not write; returns how
   * many. Files recorded by other exports sharing the folder (owned-files.ts) are never removed.
   */
  async removeStale(ours: (path: string, all: ReadonlySet<string>) => boolean): Promise<number> {
    const all = new Set(await this.sink.list(''));
    const others = new Set<string>();
    for (const idx of await listOwned(this.sink)) for (const f of idx.files) others.add(f.path);
    let removed = 0;
    for (const p of all) {
      if (this.written.has(p) || others.has(p) || p.startsWith(`${OWNED_DIR}/`) || !ours(p, all)) continue;
      await this.sink.remove(p);
      removed++;
    }
    return removed;
  }
}


/** Image file extensions (lower case, no dot) that loaders pick up from a folder. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set([
  'jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'bmp', 'avif', 'heic', 'heif', 'jxl',
]);

export function extensionOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? '' : base.slice(dot + 1).toLowerCase();
}

/** A path segment made from user text (a label, a concept name): no separators, no control characters. */
export function safeSegment(text: string): string {
  const s = text.replace(/[/\\\x00-\x1f\x7f]/g, '_').trim();
  if (s === '' || s === '.' || s === '..') return `_${md5Hex(text).slice(0, 8)}`;
  return s.startsWith('.') ? `_${s.slice(1)}` : s;
}

/** `fn` over `items`, up to `concurrency` at once, results yielded in input order. */
export async function* orderedMap<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, concurrency: number): AsyncGenerator<R> {
  for (const results = new Lookahead(items, fn, concurrency); results.more(); ) yield await results.next();
}

/**
 * `fn` over `items` in input order, started up to `concurrency` items ahead of the one taken. A
 * result that is not a promise is handed back as it is, so work that is mostly synchronous (a
 * plan per sample) costs no await per item.
 */
export class Lookahead<T, R> {
  private readonly started: Array<R | Promise<R>> = [];
  private at = 0;

  constructor(
    private readonly items: readonly T[],
    private readonly fn: (item: T) => R | Promise<R>,
    private readonly concurrency: number,
  ) {}

  more(): boolean {
    return this.started.length > 0 || this.at < this.items.length;
  }

  next(): R | Promise<R> {
    while (this.at < this.items.length && this.started.length < this.concurrency) {
      const r = this.fn(this.items[this.at++]);
      if (r instanceof Promise) r.catch(() => undefined); // surfaced when taken
      this.started.push(r);
    }
    return this.started.shift()!;
  }
}
