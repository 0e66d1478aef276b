import { loadRoleAliases, resolveRole } from '../catalog/roles.js';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { openImage } from '../image/open.js';
import { z } from 'zod';
import { ImgsiftError, asStorageError, errorMessage } from '../errors.js';
import { tempPathFor } from '../util/fs.js';
import { md5Hex, stableStringify } from '../util/hash.js';
import { readUri } from '../util/uri.js';
import { encodeAs, formatOf, formatOfExtension, isMaskRole } from './convert.js';
import { Lookahead } from './file-export.js';
import { Writeback } from './writeback.js';
import { lookup } from './path-template.js';
import { DEV_DIR, LocalSink, S3Options, isS3Url, sinkFor, type Sink, type SinkWriter } from './sink.js';
import { RELABELED_ACTIVE } from './labels.js';
import { TAR_END_BYTES, tarEntryBytes } from './tar.js';
import { TarPacker, type MemberInput, type PackedShard, type PackedShardResult } from './tar-packer.js';
import type { Exporter, ExportContext, ExportStats } from './types.js';

/**
 * WebDataset shards: per split, tar files of consecutive samples, each sample a run of members
 * `<key>.<ext>` sharing one key (the webdataset grouping rule: key = member name up to the first
 * dot). Output is deterministic — samples ordered by id within a split, members in `fields` order,
 * fixed tar headers — so the same catalog and options give byte-identical shards.
 *
 * Layout under `to` (a local folder or s3://bucket/prefix; default pattern):
 *   <split>/shard-000000.tar ...   the shards
 *   <split>.index.json             wids shard index ({"__kind__": "wids-shard-index-v1", ...});
 *                                  shard urls are relative to the index file's directory
 *   dev_extracted/<split>/shard-000000/<key>.<ext>   with --dev: each shard's members as files
 * With --dev and an s3:// `to`, nothing is uploaded: everything goes to `<recipe dir>/dev_extracted/`
 * instead (tars, indexes, and each shard extracted beside its tar: dev_extracted/<split>/shard-000000/).
 *
 * Reruns: each shard is written to a scratch file (beside the shard, or a spool file for S3) while
 * its content hash (xxh128) is computed; if the destination already holds the same bytes
 * (compared with the file on disk, or by size and the object's xxh128 metadata in S3 — never
 * trusted from the old index) nothing is renamed or uploaded, otherwise the new shard is committed
 * over it. Writing then comparing costs one extra read of unchanged local shards, but needs no
 * second pass over the sources to predict the bytes, and a shard is always complete or absent.
 */

/** Sample fields a member can carry (anything else names a file role, e.g. 'image', 'mask'). */
const TEXT_SOURCES = ['id', 'path', 'text', 'label', 'group', 'split', 'source_split'] as const;
/** The sample column each text source reads. */
const TEXT_COLUMNS = {
  id: 'id', path: 'path', text: 'text', label: 'label', group: 'group_key', split: 'split', source_split: 'source_split',
} as const satisfies Record<(typeof TEXT_SOURCES)[number], string>;
const FIELD_EXT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const MAX_FIELD_EXT = 19; // keeps `<key ≤ 80>.<ext>` within USTAR's 100-byte name field
const MAX_KEY = 80;

/** Formats copied byte for byte; others are converted to PNG (lossless) unless `reencode` is set. */
const COPY_FORMATS: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tiff' };
const REENCODE_EXT = { jpeg: 'jpg', png: 'png', webp: 'webp' } as const;

/**
 * A member holding a file of a role under exactly its name: `{role: image}` as `input.jpg` is a
 * JPEG whatever the stored format (converted when it differs, with `quality`); masks only as PNG.
 */
const RoleMember = z
  .object({
    role: z.string().min(1),
    quality: z.number().int().min(1).max(100).default(90),
  })
  .strict();

