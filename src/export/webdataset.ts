import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { z } from 'zod';
import { ImgsiftError, errorMessage } from '../errors.js';
import { tempPathFor, writeFileAtomic } from '../util/fs.js';
import { md5Hex, stableStringify } from '../util/hash.js';
import { readUri } from '../util/uri.js';
import { TAR_END_BYTES, UstarWriter, tarEntryBytes } from './tar.js';
import type { Exporter, ExportContext, ExportStats } from './types.js';

/**
 * WebDataset shards: per split, tar files of consecutive samples, each sample a run of members
 * `<key>.<ext>` sharing one key (the webdataset grouping rule: key = member name up to the first
 * dot). Output is deterministic — samples ordered by id within a split, members in `fields` order,
 * fixed tar headers — so the same catalog and options give byte-identical shards.
 *
 * Layout under `to` (default pattern):
 *   <split>/shard-000000.tar ...   the shards
 *   <split>.index.json             wids shard index ({"__kind__": "wids-shard-index-v1", ...});
 *                                  shard urls are relative to the index file's directory
 *   dev_extracted/<split>/shard-000000/<key>.<ext>   with --dev: each shard's members as files
 *
 * Reruns: each shard is streamed to a temporary name while its md5 is computed; if the final file
 * already exists with the same size and md5 (read back from disk, not trusted from the old index)
 * the temporary file is discarded and the old file left untouched, otherwise the new one is renamed
 * over it. Writing then comparing costs one extra read of unchanged shards, but needs no second
 * pass over the sources to predict the bytes, and a shard is always complete or absent.
 */

/** Sample fields a member can carry (anything else names a file role, e.g. 'image', 'mask'). */
const TEXT_SOURCES = ['id', 'path', 'text', 'label', 'group', 'split', 'source_split'] as const;
const FIELD_EXT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const MAX_FIELD_EXT = 19; // keeps `<key ≤ 80>.<ext>` within USTAR's 100-byte name field
const MAX_KEY = 80;
const WRITE_BATCH_BYTES = 1 << 20;

/** Formats copied byte for byte; others are converted to PNG (lossless) unless `reencode` is set. */
const COPY_FORMATS: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tiff' };
const REENCODE_EXT = { jpeg: 'jpg', png: 'png', webp: 'webp' } as const;

