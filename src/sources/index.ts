import { resolve } from 'node:path';
import type { SourceConfig } from './config.js';
import { CsvSource } from './csv.js';
import { FolderSource } from './folder.js';
import { ImageFolderSource } from './imagefolder.js';
import { JsonlSource } from './jsonl.js';
import { ParquetSource } from './parquet.js';
import type { Source } from './types.js';
import { WebDatasetSource } from './webdataset.js';
import { UrlsSource } from './urls.js';
import { DeepFashion2Source } from './deepfashion2.js';
import { CocoSource } from './coco.js';
import { PromptsSource } from './prompts.js';

/**
 * The reader for a recipe's `source:` block. Relative `path` and `root` resolve against
 * `baseDir` (the recipe's folder). Nothing is read until `read()` is iterated.
 */
export function createSource(config: SourceConfig, baseDir: string): Source {
  const path = resolve(baseDir, config.path);
  switch (config.format) {
    case 'folder':
      return new FolderSource({ path, extensions: config.extensions, recursive: config.recursive, labels: config.labels });
    case 'imagefolder':
      return new ImageFolderSource({ path, fields: config.fields, extensions: config.extensions, labels: config.labels, unlisted: config.unlisted });
    case 'jsonl':
    case 'csv':
    case 'parquet': {
      const manifest = {
        path,
        fields: config.fields,
        root: config.root === undefined ? undefined : resolve(baseDir, config.root),
        allowAbsolutePaths: config.allow_absolute_paths,
      };
      if (config.format === 'jsonl') return new JsonlSource({ ...manifest, maxLineBytes: config.max_line_bytes });
      if (config.format === 'csv') return new CsvSource({ ...manifest, delimiter: config.delimiter });
      return new ParquetSource(manifest);
    }
    case 'webdataset':
      // Patterns keep their braces and wildcards; only the base is resolved.
      return new WebDatasetSource({ path, fields: config.fields, extensions: config.extensions });
    case 'deepfashion2':
      return new DeepFashion2Source({ path, splits: config.splits });
    case 'coco':
      return new CocoSource({ path, images: config.images === undefined ? undefined : resolve(baseDir, config.images), per: config.per, split: config.split });
    case 'urls':
      return new UrlsSource({ path, fields: config.fields, listFormat: config.list_format, delimiter: config.delimiter });
    case 'prompts':
      return new PromptsSource({ path, id: config.id, split: config.split });
  }
}

export * from './config.js';
export type { FieldMap, ReadOptions, Source, SourceRecord } from './types.js';
export { CsvSource, CSV_SUFFIXES, type CsvSourceOptions } from './csv.js';
export { CsvParser, parseCsv, type CsvRow } from './csv-parser.js';
export { FolderSource, type FolderSourceOptions } from './folder.js';
export { ImageFolderSource, SPLIT_FOLDER_NAMES, type ImageFolderSourceOptions } from './imagefolder.js';
export { JsonlSource, JSONL_SUFFIXES, type ManifestSourceOptions } from './jsonl.js';
export { ParquetSource, PARQUET_SUFFIXES } from './parquet.js';
export { WebDatasetSource, splitMemberName, type WebDatasetSourceOptions } from './webdataset.js';
export { UrlsSource } from './urls.js';
export { DeepFashion2Source } from './deepfashion2.js';
export { CocoSource, readCocoInstances, cocoSplitName, type CocoInstances } from './coco.js';
export { PromptsSource, PROMPT_SUFFIXES } from './prompts.js';
export { tarMembers, WindowReader, TarFormatError, type TarMember } from './tar-index.js';
export { resolveColumns, rowToRecord, DEFAULT_COLUMNS, type ResolvedColumns, type RowContext } from './manifest.js';
export { expandBraces, listInputFiles } from './listing.js';
export type { WalkCounts } from './walk.js';
