import { z } from 'zod';
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

/**
 * Which source column feeds which catalog field. For webdataset the names are member extensions
 * (`txt`, `cls`, `mask.png`) or, failing that, keys of the sample's `.json` member.
 */
export const FieldMapSchema = z
  .object({
    id: columnName.optional(),
    image: columnName.optional(),
    text: columnName.optional(),
    label: columnName.optional(),
    group: columnName.optional(),
    split: columnName.optional(),
    /** Further files of a sample: role → column holding its path or URL (`{ output: output_url }`). */
    files: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'a role name of letters, digits, "_" or "-"'), columnName).optional(),
  })
  .strict()
  .refine((f) => !f.files || !('image' in f.files), { message: "'image' is the main image role; map it with fields.image" });

/** Extensions are compared case-insensitively and without the dot. */
const extensions = z
  .array(z.string().min(1))
  .min(1)
  .transform((xs) => [...new Set(xs.map((x) => x.replace(/^\./, '').toLowerCase()))])
  .default([...DEFAULT_IMAGE_EXTENSIONS]);

const common = {
  path: z.string().min(1, 'the folder or file to read'),
  fields: FieldMapSchema.default({}),
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

export const SourceConfigSchema = z.discriminatedUnion('format', [
  FolderSourceSchema,
  ImageFolderSourceSchema,
  JsonlSourceSchema,
  CsvSourceSchema,
  ParquetSourceSchema,
  WebDatasetSourceSchema,
  UrlsSourceSchema,
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