export const WebDatasetOptions = z
  .object({
    /** A local directory (s3:// is planned). Relative paths resolve against the recipe. */
    to: z.string().min(1),
    samples_per_shard: z.number().int().positive().default(2048),
    /** Start a new shard before one would exceed this many bytes (a single larger sample still gets a shard). */
    max_shard_bytes: z.number().int().positive().optional(),
    /** Shard path under `to`: must contain {split} and {shard} (optionally formatted, {shard:06d}) and end in .tar. */
    pattern: z.string().default('{split}/shard-{shard:06d}.tar'),
    /**
     * Members of each sample: extension → source. Sources: 'image' or another file role (bytes;
     * the extension's last part becomes the stored format's: jpeg → jpg, png → png, ...),
     * 'text', 'label' (as a class index for a `cls` extension when labels are not integers),
     * 'id', 'path', 'group', 'split', 'source_split', 'meta' (a JSON record: id, key, path,
     * label, group, split, source_split, meta) or 'meta.<field>' (one metadata value).
     */
    fields: z
      .record(z.string(), z.string().min(1))
      .default({ jpg: 'image', txt: 'text', json: 'meta', cls: 'label' }),
    /** Re-encode the 'image' role with sharp (auto-oriented); other roles are always copied. */
    reencode: z
      .object({
        format: z.enum(['jpeg', 'png', 'webp']),
        quality: z.number().int().min(1).max(100).default(90),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    const p = patternProblem(o.pattern);
    if (p) ctx.addIssue({ code: 'custom', path: ['pattern'], message: p });
    const keys = Object.keys(o.fields);
    if (keys.length === 0) ctx.addIssue({ code: 'custom', path: ['fields'], message: 'fields must name at least one member' });
    for (const ext of keys) {
      if (!FIELD_EXT.test(ext) || ext.length > MAX_FIELD_EXT) {
        ctx.addIssue({
          code: 'custom',
          path: ['fields', ext],
          message: `member extension '${ext}' must be dot-separated parts of [A-Za-z0-9_-], at most ${MAX_FIELD_EXT} characters (e.g. 'jpg', 'input.jpg')`,
        });
      }
    }
  });
export type WebDatasetOptions = z.infer<typeof WebDatasetOptions>;

// ---------------------------------------------------------------------------------------------
// Shard names

const PLACEHOLDER = /\{(split|shard)(?::0(\d)d)?\}/g;

function patternProblem(pattern: string): string | null {
  const stripped = pattern.replace(PLACEHOLDER, 'x');
  if (/[{}]/.test(stripped)) {
    return `pattern '${pattern}' may only use {split}, {shard} and {shard:0Nd} (e.g. {shard:06d})`;
  }
  if (!pattern.includes('{split}')) return `pattern '${pattern}' must contain {split} (splits would overwrite each other)`;
  if (!/\{shard(:0\d+d)?\}/.test(pattern)) return `pattern '${pattern}' must contain {shard} or {shard:0Nd}`;
  if (!pattern.endsWith('.tar')) return `pattern '${pattern}' must end in .tar`;
  if (pattern.startsWith('/') || pattern.split('/').includes('..')) return `pattern '${pattern}' must be a relative path without '..'`;
  if (pattern.startsWith('dev_extracted/')) return `pattern '${pattern}' must not write into dev_extracted/`;
  return null;
}

/** The shard path (relative to `to`) for `split` and shard number `n`. */
export function shardPath(pattern: string, split: string, n: number): string {
  return pattern.replace(PLACEHOLDER, (_m, name: string, width?: string) =>
    name === 'split' ? split : String(n).padStart(width ? Number(width) : 0, '0'),
  );
}

/** Path of a split's wids index, relative to `to`. */
export function indexPath(split: string): string {
  return `${split}.index.json`;
}

// ---------------------------------------------------------------------------------------------
// Keys

/**
 * WebDataset keys for sample ids: characters other than [A-Za-z0-9_-] become '_' (a key has no
 * dots, and no slashes so members stay flat). Ids whose sanitized form is shared with another id,
 * or that had to be shortened to 80 characters, get `_` + the first 8 hex digits of md5(id), so
 * every key is unique and decided by the ids alone. The json member records key → id.
 */
export function sampleKeys(ids: string[]): Map<string, string> {
  const clean = (id: string) => id.replace(/[^A-Za-z0-9_-]/g, '_');
  const byClean = new Map<string, number>();
  for (const id of ids) {
    const c = clean(id);
    byClean.set(c, (byClean.get(c) ?? 0) + 1);
  }
  const keys = new Map<string, string>();
  const used = new Set<string>();
  for (const id of ids) {
    const c = clean(id);
    let key = c;
    if (c.length > MAX_KEY || byClean.get(c)! > 1 || c.length === 0) {
      key = `${c.slice(0, MAX_KEY - 9)}_${md5Hex(id).slice(0, 8)}`;
    }
    if (used.has(key)) key = `k_${md5Hex(id)}`; // a sanitized id that happens to look like a suffixed one
    if (used.has(key)) throw new ImgsiftError(`webdataset: cannot make a unique key for sample id ${JSON.stringify(id)}`);
    used.add(key);
    keys.set(id, key);
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Samples and members

interface SampleRow {
  id: string;
  path: string | null;
  text: string | null;
  label: string | null;
  group_key: string | null;
  split: string;
  source_split: string | null;
  meta: unknown;
}

interface FileRow {
  sample_id: string;
  role: string;
  uri: string;
  format: string | null;
}

interface Member {
  name: string;
  data: Buffer;
}

interface LoadedSample {
  key: string;
  members: Member[];
  /** Bytes in the tar, headers and padding included. */
  tarBytes: number;
  reencoded: number;
}

type FieldSource =
  | { kind: 'file'; role: string }
  | { kind: 'text'; column: (typeof TEXT_SOURCES)[number] }
  | { kind: 'record' }
  | { kind: 'metaField'; field: string };

function parseSource(source: string): FieldSource {
  if ((TEXT_SOURCES as readonly string[]).includes(source)) return { kind: 'text', column: source as (typeof TEXT_SOURCES)[number] };
  if (source === 'meta') return { kind: 'record' };
  if (source.startsWith('meta.')) return { kind: 'metaField', field: source.slice(5) };
  return { kind: 'file', role: source };
}

/** Labels as `cls` members: integers as they are, otherwise the index in the sorted label list. */
interface LabelCoding {
  classes: string[] | null;
  index: Map<string, number>;
}

interface ExportPlan {
  fields: Array<{ ext: string; source: FieldSource }>;
  keys: Map<string, string>;
  labels: LabelCoding;
  reencode?: WebDatasetOptions['reencode'];
}

async function loadSample(plan: ExportPlan, row: SampleRow, files: Map<string, FileRow>): Promise<LoadedSample> {
  const key = plan.keys.get(row.id)!;
  const members: Member[] = [];
  let reencoded = 0;
  const meta = parseMeta(row.meta);
  for (const { ext, source } of plan.fields) {
    let name = `${key}.${ext}`;
    let data: Buffer | null = null;
    switch (source.kind) {
      case 'file': {
        const f = files.get(source.role);
        if (!f) {
          if (source.role === 'image') throw new Error(`sample has no 'image' file`);
          continue; // optional roles may be missing on some samples
        }
        const bytes = await readUri(f.uri);
        const out = await encodeFile(bytes, f.format, source.role === 'image' ? plan.reencode : undefined);
        data = out.data;
        if (out.ext) name = `${key}.${replaceLastExt(ext, out.ext)}`;
        if (out.reencoded) reencoded++;
        break;
      }
      case 'text': {
        const v = textColumn(row, source.column);
        if (v === null) continue;
        if (source.column === 'label' && lastExt(ext) === 'cls') data = Buffer.from(String(labelCode(plan.labels, v)));
        else data = Buffer.from(v, 'utf8');
        break;
      }
      case 'record':
        data = Buffer.from(
          stableStringify(dropNulls({
            id: row.id, key, path: row.path, label: row.label, group: row.group_key, split: row.split,
            source_split: row.source_split, meta,
          })),
          'utf8',
        );
        break;
      case 'metaField': {
        const v = meta && typeof meta === 'object' ? (meta as Record<string, unknown>)[source.field] : undefined;
        if (v === undefined || v === null) continue;
        data = Buffer.from(typeof v === 'string' ? v : stableStringify(v), 'utf8');
        break;
      }
    }
    members.push({ name, data });
  }
  const names = new Set<string>();
  for (const m of members) {
    if (names.has(m.name)) {
      throw new ImgsiftError(
        `webdataset: two fields both produce member '${m.name}' (file extensions follow the stored format); give them distinct names such as 'input.jpg' and 'mask.png'`,
      );
    }
    names.add(m.name);
  }
  const tarBytes = members.reduce((s, m) => s + tarEntryBytes(m.data.byteLength), 0);
  return { key, members, tarBytes, reencoded };
}

async function encodeFile(
  bytes: Buffer,
  format: string | null,
  reencode: WebDatasetOptions['reencode'],
): Promise<{ data: Buffer; ext?: string; reencoded: boolean }> {
  if (reencode) {
    const img = sharp(bytes).rotate(); // bake EXIF orientation in: the re-encoded file has no EXIF
    const data =
      reencode.format === 'jpeg' ? await img.jpeg({ quality: reencode.quality }).toBuffer()
      : reencode.format === 'webp' ? await img.webp({ quality: reencode.quality }).toBuffer()
      : await img.png().toBuffer();
    return { data, ext: REENCODE_EXT[reencode.format], reencoded: true };
  }
  if (format === null) return { data: bytes, reencoded: false }; // not probed: trust the field's extension
  const ext = COPY_FORMATS[format];
  if (ext) return { data: bytes, ext, reencoded: false };
  return { data: await sharp(bytes).rotate().png().toBuffer(), ext: 'png', reencoded: true };
}

function lastExt(ext: string): string {
  return ext.slice(ext.lastIndexOf('.') + 1);
}

function replaceLastExt(ext: string, to: string): string {
  const i = ext.lastIndexOf('.');
  return i < 0 ? to : `${ext.slice(0, i)}.${to}`;
}

function textColumn(row: SampleRow, column: (typeof TEXT_SOURCES)[number]): string | null {
  switch (column) {
    case 'id': return row.id;
    case 'path': return row.path;
    case 'text': return row.text;
    case 'label': return row.label;
    case 'group': return row.group_key;
    case 'split': return row.split;
    case 'source_split': return row.source_split;
  }
}

function labelCode(coding: LabelCoding, label: string): string | number {
  return coding.classes ? coding.index.get(label)! : label;
}

function parseMeta(meta: unknown): unknown {
  if (typeof meta !== 'string') return meta ?? null;
  try {
    return JSON.parse(meta);
  } catch {
    return meta;
  }
}

function dropNulls(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

/** `fn` over `items` with up to `concurrency` in flight, yielding results in input order. */
async function* orderedMap<T, R>(items: T[], fn: (item: T) => Promise<R>, concurrency: number): AsyncGenerator<R> {
  const inflight: Promise<R>[] = [];
  let next = 0;
  const fill = () => {
    while (next < items.length && inflight.length < concurrency) {
      const p = fn(items[next++]);
      p.catch(() => undefined); // rejections surface when awaited in order
      inflight.push(p);
    }
  };
  fill();
  while (inflight.length) {
    const r = await inflight.shift()!;
    fill();
    yield r;
  }
}

// ---------------------------------------------------------------------------------------------
// Shards

interface ShardResult {
  url: string;
  nsamples: number;
  filesize: number;
  md5sum: string;
  written: boolean;
}

/** One shard being written: a tar streamed to a temporary file, md5 computed on the way. */
class ShardWriter {
  private readonly tar = new UstarWriter();
  private readonly tmp: string;
  private readonly hash = createHash('md5');
  private readonly pump: Promise<void>;
  private readonly devDir: string | null;
  private readonly devTmp: string | null;
  /** Bytes that have reached the file so far (the pump's count). */
  bytes = 0;
  /** Bytes of the archive so far, counted as samples are added (before the stream drains). */
  planned = 0;
  nsamples = 0;

  constructor(
    private readonly final: string,
    readonly url: string,
    devDir: string | null,
  ) {
    const tmp = tempPathFor(final);
    this.tmp = tmp;
    this.devDir = devDir;
    this.devTmp = devDir ? tempPathFor(devDir) : null;
    // Chunks are gathered into ~1 MB batches, one writev each, with the next batch filling while
    // the previous one is written: per-chunk writes (header, data, padding) cost a syscall each.
    this.pump = (async () => {
      const fh = await open(tmp, 'w');
      try {
        let batch: Buffer[] = [];
        let size = 0;
        let pending: Promise<unknown> = Promise.resolve();
        for await (const chunk of this.tar.stream as AsyncIterable<Buffer>) {
          this.hash.update(chunk);
          this.bytes += chunk.byteLength;
          batch.push(chunk);
          size += chunk.byteLength;
          if (size >= WRITE_BATCH_BYTES || batch.length >= 512) {
            await pending;
            pending = fh.writev(batch);
            batch = [];
            size = 0;
          }
        }
        await pending;
        if (batch.length) await fh.writev(batch);
      } finally {
        await fh.close();
      }
    })();
    // If writing fails, fail the pending `add` too instead of leaving it waiting for a reader.
    this.pump.catch((err: Error) => this.tar.stream.destroy(err));
  }

  static async open(final: string, url: string, devDir: string | null): Promise<ShardWriter> {
    await mkdir(dirname(final), { recursive: true });
    if (devDir) await mkdir(dirname(devDir), { recursive: true });
    const w = new ShardWriter(final, url, devDir);
    if (w.devTmp) await mkdir(w.devTmp);
    return w;
  }

  async add(sample: LoadedSample): Promise<void> {
    for (const m of sample.members) {
      await this.tar.add(m.name, m.data);
      if (this.devTmp) await writeFile(join(this.devTmp, m.name), m.data);
    }
    this.nsamples++;
    this.planned += sample.tarBytes;
  }

  /** Finish the tar and move it into place, unless an identical file is already there. */
  async close(): Promise<ShardResult> {
    this.tar.finish();
    await this.pump;
    const md5sum = this.hash.digest('hex');
    let written = true;
    try {
      if ((await fileMd5IfSize(this.final, this.bytes)) === md5sum) {
        written = false;
        await rm(this.tmp, { force: true });
      } else {
        const fh = await open(this.tmp, 'r+');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(this.tmp, this.final);
      }
      if (this.devDir && this.devTmp) {
        await rm(this.devDir, { recursive: true, force: true });
        await rename(this.devTmp, this.devDir);
      }
    } catch (err) {
      await this.discard();
      throw err;
    }
    return { url: this.url, nsamples: this.nsamples, filesize: this.bytes, md5sum, written };
  }

  async discard(): Promise<void> {
    this.tar.stream.destroy();
    await this.pump.catch(() => undefined);
    await rm(this.tmp, { force: true });
    if (this.devTmp) await rm(this.devTmp, { recursive: true, force: true });
  }
}

async function fileMd5IfSize(path: string, size: number): Promise<string | null> {
  try {
    const st = await stat(path);
    if (!st.isFile() || st.size !== size) return null;
  } catch {
    return null;
  }
  const h = createHash('md5');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------
// The exporter

export const webdatasetExporter: Exporter<WebDatasetOptions> = {
  format: 'webdataset',
  description: 'WebDataset tar shards per split (deterministic, USTAR) with a wids shard index',
  options: WebDatasetOptions,
  async run(ctx: ExportContext, options: WebDatasetOptions): Promise<ExportStats> {
    const to = localDestination(ctx.baseDir, options.to);
    const { catalog, reporter } = ctx;

    const rows = await catalog.all<SampleRow>(
      `SELECT id, path, text, label, group_key, coalesce(split, 'all') AS split, source_split, meta::VARCHAR AS meta
       FROM active ORDER BY split, id`,
    );
    const plan = await makePlan(ctx, options, rows);
    const bySplit = new Map<string, SampleRow[]>();
    for (const r of rows) {
      checkSplitName(r.split);
      if (!bySplit.has(r.split)) bySplit.set(r.split, []);
      bySplit.get(r.split)!.push(r);
    }

    const stats: ExportStats = {};
    let bytes = 0;
    let unchanged = 0;
    let skipped = 0;
    let reencoded = 0;
    const progress = reporter.progress('webdataset', rows.length);
    try {
      for (const [split, samples] of bySplit) {
        const files = await splitFiles(ctx, split);
        const shards: ShardResult[] = [];
        let shard: ShardWriter | null = null;
        const openShard = (n: number) => {
          const rel = shardPath(options.pattern, split, n);
          const devDir = ctx.dev ? join(to, 'dev_extracted', split, basename(rel, '.tar')) : null;
          return ShardWriter.open(join(to, rel), rel, devDir);
        };
        try {
          const load = async (row: SampleRow): Promise<LoadedSample | { error: string; id: string }> => {
            try {
              return await loadSample(plan, row, files.get(row.id) ?? new Map());
            } catch (err) {
              if (err instanceof ImgsiftError) throw err;
              return { error: errorMessage(err), id: row.id };
            }
          };
          for await (const s of orderedMap(samples, load, 16)) {
            if (ctx.signal?.aborted) throw new ImgsiftError('webdataset: export interrupted');
            if ('error' in s) {
              skipped++;
              if (skipped <= 5) reporter.warn(`webdataset: skipped sample ${s.id}: ${s.error}`);
              progress.tick(1, 1);
              continue;
            }
            if (
              shard &&
              (shard.nsamples >= options.samples_per_shard ||
                (options.max_shard_bytes !== undefined &&
                  shard.planned + s.tarBytes + TAR_END_BYTES > options.max_shard_bytes))
            ) {
              shards.push(await shard.close());
              shard = null;
            }
            shard ??= await openShard(shards.length);
            await shard.add(s);
            reencoded += s.reencoded;
            progress.tick();
          }
          if (shard) shards.push(await shard.close());
          shard = null;
        } finally {
          if (shard) await shard.discard();
        }
        await writeIndex(to, split, shards, plan.labels);
        if (ctx.dev) await removeStaleExtracted(join(to, 'dev_extracted', split), shards);
        for (const s of shards) {
          if (s.written) bytes += s.filesize;
          else unchanged++;
        }
        stats[`samples ${split}`] = shards.reduce((n, s) => n + s.nsamples, 0);
        stats[`shards ${split}`] = shards.length;
      }
    } finally {
      progress.finish();
    }
    stats['bytes written'] = bytes;
    stats['shards unchanged'] = unchanged;
    if (skipped) stats['samples skipped'] = skipped;
    if (reencoded) stats['files re-encoded'] = reencoded;
    return stats;
  },
};

function localDestination(baseDir: string, to: string): string {
  if (/^s3:\/\//i.test(to)) {
    throw new ImgsiftError(`webdataset: to '${to}': s3:// destinations are not yet supported; give a local directory`);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(to)) {
    throw new ImgsiftError(`webdataset: to '${to}' must be a local directory (URL schemes are not supported)`);
  }
  return resolve(baseDir, to);
}

function checkSplitName(split: string): void {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(split) || split === '..' || split === 'dev_extracted') {
    throw new ImgsiftError(
      `webdataset: split name ${JSON.stringify(split)} cannot be used in a path; use letters, digits, '_', '-' and '.'`,
    );
  }
}

async function makePlan(ctx: ExportContext, options: WebDatasetOptions, rows: SampleRow[]): Promise<ExportPlan> {
  const roles = new Set(
    (await ctx.catalog.all<{ role: string }>(`SELECT DISTINCT f.role FROM files f JOIN active a ON a.id = f.sample_id`)).map((r) => r.role),
  );
  const fields = Object.entries(options.fields).map(([ext, src]) => {
    const source = parseSource(src);
    if (source.kind === 'file' && !roles.has(source.role) && rows.length > 0) {
      throw new ImgsiftError(
        `webdataset: fields.${ext}: '${src}' is neither a sample field (${[...TEXT_SOURCES, 'meta', 'meta.<field>'].join(', ')}) nor a file role of these samples (${[...roles].sort().join(', ') || 'none'})`,
      );
    }
    return { ext, source };
  });
  const labels = (await ctx.catalog.all<{ label: string }>(
    `SELECT DISTINCT label FROM active WHERE label IS NOT NULL ORDER BY label`,
  )).map((r) => r.label);
  const numeric = labels.every((l) => /^-?\d+$/.test(l));
  return {
    fields,
    keys: sampleKeys(rows.map((r) => r.id)),
    labels: { classes: numeric ? null : labels, index: new Map(labels.map((l, i) => [l, i])) },
    reencode: options.reencode,
  };
}

/** The split's files by sample and role, with the stored format of each. */
async function splitFiles(ctx: ExportContext, split: string): Promise<Map<string, Map<string, FileRow>>> {
  const rows = await ctx.catalog.all<FileRow>(
    `SELECT f.sample_id, f.role, f.uri, s.format
     FROM files f JOIN active a ON a.id = f.sample_id
     LEFT JOIN file_status fs ON fs.uri = f.uri
     LEFT JOIN assets s ON s.sha256 = fs.sha256
     WHERE coalesce(a.split, 'all') = $1`,
    [split],
  );
  const out = new Map<string, Map<string, FileRow>>();
  for (const r of rows) {
    if (!out.has(r.sample_id)) out.set(r.sample_id, new Map());
    out.get(r.sample_id)!.set(r.role, r);
  }
  return out;
}

/** The wids index of one split; shards the previous index listed but this one does not are removed. */
async function writeIndex(to: string, split: string, shards: ShardResult[], labels: LabelCoding): Promise<void> {
  const path = join(to, indexPath(split));
  const previous = await readFile(path, 'utf8').then((t) => JSON.parse(t) as { shardlist?: Array<{ url?: unknown }> }, () => null);
  const index: Record<string, unknown> = {
    __kind__: 'wids-shard-index-v1',
    wids_version: 1,
    name: split,
    shardlist: shards.map((s) => ({ url: s.url, nsamples: s.nsamples, filesize: s.filesize, md5sum: s.md5sum })),
  };
  if (labels.classes) index.classes = labels.classes;
  await writeFileAtomic(path, JSON.stringify(index, null, 2) + '\n');
  const keep = new Set(shards.map((s) => s.url));
  for (const old of previous?.shardlist ?? []) {
    if (typeof old.url !== 'string' || keep.has(old.url)) continue;
    if (old.url.startsWith('/') || old.url.split('/').includes('..')) continue; // only what we wrote
    await rm(join(to, old.url), { force: true });
  }
}

/** dev_extracted is ours alone: drop shard directories of an earlier run that this one did not write. */
async function removeStaleExtracted(dir: string, shards: ShardResult[]): Promise<void> {
  const keep = new Set(shards.map((s) => basename(s.url, '.tar')));
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const name of entries) if (!keep.has(name)) await rm(join(dir, name), { recursive: true, force: true });
}
