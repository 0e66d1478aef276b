import { z } from 'zod';
import { ImgsiftError, errorMessage } from '../errors.js';
import { md5Hex, stableStringify } from '../util/hash.js';
import {
  IMAGE_EXTENSIONS, ReencodeOptions, TrackedWriter, activeImageSamples, extensionOf, imageFile, orderedMap,
  type ImageSample,
} from './file-export.js';
import { S3Options, sinkFor } from './sink.js';
import { listOwned } from './owned-files.js';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Exporter, ExportContext, ExportStats } from './types.js';
import { sampleKeys } from './webdataset.js';

/**
 * A Hugging Face `imagefolder` dataset, readable with
 * `datasets.load_dataset("imagefolder", data_dir=TO)`:
 *
 *   <split>/<name>.<ext>        the image bytes (copied; re-encoded only when asked or when the
 *                               format is not one PIL reads everywhere)
 *   <split>/metadata.jsonl      one line per image, sorted by sample id:
 *                               {"file_name": "<name>.<ext>", "id": ..., "label": ..., "text": ..., <meta fields>}
 *
 * `file_name` is relative to the metadata file's folder. Split folders are named after the split
 * (`train`, `dev`, `test`, ...; `splits` renames them; samples without a split go to `train`).
 * Hugging Face assigns files to splits by keywords in their *paths* (train/training,
 * validation/valid/dev/val, test/testing/eval/evaluation, delimited by `-._ `, digits or `/`), so
 * a file named `test_001.jpg` inside `train/` would also land in the test split: names are the
 * sample's webdataset key, or `s<16 hex of md5(id)>` when the key holds such a keyword.
 *
 * HF reads each split's column types from its metadata file and refuses splits whose types
 * differ, so every column has one type across the export: text columns write a missing value as
 * "" (a column of nulls would be typed `null` in one split and `string` in another); numbers are
 * all integers or all floats (`1.0`); values of mixed or nested types are written as JSON text.
 *
 * Reruns write only files whose bytes changed. Images and metadata files under the destination
 * that this export's metadata does not name (left by an earlier export of other samples, or by
 * someone else) are counted, listed in the workdir's imagefolder_unlisted.txt and warned about;
 * `prune: true` deletes them (HF would otherwise still load them). Nothing is deleted without it.
 */

const SAMPLE_SOURCES = ['id', 'path', 'text', 'label', 'group', 'split', 'source_split'] as const;
type SampleSource = (typeof SAMPLE_SOURCES)[number];

/** Formats every PIL build reads, copied byte for byte; anything else becomes PNG. */
const COPYABLE: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp', gif: 'gif', tiff: 'tiff' };

const FOLDER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** A column name HF would treat as an image path, or its own `file_name`. */
const FILE_NAME_COLUMN = /(^|_)file_names?$/;

export const ImageFolderOptions = z
  .object({
    /** A local folder or s3://bucket/prefix. Relative paths resolve against the recipe. */
    to: z.string().min(1),
    /** S3 settings when `to` is s3:// (endpoint, region, part size, concurrency, retries). */
    s3: S3Options.optional(),
    /** Folder per split, e.g. { dev: validation }; by default a split's folder is its name. */
    splits: z.record(z.string(), z.string().min(1)).default({}),
    /**
     * Metadata columns: name → source ('id', 'path', 'text', 'label', 'group', 'split',
     * 'source_split' or 'meta.<field>'). Default: id, plus label and text when any sample has
     * them, plus (with meta_columns) every meta field.
     */
    columns: z.record(z.string(), z.string().min(1)).optional(),
    /** With the default columns, add each field of the samples' `meta` as a column. */
    meta_columns: z.boolean().default(true),
    /** Re-encode every image (auto-oriented); by default images are copied. */
    reencode: ReencodeOptions.optional(),
    /**
     * Images and metadata files under `to` that this export's metadata does not name (an older
     * export's, or someone else's) are counted and listed; `prune: true` deletes them, since HF
     * would otherwise still load them. Without it nothing is deleted.
     */
    prune: z.boolean().default(false),
  })
  .strict()
  .superRefine((o, ctx) => {
    for (const [split, folder] of Object.entries(o.splits)) {
      if (!FOLDER.test(folder)) {
        ctx.addIssue({ code: 'custom', path: ['splits', split], message: `folder name '${folder}' must be letters, digits, '_', '-' and '.' (not starting with '.' or '-')` });
      }
    }
    for (const [name, source] of Object.entries(o.columns ?? {})) {
      if (FILE_NAME_COLUMN.test(name)) {
        ctx.addIssue({ code: 'custom', path: ['columns', name], message: `column '${name}' would be read as an image path by Hugging Face; choose another name` });
      }
      if (!parseSource(source)) {
        ctx.addIssue({ code: 'custom', path: ['columns', name], message: `source '${source}' must be one of ${SAMPLE_SOURCES.join(', ')} or meta.<field>` });
      }
    }
  });