export const WebDatasetOptions = z
  .object({
    /**
     * A local directory (relative paths resolve against the recipe) or s3://bucket/prefix. With
     * --dev nothing is uploaded: an s3:// destination is written to `dev_extracted/` beside the
     * recipe instead, each shard extracted next to its tar (dev_extracted/<split>/shard-000000/).
     */
    to: z.string().min(1),
    /** Endpoint, region, part size, concurrency and retries for s3:// destinations. */
    s3: S3Options.optional(),
    samples_per_shard: z.number().int().positive().default(2048),
    /**
     * Keys from a sample field instead of the id: a column (id, path, text, label, group) or a metadata
     * path (`output_image`, `meta.a.b`), optionally without its file extension —
     * `{ from: output_image, drop_extension: true }` keys images/positive-edit/1.png as
     * images_positive-edit_1. Characters other than [A-Za-z0-9_-] become '_' as for ids; a sample
     * without the field, or two samples with one key, stop the export naming them.
     */
    key: z.object({ from: z.string().min(1), drop_extension: z.boolean().default(false) }).strict().optional(),
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
     * `{role: <role>, quality?}` instead of a source writes that role's file under exactly the
     * member's name, converting when the extension names another format (`input.jpg` from PNG
     * bytes); masks only as PNG. `reencode` does not apply to these.
     */
    fields: z
      .record(z.string(), z.union([z.string().min(1), RoleMember]))
      .default({ jpg: 'image', txt: 'text', json: 'meta', cls: 'label' }),
    /**
     * Also hash each shard with md5 as it is written and list it in the index as `md5sum`, as
     * `widsindex create` does (wids checks it only when asked to). Every shard is listed with its
     * `xxh128` (as `xxh128sum` prints it); md5 costs about 1.5 CPU-s more per GB written.
     */
    index_md5: z.boolean().default(false),
    /**
     * Sync each local shard to disk before renaming it into place, so that after a power loss every
     * shard is whole or absent (a new shard's writeback starts while it is packed). An export is
     * then as fast as the disk takes the bytes in; false leaves writing back to the kernel, as tar
     * and webdataset's writers do — faster when the disk is the slower part, and a shard a power
     * loss cut short is found and rewritten by the next export (it compares every shard's bytes).
     */
    sync: z.boolean().default(true),
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
      const src = o.fields[ext];
      if (typeof src === 'object') {
        const format = formatOfExtension(lastExt(ext));
        if (!format) {
          ctx.addIssue({ code: 'custom', path: ['fields', ext], message: `member '${ext}' of role '${src.role}' must end in an image extension (jpg, png, webp)` });
        } else if (isMaskRole(src.role) && format !== 'png') {
          ctx.addIssue({ code: 'custom', path: ['fields', ext], message: `member '${ext}': role '${src.role}' holds masks, which are written as lossless PNG; name it .png` });
        }
      }
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
 * WebDataset keys for sample ids: characters (code points) other than [A-Za-z0-9_-] become '_' (a
 * key has no dots, and no slashes so members stay flat). Ids whose sanitized form is shared with
 * another id, or that had to be shortened to 80 characters, get `_` + the first 8 hex digits of
 * md5(id), so every key is unique and decided by the ids alone. The json member records key → id.
 */
export function sampleKeys(ids: string[]): Map<string, string> {
  const keys = keysOf(ids);
  return new Map(ids.map((id, i) => [id, keys[i]]));
}

/** What a suffixed key looks like; a sanitized id of this form might meet one. */
const SUFFIXED_KEY = /_[0-9a-f]{8}$|^k_[0-9a-f]{32}$/;

/**
 * sampleKeys as a list in the order of `ids`. Sanitized forms that no other id has are unique
 * already, so only suffixed keys and the ids that look like them are remembered, to catch a
 * meeting between the two.
 */
function keysOf(ids: string[]): string[] {
  const keys = ids.map((id) => id.replace(/[^A-Za-z0-9_-]/gu, '_'));
  const seen = new Set<string>();
  const shared = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) shared.add(k);
    else seen.add(k);
  }
  const suffixed = new Set<string>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    let key = keys[i];
    if (key.length > MAX_KEY || key.length === 0 || shared.has(key)) key = `${key.slice(0, MAX_KEY - 9)}_${md5Hex(id).slice(0, 8)}`;
    if (!SUFFIXED_KEY.test(key)) continue;
    if (suffixed.has(key)) key = `k_${md5Hex(id)}`; // a sanitized id that happens to look like a suffixed one
    if (suffixed.has(key)) throw new ImgsiftError(`webdataset: cannot make a unique key for sample id ${JSON.stringify(id)}`);
    suffixed.add(key);
    keys[i] = key;
  }
  return keys;
}

