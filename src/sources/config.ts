import { z } from 'zod';
import type { FieldMap } from './types.js';
import { DEFAULT_MAX_LINE_BYTES } from './textfile.js';

/**
 * The recipe's `source:` block, one shape per `format`. Keys are snake_case as written in recipes;
 * unknown keys are an error so that a typo (`recursve: false`) is not silently ignored.
 *
 * Relative paths (`path`, `root`) resolve against the recipe's folder.
 */

/** Image extensions recognised by default (lower case, no dot). */
export const DEFAULT_IMAGE_EXTENSIONS = [
  'jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'bmp', 'avif', 'heic', 'heif',
] as const;

const columnName = z.string().min(1, 'a column name');

const roleName = z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'a role name of letters, digits, "_" or "-"');

/** A file role's column, optionally joined to a prefix (a CDN URL or a base folder). */
const FileColumnSchema = z.union([
  columnName,
  z.object({ from: columnName, prefix: z.string().optional() }).strict(),
]);

/**
 * Which source column feeds which catalog field. For webdataset the names are member extensions
 * (`txt`, `cls`, `mask.png`) or, failing that, keys of the sample's `.json` member.
 *
 * `files` maps further roles to columns (`{output: output_url}` or `{output: {from: output_image,
 * prefix: "https://cdn/"}}`); `main` names the role steps read by default. In the catalog the main
 * role is always stored as `image` (so every step, export and view finds it), and its recipe name
 * (`input`) is an alias of it.
 */
export const FieldMapSchema = z
  .object({
    id: columnName.optional(),
    image: columnName.optional(),
    text: columnName.optional(),
    label: columnName.optional(),
    group: columnName.optional(),
    split: columnName.optional(),
    files: z.record(roleName, FileColumnSchema).optional(),
    main: roleName.optional(),
    /** Mapped columns to keep in the sample's metadata too (e.g. the URL columns of file roles). */
    keep_in_meta: z.array(columnName).optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    if (f.files && 'image' in f.files) {
      ctx.addIssue({ code: 'custom', path: ['files', 'image'], message: "'image' is the main role's catalog name; map it with fields.image, or name it (input) and set main: input" });
    }
    if (f.main !== undefined && f.main !== 'image' && !(f.files && f.main in f.files)) {
      ctx.addIssue({ code: 'custom', path: ['main'], message: `main role '${f.main}' is not one of fields.files (${Object.keys(f.files ?? {}).join(', ') || 'none'})` });
    }
    if (f.main !== undefined && f.main !== 'image' && f.image !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['image'], message: `fields.image and main: ${f.main} both name the main file; keep one` });
    }
  })
  .transform((f): FieldMap => {
    const { files, main, ...rest } = f;
    const out: FieldMap = { ...rest };
    const cols: Record<string, string> = {};
    const prefixes: Record<string, string> = {};
    for (const [role, spec] of Object.entries(files ?? {})) {
      const from = typeof spec === 'string' ? spec : spec.from;
      const prefix = typeof spec === 'string' ? undefined : spec.prefix;
      const target = role === main ? 'image' : role;
      if (target === 'image') out.image = from;
      else cols[role] = from;
      if (prefix) prefixes[target] = prefix;
    }
    if (Object.keys(cols).length) out.files = cols;
    if (Object.keys(prefixes).length) out.prefixes = prefixes;
    if (main !== undefined && main !== 'image') out.main = main;
    return out;
  });

/** Extensions are compared case-insensitively and without the dot. */
const extensions = z
  .array(z.string().min(1))
  .min(1)
  .transform((xs) => [...new Set(xs.map((x) => x.replace(/^\./, '').toLowerCase()))])
  .default([...DEFAULT_IMAGE_EXTENSIONS]);

/** One record → several samples: a list field becomes one child sample per element. */
export const ExplodeSchema = z
  .object({
    /** The field (a column, or a key of the record's metadata) holding the list. */
    field: z.string().min(1),
    /** Where an element goes in the child's metadata (default: an object's keys are merged in; other values under `field`). */
    as: z.string().min(1).optional(),
    /** The child id's suffix: `<parent id>/<suffix>`, a template over the element and `index` (default `{index}`). */
    id: z.string().min(1).default('{index}'),
    /** Number of the first element (default 1: `item1`, `item2`, ... with id `item{index}`). */
    index_from: z.number().int().min(0).default(1),
  })
  .strict();
export type ExplodeConfig = z.output<typeof ExplodeSchema>;

const common = {
  path: z.string().min(1, 'the folder or file to read'),
  fields: FieldMapSchema.default({}),
  /**
   * Keep only records matching this SQL condition over the source's columns (mapped fields: id,
   * path, split, label, text, group; every other column by name), applied at ingest before
   * anything is fetched or counted by --max-samples.
   */
  where: z.string().min(1).optional(),
  explode: ExplodeSchema.optional(),
};

/** Options of row-based manifests (jsonl, csv, parquet). */
const manifest = {
  /** Folder that relative image paths are resolved against (default: the manifest's own folder). */
  root: z.string().min(1).optional(),
  /** Accept absolute local image paths (default false: a manifest may only name files under `root`). */
  allow_absolute_paths: z.boolean().default(false),
};