export type ImageFolderOptions = z.infer<typeof ImageFolderOptions>;

type Source = { kind: 'sample'; field: SampleSource } | { kind: 'meta'; field: string };

function parseSource(source: string): Source | null {
  if ((SAMPLE_SOURCES as readonly string[]).includes(source)) return { kind: 'sample', field: source as SampleSource };
  if (source.startsWith('meta.') && source.length > 5) return { kind: 'meta', field: source.slice(5) };
  return null;
}

function sourceValue(s: ImageSample, source: Source): unknown {
  if (source.kind === 'meta') return s.meta?.[source.field] ?? null;
  switch (source.field) {
    case 'id': return s.id;
    case 'path': return s.path;
    case 'text': return s.text;
    case 'label': return s.label;
    case 'group': return s.group_key;
    case 'split': return s.split;
    case 'source_split': return s.source_split;
  }
}

// ---------------------------------------------------------------------------------------------
// Columns with one type each

type ColumnKind = 'string' | 'int' | 'float' | 'bool';

interface Column {
  name: string;
  source: Source;
  kind: ColumnKind;
}

/** The one type a column's values share (mixed or nested values fall back to text). */
function columnKind(values: unknown[]): ColumnKind | null {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return null;
  if (present.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    return present.every((v) => Number.isInteger(v)) ? 'int' : 'float';
  }
  if (present.every((v) => typeof v === 'boolean')) return 'bool';
  return 'string';
}

/** A value as JSON text of the column's type. */
function encodeValue(v: unknown, kind: ColumnKind): string {
  if (v === null || v === undefined) return kind === 'string' ? '""' : 'null';
  switch (kind) {
    case 'int':
    case 'bool':
      return String(v);
    case 'float': {
      const n = v as number;
      return Number.isInteger(n) && Math.abs(n) < 1e21 ? n.toFixed(1) : String(n);
    }
    case 'string':
      return JSON.stringify(typeof v === 'string' ? v : typeof v === 'object' ? stableStringify(v) : String(v));
  }
}

function planColumns(samples: ImageSample[], options: ImageFolderOptions, warn: (m: string) => void): Column[] {
  let wanted: Array<{ name: string; source: Source; explicit: boolean }>;
  if (options.columns) {
    wanted = Object.entries(options.columns).map(([name, src]) => ({ name, source: parseSource(src)!, explicit: true }));
  } else {
    wanted = [
      { name: 'id', source: { kind: 'sample', field: 'id' }, explicit: true },
      { name: 'label', source: { kind: 'sample', field: 'label' }, explicit: false },
      { name: 'text', source: { kind: 'sample', field: 'text' }, explicit: false },
    ];
    if (options.meta_columns) {
      const fields = new Set<string>();
      for (const s of samples) for (const k of Object.keys(s.meta ?? {})) fields.add(k);
      for (const f of [...fields].sort()) {
        if (wanted.some((w) => w.name === f)) {
          warn(`imagefolder: meta field '${f}' is not written: a column of that name already exists`);
        } else if (FILE_NAME_COLUMN.test(f)) {
          warn(`imagefolder: meta field '${f}' is not written: Hugging Face would read it as an image path`);
        } else {
          wanted.push({ name: f, source: { kind: 'meta', field: f }, explicit: false });
        }
      }
    }
  }
  const columns: Column[] = [];
  for (const w of wanted) {
    const kind = columnKind(samples.map((s) => sourceValue(s, w.source)));
    if (kind === null && !w.explicit) continue; // nothing to say
    columns.push({ name: w.name, source: w.source, kind: kind ?? 'string' });
  }
  return columns;
}

