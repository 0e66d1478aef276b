import { readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { bounded } from './bounded.js';
import { CsvSource } from './csv.js';
import { JsonlSource, type ManifestSourceOptions } from './jsonl.js';
import { compareNames } from './listing.js';
import type { FieldMap, ReadOptions, Source, SourceRecord } from './types.js';
import { emptyCounts, requireFolder, walkImages, type WalkCounts } from './walk.js';

/** Folder names Hugging Face's imagefolder treats as splits (compared in lower case). */
export const SPLIT_FOLDER_NAMES: ReadonlySet<string> = new Set([
  'train', 'training', 'validation', 'valid', 'val', 'dev', 'test', 'testing', 'eval', 'evaluation',
]);

const METADATA_NAMES = ['metadata.jsonl', 'metadata.csv'] as const;

export interface ImageFolderSourceOptions {
  path: string;
  fields: FieldMap;
  extensions: readonly string[];
  /** `infer`: without metadata, an image's parent folder names its label. */
  labels: 'infer' | 'none';
}

/**
 * A Hugging Face `imagefolder` dataset:
 *
 * - split folders (`train/`, `validation/` or `val/`, `test/`, ...) directly under the root give the
 *   records their `split` (the folder's name as written); without split folders, `split` is unset
 *   (Hugging Face would call it `train`; here the split step decides);
 * - a `metadata.jsonl` or `metadata.csv` in a split folder (or in the root) lists the images:
 *   `file_name` relative to the metadata file's folder, other columns mapped by `fields` or kept
 *   as meta; images not listed are not read;
 * - without metadata, every image is read and labelled by its parent folder (`train/cat/1.jpg` →
 *   `cat`); images directly in a split folder have no label.
 *
 * ids and paths are relative to the dataset root (`train/cat/1.jpg`).
 */
export class ImageFolderSource implements Source {
  readonly description: string;
  counts: WalkCounts = emptyCounts();
  private readonly root: string;

  constructor(private readonly opts: ImageFolderSourceOptions) {
    this.root = resolve(opts.path);
    this.description = `imagefolder ${opts.path}`;
  }

  read(options: ReadOptions): AsyncIterable<SourceRecord> {
    return bounded(this.records(options), options);
  }

  private async *records(options: ReadOptions): AsyncGenerator<SourceRecord> {
    this.counts = emptyCounts();
    await requireFolder(this.root);
    const entries = (await readdir(this.root, { withFileTypes: true })).sort((a, b) => compareNames(a.name, b.name));
    const splits = entries.filter((e) => e.isDirectory() && SPLIT_FOLDER_NAMES.has(e.name.toLowerCase())).map((e) => e.name);
    const rootMetadata = await this.metadataIn(this.root);
    const inner: ReadOptions = { onBadRow: options.onBadRow, signal: options.signal };

    if (rootMetadata) {
      // One metadata file for everything: `file_name` may start with the split folder.
      for await (const r of this.metadataRecords(rootMetadata, this.root, inner)) {
        const first = r.path?.split('/')[0];
        if (first !== undefined && splits.includes(first) && r.split === undefined) r.split = first;
        yield r;
      }
    }
    if (splits.length === 0) {
      if (!rootMetadata) yield* this.walkRecords(this.root, undefined, options);
      return;
    }
    for (const split of splits) {
      const dir = join(this.root, split);
      const metadata = await this.metadataIn(dir);
      if (metadata) {
        for await (const r of this.metadataRecords(metadata, dir, inner)) {
          r.split = split;
          yield r;
        }
      } else if (!rootMetadata) {
        yield* this.walkRecords(dir, split, options);
      }
    }
  }

  /** The metadata file of a folder, if any; two kinds at once are ambiguous. */
  private async metadataIn(dir: string): Promise<string | null> {
    const names = new Set(await readdir(dir));
    const found = METADATA_NAMES.filter((n) => names.has(n));
    if (found.length > 1) {
      throw new InputError({ file: join(dir, found[0]) }, `${dir} holds both ${found.join(' and ')}; keep one`);
    }
    return found.length ? join(dir, found[0]) : null;
  }

  private metadataRecords(file: string, dir: string, options: ReadOptions): AsyncIterable<SourceRecord> {
    const manifest: ManifestSourceOptions = {
      path: file,
      fields: { image: 'file_name', ...this.opts.fields },
      root: dir,
      pathRoot: this.root,
      allowAbsolutePaths: false,
    };
    const source = file.endsWith('.csv') ? new CsvSource({ ...manifest, delimiter: ',' }) : new JsonlSource(manifest);
    return source.read(options);
  }

  private async *walkRecords(dir: string, split: string | undefined, options: ReadOptions): AsyncGenerator<SourceRecord> {
    const walk = walkImages(dir, { extensions: this.opts.extensions, recursive: true }, this.counts, options.onSkip);
    for await (const f of walk) {
      const rel = split === undefined ? f.rel : `${split}/${f.rel}`;
      const record: SourceRecord = { id: rel, path: rel, files: { image: f.full }, ref: f.full };
      if (split !== undefined) record.split = split;
      const slash = f.rel.lastIndexOf('/');
      if (this.opts.labels === 'infer' && slash > 0) record.label = basename(f.rel.slice(0, slash));
      yield record;
    }
  }
}