export const FolderSourceSchema = z
  .object({
    format: z.literal('folder'),
    ...common,
    extensions,
    recursive: z.boolean().default(true),
    /**
     * `folder`: ImageNet style — each top-level folder under `path` is a class and its name the
     * label. `none` (default): folders are only organisation; nested folders such as `2023/05/`
     * must not turn into labels by accident.
     */
    labels: z.enum(['folder', 'none']).default('none'),
  })
  .strict();

export const ImageFolderSourceSchema = z
  .object({
    format: z.literal('imagefolder'),
    ...common,
    extensions,
    /**
     * Without a metadata file, label each image by its parent folder, as Hugging Face does
     * (`infer`, default); `none` drops labels.
     */
    labels: z.enum(['infer', 'none']).default('infer'),
    /**
     * With metadata files: images none of them lists are counted and listed in skipped.jsonl
     * (`skip`, default) or read as samples without label or text (`ingest`).
     */
    unlisted: z.enum(['skip', 'ingest']).default('skip'),
  })
  .strict();

export const JsonlSourceSchema = z
  .object({
    format: z.literal('jsonl'),
    ...common,
    ...manifest,
    /** Longest line read, in bytes; a longer one is a bad row at file:line (its text is never held whole). */
    max_line_bytes: z.number().int().positive().default(DEFAULT_MAX_LINE_BYTES),
  })
  .strict();

export const CsvSourceSchema = z
  .object({
    format: z.literal('csv'),
    ...common,
    ...manifest,
    /** One character; `\t` for TSV. */
    delimiter: z.string().length(1, 'exactly one character').refine((d) => d !== '"' && d !== '\n' && d !== '\r', 'not a quote or line break').default(','),
  })
  .strict();

export const ParquetSourceSchema = z
  .object({ format: z.literal('parquet'), ...common, ...manifest })
  .strict();

export const WebDatasetSourceSchema = z
  .object({
    format: z.literal('webdataset'),
    /** `path`: a .tar, a folder of .tar files, or a pattern: `shards/train-{000000..000099}.tar`, `shards/*.tar`. */
    ...common,
    extensions,
  })
  .strict();

/** A list of URLs (TXT, one per line) or a manifest whose URL columns are mapped by `fields`. */
export const UrlsSourceSchema = z
  .object({
    format: z.literal('urls'),
    ...common,
    list_format: z.enum(['txt', 'jsonl', 'csv', 'parquet']).optional(),
    delimiter: z.string().length(1, 'exactly one character').default(','),
  })
  .strict();

/** DeepFashion2 as released: `<path>/<split>/image/*.jpg` + `<path>/<split>/annos/*.json`; one sample per item. */
export const DeepFashion2SourceSchema = z
  .object({
    format: z.literal('deepfashion2'),
    ...common,
    /** Splits to read (folders under path). */
    splits: z.array(z.string().min(1).regex(/^[^/\\]+$/, 'a folder name')).min(1).default(['train', 'validation', 'test']),
  })
  .strict();

/** COCO instances JSON (`path`) with its image folder (`images`). */
export const CocoSourceSchema = z
  .object({
    format: z.literal('coco'),
    ...common,
    images: z.string().min(1).optional(),
    per: z.enum(['image', 'annotation']).default('image'),
    split: z.string().min(1).optional(),
  })
  .strict();

/** A prompt list: one prompt per line (.txt / .txt.gz, or a folder of them); samples have text only. */
export const PromptsSourceSchema = z
  .object({
    format: z.literal('prompts'),
    path: z.string().min(1, 'the prompt file or folder to read'),
    /** Every source has a field map; a line has only its text, so there is nothing to map. */
    fields: FieldMapSchema.default({}).refine((f) => Object.keys(f).length === 0, { message: 'a prompt list has no columns to map' }),
    /** `line`: `line-<n>` (default); `hash`: the prompt's sha256 prefix. */
    id: z.enum(['line', 'hash']).default('line'),
    where: common.where,
    explode: common.explode,
    /** Split of every prompt, or `file` for the file's name (`validation.txt` → validation). */
    split: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'a split name (lower case) or file').optional(),
  })
  .strict();

export const SourceConfigSchema = z.discriminatedUnion('format', [
  DeepFashion2SourceSchema,
  CocoSourceSchema,
  FolderSourceSchema,
  ImageFolderSourceSchema,
  JsonlSourceSchema,
  CsvSourceSchema,
  ParquetSourceSchema,
  WebDatasetSourceSchema,
  UrlsSourceSchema,
  PromptsSourceSchema,
]);

export type SourceConfig = z.output<typeof SourceConfigSchema>;
export type SourceConfigInput = z.input<typeof SourceConfigSchema>;
export type FolderSourceConfig = z.output<typeof FolderSourceSchema>;
export type ImageFolderSourceConfig = z.output<typeof ImageFolderSourceSchema>;
export type JsonlSourceConfig = z.output<typeof JsonlSourceSchema>;
export type CsvSourceConfig = z.output<typeof CsvSourceSchema>;
export type ParquetSourceConfig = z.output<typeof ParquetSourceSchema>;
export type WebDatasetSourceConfig = z.output<typeof WebDatasetSourceSchema>;
export type SourceFormat = SourceConfig['format'];