// ---------------------------------------------------------------------------------------------
// Names

/** HF's split keywords as a path token (its NON_WORDS_CHARS "-._ 0-9" or '/' on both sides). */
const HF_SPLIT_TOKEN = /(^|[-._ 0-9/])(train|training|validation|valid|dev|val|test|testing|eval|evaluation)([-._ 0-9/]|$)/i;

/** True when HF would match `name` (a file name inside a split folder) to a split by its keywords. */
export function hasSplitKeyword(name: string): boolean {
  return HF_SPLIT_TOKEN.test(name);
}

/** File names (without extension) per sample id: the webdataset key, unless it names a split. */
export function imageFolderNames(ids: string[]): Map<string, string> {
  const keys = sampleKeys(ids);
  const used = new Set<string>();
  const out = new Map<string, string>();
  for (const id of ids) {
    let name = keys.get(id)!;
    if (hasSplitKeyword(name)) name = `s${md5Hex(id).slice(0, 16)}`;
    if (used.has(name)) throw new ImgsiftError(`imagefolder: cannot make a unique file name for sample id ${JSON.stringify(id)}`);
    used.add(name);
    out.set(id, name);
  }
  return out;
}

/** Folder names HF recognises as splits. */
const HF_SPLIT_FOLDERS = new Set(['train', 'training', 'validation', 'valid', 'dev', 'val', 'test', 'testing', 'eval', 'evaluation']);

function splitFolder(split: string | null, options: ImageFolderOptions): string {
  const name = split ?? 'train';
  const folder = options.splits[name] ?? name;
  if (!FOLDER.test(folder)) {
    throw new ImgsiftError(
      `imagefolder: split ${JSON.stringify(name)} cannot be a folder name; map it with splits: { ${JSON.stringify(name)}: <folder> }`,
    );
  }
  return folder;
}

// ---------------------------------------------------------------------------------------------
// The exporter

interface Written {
  sample: ImageSample;
  fileName: string;
}