/** Keys from a field of each sample (the `key` option); missing values and shared keys are errors. */
export function fieldKeys(
  rows: Array<Pick<SampleRow, 'id' | 'path' | 'text' | 'label' | 'group_key' | 'meta'>>,
  opt: { from: string; drop_extension: boolean },
): Map<string, string> {
  const keys = new Map<string, string>();
  const owner = new Map<string, string>();
  for (const r of rows) {
    let v: unknown;
    if (opt.from === 'id' || opt.from === 'path' || opt.from === 'text' || opt.from === 'label') v = r[opt.from];
    else if (opt.from === 'group') v = r.group_key;
    else v = lookup({ meta: parseMeta(r.meta) } as Record<string, unknown>, opt.from.startsWith('meta.') ? opt.from : `meta.${opt.from}`);
    if (v === undefined || v === null || v === '' || typeof v === 'object') {
      throw new ImgsiftError(`webdataset: key.from: sample ${JSON.stringify(r.id)} has no value for '${opt.from}'`);
    }
    let text = String(v);
    if (opt.drop_extension) text = text.replace(/\.[^./\\]*$/, '');
    const key = text.replace(/[^A-Za-z0-9_-]/g, '_');
    if (key.length === 0 || key.length > MAX_KEY) {
      throw new ImgsiftError(`webdataset: key.from: sample ${JSON.stringify(r.id)} gives key ${JSON.stringify(key)} (1 to ${MAX_KEY} characters needed)`);
    }
    const other = owner.get(key);
    if (other !== undefined) throw new ImgsiftError(`webdataset: key.from: samples ${JSON.stringify(other)} and ${JSON.stringify(r.id)} both give key ${JSON.stringify(key)}`);
    owner.set(key, r.id);
    keys.set(r.id, key);
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Samples and members

interface SampleRow {
  id: string;
  /** Its WebDataset key: from the id (sampleKeys' rule), or from a field with the `key` option. */
  key: string;
  path: string | null;
  text: string | null;
  label: string | null;
  group_key: string | null;
  split: string;
  source_split: string | null;
  meta: unknown;
  /** The sample's file of each role the fields name (ExportPlan.roles), or null when it has none. */
  files: Array<FileRow | null>;
}

interface FileRow {
  uri: string;
  format: string | null;
  /** Size of the content the catalog holds for this file (null when it was never read). */
  bytes: number | null;
}

interface LoadedSample {
  id: string;
  key: string;
  /** Files copied as they are stay paths: the packing lane reads them. */
  members: MemberInput[];
  /** Bytes in the tar, headers and padding included. */
  tarBytes: number;
  reencoded: number;
}

type FieldSource =
  | { kind: 'file'; role: string; slot: number }
  | { kind: 'member'; role: string; slot: number; format: string; quality: number }
  | { kind: 'text'; column: (typeof TEXT_SOURCES)[number] }
  | { kind: 'record' }
  | { kind: 'metaField'; field: string };

function parseSource(source: string | z.infer<typeof RoleMember>, ext: string): FieldSource {
  if (typeof source === 'object') return { kind: 'member', role: source.role, slot: -1, format: formatOfExtension(lastExt(ext))!, quality: source.quality };
  if ((TEXT_SOURCES as readonly string[]).includes(source)) return { kind: 'text', column: source as (typeof TEXT_SOURCES)[number] };
  if (source === 'meta') return { kind: 'record' };
  if (source.startsWith('meta.')) return { kind: 'metaField', field: source.slice(5) };
  return { kind: 'file', role: source, slot: -1 };
}

/** Labels as `cls` members: integers as they are, otherwise the index in the sorted label list. */
interface LabelCoding {
  classes: string[] | null;
  index: Map<string, number>;
}

interface ExportPlan {
  fields: Array<{ ext: string; source: FieldSource }>;
  /** Whether a member shows the sample's metadata (else it is never parsed). */
  needsMeta: boolean;
  labels: LabelCoding;
  reencode?: WebDatasetOptions['reencode'];
}

/**
 * A file's bytes, for the members the main thread converts. Plain paths are read synchronously:
 * readFileSync costs about a third of the CPU of fs/promises' readFile for small files. Members
 * of tars and the rest go through readUri.
 */
async function readSource(uri: string): Promise<Buffer> {
  return uri.startsWith('/') ? readFileSync(uri) : readUri(uri);
}

/**
 * A file member copied byte for byte from a local path: the packing lane reads it. Its size is
 * the catalogued content's (the lane leaves the sample out if the file no longer has it), or
 * read here for a file the catalog never read.
 */
function pathMember(name: string, f: FileRow): { name: string; path: string; size: number } | null {
  if (!f.uri.startsWith('/')) return null;
  if (f.bytes !== null) return { name, path: f.uri, size: f.bytes };
  const st = statSync(f.uri);
  if (!st.isFile()) throw new Error(`${f.uri} is not a regular file`);
  return { name, path: f.uri, size: st.size };
}

/**
 * A sample's members in field order. Synchronous when every member is a copied file or made from
 * sample fields (the common case: nothing to wait for); a promise when a file must be read and
 * converted here.
 */
function loadSample(plan: ExportPlan, row: SampleRow): LoadedSample | Promise<LoadedSample> {
  const key = row.key;
  const slots: Array<MemberInput | Promise<Converted>> = [];
  let pending = 0;
  const meta = plan.needsMeta ? parseMeta(row.meta) : null;
  const text = (name: string, v: string) => slots.push({ name, data: Buffer.from(v, 'utf8') });
  for (const { ext, source } of plan.fields) {
    const name = `${key}.${ext}`;
    switch (source.kind) {
      case 'file': {
        const f = row.files[source.slot];
        if (!f) {
          if (source.role === 'image') throw new Error(`sample has no 'image' file`);
          continue; // optional roles may be missing on some samples
        }
        const reencode = source.role === 'image' ? plan.reencode : undefined;
        const copyExt = reencode ? undefined : f.format === null ? null : COPY_FORMATS[f.format];
        const copied = copyExt !== undefined && pathMember(copyExt ? `${key}.${replaceLastExt(ext, copyExt)}` : name, f);
        if (copied) slots.push(copied);
        else {
          slots.push(convertFile(f, reencode, (outExt) => (outExt ? `${key}.${replaceLastExt(ext, outExt)}` : name)));
          pending++;
        }
        break;
      }
      case 'member': {
        const f = row.files[source.slot];
        if (!f) {
          if (source.role === 'image') throw new Error(`sample has no 'image' file`);
          continue;
        }
        const copied = f.format === source.format && pathMember(name, f);
        if (copied) slots.push(copied);
        else {
          slots.push(convertMember(f, source, name));
          pending++;
        }
        break;
      }
      case 'text': {
        const v = textColumn(row, source.column);
        if (v === null) continue;
        text(name, source.column === 'label' && lastExt(ext) === 'cls' ? String(labelCode(plan.labels, v)) : v);
        break;
      }
      case 'record':
        text(name, stableStringify(dropNulls({
          id: row.id, key, path: row.path, label: row.label, group: row.group_key, split: row.split,
          source_split: row.source_split, meta,
        })));
        break;
      case 'metaField': {
        const v = meta && typeof meta === 'object' ? (meta as Record<string, unknown>)[source.field] : undefined;
        if (v === undefined || v === null) continue;
        text(name, typeof v === 'string' ? v : stableStringify(v));
        break;
      }
    }
  }
  if (pending === 0) return loadedSample(row.id, key, slots as MemberInput[], 0);
  for (const p of slots) if (p instanceof Promise) p.catch(() => undefined); // surfaced by Promise.all
  return Promise.all(slots).then((done) => {
    const members = done.map((m) => ('member' in m ? m.member : m));
    return loadedSample(row.id, key, members, done.filter((m) => 'member' in m && m.reencoded).length);
  });
}

/** A member made by reading and converting a file here; `reencoded` when its pixels were encoded again. */
interface Converted {
  member: MemberInput;
  reencoded: boolean;
}

async function convertFile(f: FileRow, reencode: WebDatasetOptions['reencode'], name: (ext?: string) => string): Promise<Converted> {
  const out = await encodeFile(await readSource(f.uri), f.format, reencode);
  return { member: { name: name(out.ext), data: out.data }, reencoded: out.reencoded };
}

async function convertMember(f: FileRow, source: Extract<FieldSource, { kind: 'member' }>, name: string): Promise<Converted> {
  const bytes = await readSource(f.uri);
  const stored = await formatOf(bytes, f.format);
  if (stored === null) throw new Error(`${f.uri} is not a readable image`);
  const out = await encodeAs(bytes, stored, source.format, { quality: source.quality, mask: isMaskRole(source.role) });
  return { member: { name, data: out.data }, reencoded: out.converted };
}

function loadedSample(id: string, key: string, members: MemberInput[], reencoded: number): LoadedSample {
  let tarBytes = 0;
  const names = members.length > 1 ? new Set<string>() : null;
  for (const m of members) {
    if (names?.has(m.name)) {
      throw new ImgsiftError(
        `webdataset: two fields both produce member '${m.name}' (file extensions follow the stored format); give them distinct names such as 'input.jpg' and 'mask.png'`,
      );
    }
    names?.add(m.name);
    tarBytes += tarEntryBytes('path' in m ? m.size : m.data.byteLength);
  }
  return { id, key, members, tarBytes, reencoded };
}

async function encodeFile(
  bytes: Buffer,
  format: string | null,
  reencode: WebDatasetOptions['reencode'],
): Promise<{ data: Buffer; ext?: string; reencoded: boolean }> {
  if (reencode) {
    const img = openImage(bytes).rotate(); // bake EXIF orientation in: the re-encoded file has no EXIF
    const data =
      reencode.format === 'jpeg' ? await img.jpeg({ quality: reencode.quality }).toBuffer()
      : reencode.format === 'webp' ? await img.webp({ quality: reencode.quality }).toBuffer()
      : await img.png().toBuffer();
    return { data, ext: REENCODE_EXT[reencode.format], reencoded: true };
  }
  if (format === null) return { data: bytes, reencoded: false }; // not probed: trust the field's extension
  const ext = COPY_FORMATS[format];
  if (ext) return { data: bytes, ext, reencoded: false };
  return { data: await openImage(bytes).rotate().png().toBuffer(), ext: 'png', reencoded: true };
}

function lastExt(ext: string): string {
  return ext.slice(ext.lastIndexOf('.') + 1);
}

function replaceLastExt(ext: string, to: string): string {
  const i = ext.lastIndexOf('.');
  return i < 0 ? to : `${ext.slice(0, i)}.${to}`;
}

function textColumn(row: SampleRow, column: (typeof TEXT_SOURCES)[number]): string | null {
  return row[TEXT_COLUMNS[column]];
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
  const out: Record<string, unknown> = {};
  for (const k in o) if (o[k] !== null && o[k] !== undefined) out[k] = o[k];
  return out;
}

// ---------------------------------------------------------------------------------------------
// Shards

interface ShardResult {
  url: string;
  nsamples: number;
  filesize: number;
  xxh128: string;
  /** With `index_md5`. */
  md5sum: string | null;
  written: boolean;
  /** Samples the packing lane left out (a file unreadable when packed). */
  skipped: Array<{ id: string; error: string }>;
}

/**
 * One shard being written: packed by a tar packing lane (tar-packer.ts) into the sink's
 * scratch file (a temporary file beside the shard, or a spool file for S3), then committed
 * with the size and content hash the lane computed — unless an identical object is already there.
 */
class ShardWriter {
  private readonly devTmp: string | null;
  /** Bytes of the archive so far, counted as samples are added (before they are written). */
  planned = 0;
  nsamples = 0;

  private constructor(
    private readonly sink: Sink,
    private readonly pack: PackedShard,
    private readonly file: string,
    readonly url: string,
    private readonly devDir: string | null,
    devTmp: string | null,
    private readonly sync: boolean,
  ) {
    this.devTmp = devTmp;
  }

  /**
   * `devDir`: a local folder to extract the shard's members into (with --dev); `md5`: hash with
   * md5 too; `sync`: sync a local shard before it is renamed into place (the `sync` option).
   */
  static async open(
    sink: Sink, packer: TarPacker, url: string, devDir: string | null, { md5, sync }: { md5: boolean; sync: boolean },
  ): Promise<ShardWriter> {
    const file = await sink.scratchFile(url);
    let devTmp: string | null = null;
    if (devDir) {
      await mkdir(dirname(devDir), { recursive: true });
      devTmp = tempPathFor(devDir);
      await mkdir(devTmp);
    }
    // A synced local shard's writeback starts while it is packed (writeback.ts) — unless a file is
    // there already: a rerun's shard is most likely unchanged, and its temporary file is then
    // removed without ever reaching the disk.
    const early = sync && sink instanceof LocalSink && !(await stat(join(sink.root, url)).catch(() => null));
    return new ShardWriter(sink, packer.open(file, devTmp, md5, early ? Writeback.MIN : null), file, url, devDir, devTmp, sync);
  }

  /** Queue a sample; a promise only when the packing lane's queue is full. */
  add(sample: LoadedSample): Promise<void> | undefined {
    const waiting = this.pack.add(sample.id, sample.members);
    this.nsamples++;
    this.planned += sample.tarBytes;
    return waiting;
  }

  /**
   * Finish the tar and commit it, unless an identical object is already there: `packed` settles
   * (never rejects) once the packing lane has written the shard, `committed` once it is in place.
   */
  close(): { packed: Promise<unknown>; committed: Promise<ShardResult> } {
    const finished = this.pack.finish();
    const packed = finished.catch(() => undefined); // the failure surfaces from `committed`
    return { packed, committed: this.commit(finished) };
  }

  private async commit(finished: Promise<PackedShardResult>): Promise<ShardResult> {
    let packed;
    let committed;
    try {
      packed = await finished;
      // The sink takes the file over from here, whether or not the commit succeeds.
      committed = await this.sink.putFile(this.url, this.file, { known: packed, sync: this.sync });
      if (this.devDir && this.devTmp) {
        await rm(this.devDir, { recursive: true, force: true });
        await rename(this.devTmp, this.devDir);
      }
    } catch (err) {
      await this.discard();
      throw err;
    }
    return {
      url: this.url, nsamples: packed.nsamples, filesize: committed.size, xxh128: committed.xxh128, md5sum: packed.md5,
      written: committed.written, skipped: packed.skipped,
    };
  }

  async discard(): Promise<void> {
    await this.pack.abort();
    await rm(this.file, { force: true });
    if (this.devTmp) await rm(this.devTmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The exporter

export const webdatasetExporter: Exporter<WebDatasetOptions> = {
  format: 'webdataset',
  description: 'WebDataset tar shards per split (deterministic, USTAR) with a wids shard index',
  options: WebDatasetOptions,
  async run(ctx: ExportContext, options: WebDatasetOptions): Promise<ExportStats> {
    const sink = await sinkFor(ctx, options.to, options.s3);
    try {
      return await exportTo(sink, ctx, options);
    } finally {
      await sink.close();
    }
  },
};


async function exportTo(sink: Sink, ctx: ExportContext, options: WebDatasetOptions): Promise<ExportStats> {
  const { reporter } = ctx;
  const extractRoot = ctx.dev ? devExtractRoot(sink, options.to) : null;
  // The packing workers start, and leftovers are looked for, while the catalog is read.
  const packer = new TarPacker();
  const sweeping = sink.sweep();
  sweeping.catch(() => undefined); // awaited below
  try {
    const { plan, table } = await makePlan(ctx, options);
    const swept = await sweeping;
    if (swept) reporter.info(`webdataset: removed ${swept} leftover(s) of an interrupted export from ${sink.location}`);
    const progress = reporter.progress('webdataset', table.raw.length);
    try {
      const splits = await packSplits(sink, packer, ctx, options, plan, table, extractRoot, () => progress.tick());
      return await finishSplits(sink, splits, plan, extractRoot, reporter);
    } finally {
      progress.finish();
    }
  } finally {
    await sweeping.catch(() => undefined);
    await packer.close();
  }
}

/** A split's shards, being packed and committed in order. */
interface SplitShards {
  split: string;
  closing: Promise<ShardResult>[];
  /** Samples left out before packing (a file missing, a conversion failed). */
  skipped: Array<{ id: string; error: string }>;
  /** Files converted on the way. */
  reencoded: number;
}

/**
 * Plan every split's shards, one after the other, while the packing lanes write them: a split
 * does not wait for the previous one's shards to be written, so the lanes stay busy from the
 * first shard to the last.
 */
async function packSplits(
  sink: Sink,
  packer: TarPacker,
  ctx: ExportContext,
  options: WebDatasetOptions,
  plan: ExportPlan,
  table: SampleTable,
  extractRoot: string | null,
  tick: () => void,
): Promise<SplitShards[]> {
  const splits: SplitShards[] = [];
  // Shards the lanes are packing (settled once written): planning runs ahead of them by at most
  // four per lane. Their commits (a sync and a rename, or an upload) go on meanwhile, up to
  // eight per lane: each holds a written file (an upload's spool) until it is done.
  const packing: Promise<unknown>[] = [];
  const committing: Promise<unknown>[] = [];
  let packed = 0;
  let committed = 0;
  const maxPacking = 4 * packer.size;
  const maxCommitting = 8 * packer.size;
  let shard = null as ShardWriter | null; // assigned in closures: no narrowing
  try {
    for (const [split, samples] of table.bySplit()) {
      const job: SplitShards = { split, closing: [], skipped: [], reencoded: 0 };
      splits.push(job);
      const closeShard = async (w: ShardWriter) => {
        const closed = w.close();
        job.closing.push(closed.committed); // a failure surfaces when finishSplits awaits it
        packing.push(closed.packed);
        committing.push(closed.committed.catch(() => undefined));
        while (packing.length - packed > maxPacking) await packing[packed++];
        while (committing.length - committed > maxCommitting) await committing[committed++];
      };
      const full = (w: ShardWriter, s: LoadedSample) =>
        w.nsamples >= options.samples_per_shard ||
        (options.max_shard_bytes !== undefined && w.planned + s.tarBytes + TAR_END_BYTES > options.max_shard_bytes);
      const nextShard = async (s: LoadedSample): Promise<void> => {
        if (shard) {
          const done = shard;
          shard = null;
          await closeShard(done);
        }
        const rel = shardPath(options.pattern, split, job.closing.length);
        const devDir = extractRoot ? join(extractRoot, split, basename(rel, '.tar')) : null;
        shard = await ShardWriter.open(sink, packer, rel, devDir, { md5: options.index_md5, sync: options.sync });
        await shard.add(s);
      };
      const load = (i: number): LoadedSample | { error: string; id: string } | Promise<LoadedSample | { error: string; id: string }> => {
        const row = table.row(i);
        const failed = (err: unknown) => {
          if (err instanceof ImgsiftError) throw err;
          return { error: errorMessage(err), id: row.id };
        };
        try {
          const r = loadSample(plan, row);
          return r instanceof Promise ? r.catch(failed) : r;
        } catch (err) {
          return failed(err);
        }
      };
      for (const loaded = new Lookahead(samples, load, 16); loaded.more(); ) {
        let s = loaded.next();
        if (s instanceof Promise) s = await s;
        if (ctx.signal?.aborted) throw new ImgsiftError('webdataset: export interrupted');
        if ('error' in s) job.skipped.push(s);
        else {
          job.reencoded += s.reencoded;
          // Only opening or closing a shard, or a lane's full queue, makes this wait.
          const waiting = shard && !full(shard, s) ? shard.add(s) : nextShard(s);
          if (waiting) await waiting;
        }
        tick();
      }
      if (shard) {
        const last = shard;
        shard = null;
        await closeShard(last);
      }
    }
    return splits;
  } catch (err) {
    if (shard) await shard.discard();
    await Promise.allSettled(splits.flatMap((s) => s.closing));
    throw err;
  }
}

/** Wait for each split's shards, write its index, and count what was written. */
async function finishSplits(
  sink: Sink,
  splits: SplitShards[],
  plan: ExportPlan,
  extractRoot: string | null,
  reporter: ExportContext['reporter'],
): Promise<ExportStats> {
  const stats: ExportStats = {};
  let bytes = 0;
  let unchanged = 0;
  let skipped = 0;
  const skip = (id: string, error: string) => {
    skipped++;
    if (skipped <= 5) reporter.warn(`webdataset: skipped sample ${id}: ${error}`);
  };
  try {
    for (const { split, closing, skipped: before } of splits) {
      const shards = await Promise.all(closing);
      await writeIndex(sink, split, shards, plan.labels);
      if (extractRoot) await removeStaleExtracted(join(extractRoot, split), shards);
      for (const k of before) skip(k.id, k.error);
      for (const s of shards) {
        for (const k of s.skipped) skip(k.id, k.error);
        if (s.written) bytes += s.filesize;
        else unchanged++;
      }
      stats[`samples ${split}`] = shards.reduce((n, s) => n + s.nsamples, 0);
      stats[`shards ${split}`] = shards.length;
    }
  } finally {
    await Promise.allSettled(splits.flatMap((s) => s.closing));
  }
  stats['bytes written'] = bytes;
  stats['shards unchanged'] = unchanged;
  if (skipped) stats['samples skipped'] = skipped;
  const reencoded = splits.reduce((n, s) => n + s.reencoded, 0);
  if (reencoded) stats['files re-encoded'] = reencoded;
  return stats;
}

/**
 * Where --dev extracts shards: `<to>/dev_extracted` for a local destination; for an s3:// one
 * the sink itself is already the local stand-in `<recipe dir>/dev_extracted` (see createSink),
 * so the extracted folders sit beside their tars: dev_extracted/<split>/shard-000000/.
 */
function devExtractRoot(sink: Sink, to: string): string {
  if (!(sink instanceof LocalSink)) throw new Error('unreachable: --dev always writes to a local folder');
  return isS3Url(to) ? sink.root : join(sink.root, DEV_DIR);
}

function checkSplitName(split: string): void {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(split) || split === '..' || split === 'dev_extracted') {
    throw new ImgsiftError(
      `webdataset: split name ${JSON.stringify(split)} cannot be used in a path; use letters, digits, '_', '-' and '.'`,
    );
  }
}

/**
 * Read what the export needs from the catalog (each sample's columns that a field or the key
 * uses, and its files of the roles the fields name) and decide keys, fields and label coding.
 * Samples stay rows of text until planned (SampleTable.row): only their ids, splits and labels
 * are looked at before the first shard starts.
 */
async function makePlan(ctx: ExportContext, options: WebDatasetOptions): Promise<{ plan: ExportPlan; table: SampleTable }> {
  const aliases = await loadRoleAliases(ctx.catalog);
  const roles: string[] = [];
  const fields = Object.entries(options.fields).map(([ext, src]) => {
    const source = parseSource(src, ext);
    if (source.kind === 'file' || source.kind === 'member') {
      // The recipe's name of the main role (`input`) is the catalog's `image`.
      source.role = resolveRole(source.role, aliases);
      if (!roles.includes(source.role)) roles.push(source.role);
      source.slot = roles.indexOf(source.role);
    }
    return { ext, source };
  });
  const needsMeta = fields.some((f) => f.source.kind === 'record' || f.source.kind === 'metaField');
  const table = await sampleTable(ctx, fields, roles, needsMeta || !!options.key);
  const missing = fields.find((f) => 'slot' in f.source && !table.hasFile(f.source.slot));
  if (missing && table.raw.length > 0) throw await missingRole(ctx, missing, options.fields[missing.ext]);
  if (options.key) {
    const keys = fieldKeys(table.raw.map((_, i) => table.row(i)), options.key);
    table.keys = table.raw.map((v) => keys.get(v[0]!)!);
  } else {
    table.keys = keysOf(table.raw.map((v) => v[0]!));
  }
  const labels = distinctLabels(table.raw);
  const numeric = labels.every((l) => /^-?\d+$/.test(l));
  const plan: ExportPlan = {
    fields,
    needsMeta,
    labels: { classes: numeric ? null : labels, index: new Map(labels.map((l, i) => [l, i])) },
    reencode: options.reencode,
  };
  return { plan, table };
}

/** The error for a field naming a role no sample has, listing the roles there are. */
async function missingRole(ctx: ExportContext, f: ExportPlan['fields'][number], src: unknown): Promise<ImgsiftError> {
  const roles = (await ctx.catalog.all<{ role: string }>(`SELECT DISTINCT f.role FROM files f JOIN active a ON a.id = f.sample_id ORDER BY 1`))
    .map((r) => r.role);
  const list = roles.join(', ') || 'none';
  if (f.source.kind === 'member') {
    return new ImgsiftError(`webdataset: fields.${f.ext}: role '${f.source.role}' is not a file role of these samples (${list})`);
  }
  return new ImgsiftError(
    `webdataset: fields.${f.ext}: '${src}' is neither a sample field (${[...TEXT_SOURCES, 'meta', 'meta.<field>'].join(', ')}) nor a file role of these samples (${list})`,
  );
}

/** Columns read only when a field or the key uses them (id, label and split always are). */
const OPTIONAL_COLUMNS = ['path', 'text', 'group_key', 'source_split'] as const;

/** A sample as read: its columns as text, in the order sampleTable lays them out (id, label, split first). */
type RawRow = Array<string | null>;

/**
 * The samples to export as read from the catalog, ordered by split and id, with their keys
 * (decided by makePlan). A sample becomes a SampleRow when it is planned.
 */
interface SampleTable {
  raw: RawRow[];
  keys: string[];
  /** Sample `i` (of `raw`) with its key. */
  row(i: number): SampleRow;
  /** Whether some sample has a file in role slot `slot`. */
  hasFile(slot: number): boolean;
  /** The samples of each split (indexes of `raw`, in order), splits in order. */
  bySplit(): Map<string, number[]>;
}

/**
 * The samples to export, ordered by split and id, with the columns a field or the key reads
 * (labels always: the index lists classes) and their files of `roles`, each with its stored
 * format and catalogued size. Labels and metadata are after people's relabel decisions. One
 * query, read as JSON (Catalog.textRows): most of an export's set-up is reading these rows.
 */
async function sampleTable(ctx: ExportContext, fields: ExportPlan['fields'], roles: string[], allColumns: boolean): Promise<SampleTable> {
  const used = new Set<string>(fields.flatMap((f) =>
    f.source.kind === 'text' ? [TEXT_COLUMNS[f.source.column]] : f.source.kind === 'record' ? ['path', 'group_key', 'source_split'] : []));
  const optional = OPTIONAL_COLUMNS.filter((c) => allColumns || used.has(c));
  const columns = ['a.id', 'a.label', `coalesce(a.split, 'all')`, ...optional.map((c) => `a.${c}`), ...(allColumns ? ['a.meta'] : [])];
  let from = `${RELABELED_ACTIVE} a`;
  roles.forEach((_, k) => {
    columns.push(`f${k}.uri`, `s${k}.format`, `s${k}.bytes`);
    from += ` LEFT JOIN files f${k} ON f${k}.sample_id = a.id AND f${k}.role = ?
      LEFT JOIN file_status fs${k} ON fs${k}.uri = f${k}.uri LEFT JOIN assets s${k} ON s${k}.sha256 = fs${k}.sha256`;
  });
  const raw = await ctx.catalog.textRows(columns, from, `coalesce(a.split, 'all'), a.id`, roles);
  const [path, text, group, sourceSplit] = OPTIONAL_COLUMNS.map((c) => (optional.includes(c) ? 3 + optional.indexOf(c) : -1));
  const meta = allColumns ? 3 + optional.length : -1;
  const firstFile = 3 + optional.length + (allColumns ? 1 : 0);
  const cell = (v: RawRow, i: number) => (i < 0 ? null : v[i]);
  const table: SampleTable = {
    raw,
    keys: [],
    row: (i) => {
      const v = raw[i];
      return {
        id: v[0]!, key: table.keys[i] ?? '', label: v[1], split: v[2]!, path: cell(v, path), text: cell(v, text),
        group_key: cell(v, group), source_split: cell(v, sourceSplit), meta: cell(v, meta),
        files: roles.map((_, k) => {
          const f = firstFile + 3 * k;
          const bytes = v[f + 2];
          return v[f] === null ? null : { uri: v[f]!, format: v[f + 1], bytes: bytes === null ? null : Number(bytes) };
        }),
      };
    },
    hasFile: (slot) => raw.some((v) => v[firstFile + 3 * slot] !== null),
    bySplit: () => {
      const splits = new Map<string, number[]>();
      let samples: number[] = [];
      let split: string | null = null;
      raw.forEach((v, i) => {
        if (v[2] !== split) {
          split = v[2]!;
          if (!splits.has(split)) {
            checkSplitName(split);
            splits.set(split, []);
          }
          samples = splits.get(split)!;
        }
        samples.push(i);
      });
      return splits;
    },
  };
  return table;
}

/** Labels in the order DuckDB sorts them (by UTF-8 bytes), as the index's class list. */
function distinctLabels(raw: RawRow[]): string[] {
  const labels = new Set<string>();
  for (const v of raw) if (v[1] !== null) labels.add(v[1]);
  return [...labels].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** The wids index of one split; shards the previous index listed but this one does not are removed. */
async function writeIndex(sink: Sink, split: string, shards: ShardResult[], labels: LabelCoding): Promise<void> {
  const path = indexPath(split);
  let previous: { shardlist?: Array<{ url?: unknown }> } | null = null;
  try {
    const old = await sink.get(path);
    if (old) previous = JSON.parse(old.toString('utf8'));
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err; // an unreadable old index lists nothing to remove
  }
  const index: Record<string, unknown> = {
    __kind__: 'wids-shard-index-v1',
    wids_version: 1,
    name: split,
    shardlist: shards.map((s) => ({
      url: s.url, nsamples: s.nsamples, filesize: s.filesize, xxh128: s.xxh128, ...(s.md5sum ? { md5sum: s.md5sum } : {}),
    })),
  };
  if (labels.classes) index.classes = labels.classes;
  await sink.put(path, JSON.stringify(index, null, 2) + '\n');
  const keep = new Set(shards.map((s) => s.url));
  for (const old of previous?.shardlist ?? []) {
    if (typeof old.url !== 'string' || keep.has(old.url)) continue;
    if (old.url.startsWith('/') || old.url.split('/').includes('..')) continue; // only what we wrote
    await sink.remove(old.url);
  }
}

/** Extracted shard folders are ours alone: drop those of an earlier run that this one did not write. */
async function removeStaleExtracted(dir: string, shards: ShardResult[]): Promise<void> {
  const keep = new Set(shards.map((s) => basename(s.url, '.tar')));
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    // Only folders: with an s3:// destination in --dev the shard tars live in the same folder.
    if (e.isDirectory() && !keep.has(e.name)) await rm(join(dir, e.name), { recursive: true, force: true });
  }
}