export const imageFolderExporter: Exporter<ImageFolderOptions> = {
  format: 'imagefolder',
  description: 'Hugging Face imagefolder: split folders with images and metadata.jsonl (file_name + columns)',
  options: ImageFolderOptions,
  async run(ctx: ExportContext, options: ImageFolderOptions): Promise<ExportStats> {
    const { reporter } = ctx;
    const sink = await sinkFor(ctx, options.to, options.s3);
    try {
      const out = new TrackedWriter(sink);
      const warned = new Set<string>();
      const warn = (m: string) => {
        if (!warned.has(m)) reporter.warn(m);
        warned.add(m);
      };

      const samples = await activeImageSamples(ctx);
      const names = imageFolderNames(samples.map((s) => s.id));
      const columns = planColumns(samples, options, warn);
      const folders = new Map<string, Written[]>();
      for (const s of samples) {
        const folder = splitFolder(s.split, options);
        if (!HF_SPLIT_FOLDERS.has(folder.toLowerCase())) {
          warn(`imagefolder: folder '${folder}' is not a split name Hugging Face recognises (train, validation/dev/val, test, ...); map it with 'splits'`);
        }
        if (!folders.has(folder)) folders.set(folder, []);
      }

      let skipped = 0;
      let reencoded = 0;
      const progress = reporter.progress('imagefolder', samples.length);
      try {
        const load = async (s: ImageSample) => {
          try {
            return { sample: s, image: await imageFile(s, COPYABLE, options.reencode) };
          } catch (err) {
            return { sample: s, error: errorMessage(err) };
          }
        };
        for await (const r of orderedMap(samples, load, 8)) {
          if (ctx.signal?.aborted) throw new ImgsiftError('imagefolder: export interrupted');
          if ('error' in r) {
            skipped++;
            if (skipped <= 5) reporter.warn(`imagefolder: skipped sample ${r.sample.id}: ${r.error}`);
            progress.tick(1, 1);
            continue;
          }
          const folder = splitFolder(r.sample.split, options);
          const fileName = `${names.get(r.sample.id)}.${r.image.ext}`;
          await out.put(`${folder}/${fileName}`, r.image.data);
          if (r.image.reencoded) reencoded++;
          folders.get(folder)!.push({ sample: r.sample, fileName });
          progress.tick();
        }
      } finally {
        progress.finish();
      }

      const stats: ExportStats = {};
      for (const [folder, rows] of [...folders].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (rows.length === 0) continue;
        for (const c of columns) {
          if (c.kind !== 'string' && rows.every((r) => sourceValue(r.sample, c.source) == null)) {
            warn(`imagefolder: column '${c.name}' has no values in '${folder}'; Hugging Face may type it differently there and refuse to load the splits together`);
          }
        }
        await out.put(`${folder}/metadata.jsonl`, rows.map((r) => metadataLine(r, columns)).join(''));
        stats[`samples ${folder}`] = rows.length;
      }

      // Files HF would still load that this export's metadata does not name: images anywhere
      // under the destination, and metadata files of split folders not written now (an older
      // export's, or someone else's). Listed always, deleted only with prune.
      const unnamed = await unnamedFiles(out);
      const listFile = ctx.workdir ? join(ctx.workdir, UNLISTED_FILE) : undefined;
      if (listFile) await rm(listFile, { force: true }); // describes the latest export only
      if (unnamed.length) {
        if (options.prune) for (const p of unnamed) await sink.remove(p);
        else {
          const shown = unnamed.slice(0, 5).join(', ');
          reporter.warn(
            `imagefolder: ${unnamed.length} file(s) under ${sink.location} are not named by this export's metadata (${shown}${unnamed.length > 5 ? ', ...' : ''}); ` +
              `Hugging Face still loads them — set prune: true to delete them`,
          );
        }
        stats[options.prune ? 'unlisted files pruned' : 'unlisted files (not pruned)'] = unnamed.length;
        if (listFile) {
          await mkdir(ctx.workdir, { recursive: true });
          await writeFile(listFile, unnamed.map((p) => `${p}\n`).join(''));
          stats['unlisted files list'] = listFile;
        }
      }

      stats['columns'] = ['file_name', ...columns.map((c) => c.name)].join(', ');
      stats['files written'] = out.filesWritten;
      stats['files unchanged'] = out.filesUnchanged;
      stats['bytes written'] = out.bytesWritten;
      if (skipped) stats['samples skipped'] = skipped;
      if (reencoded) stats['files re-encoded'] = reencoded;
      return stats;
    } finally {
      await sink.close();
    }
  },
};

/** Where the files the last imagefolder export found unnamed are listed, in the workdir. */
export const UNLISTED_FILE = 'imagefolder_unlisted.txt';

/**
 * Paths under the sink, in order, that this export did not write and HF would load: image files
 * and `metadata.jsonl`/`.csv` files, outside hidden folders and files other exports sharing the
 * folder recorded as theirs (owned-files.ts).
 */
async function unnamedFiles(out: TrackedWriter): Promise<string[]> {
  const others = new Set<string>();
  for (const idx of await listOwned(out.sink)) for (const f of idx.files) others.add(f.path);
  const found: string[] = [];
  for (const p of await out.sink.list('')) {
    if (out.written.has(p) || others.has(p) || p.split('/').some((part) => part.startsWith('.'))) continue;
    const base = p.slice(p.lastIndexOf('/') + 1);
    if (base === 'metadata.jsonl' || base === 'metadata.csv' || IMAGE_EXTENSIONS.has(extensionOf(base))) found.push(p);
  }
  return found.sort();
}

function metadataLine(r: Written, columns: Column[]): string {
  const parts = [`"file_name":${JSON.stringify(r.fileName)}`];
  for (const c of columns) parts.push(`${JSON.stringify(c.name)}:${encodeValue(sourceValue(r.sample, c.source), c.kind)}`);
  return `{${parts.join(',')}}\n`;
}
