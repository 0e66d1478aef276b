import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
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
  /**
   * With metadata, images no metadata file lists: `skip` (default) counts and lists them in the
   * run's skipped.jsonl; `ingest` reads them as samples without label or text.
   */
  unlisted?: 'skip' | 'ingest';
}

/**
 * A Hugging Face `imagefolder` dataset:
 *
 * - split folders (`train/`, `validation/` or `val/`, `test/`, ...) directly under the root give the
 *   records their `split` (the folder's name as written); without split folders, `split` is unset
 *   (Hugging Face would call it `train`; here the split step decides);
 * - a `metadata.jsonl` or `metadata.csv` in any folder lists images below it: `file_name`
 *   relative to the metadata file's folder, other columns mapped by `fields` or kept as meta;
 *   images no metadata lists are passed over (`onSkip`: counted and listed in the run's
 *   skipped.jsonl) or, with `unlisted: ingest`, read unlabelled; a row whose file is missing is
 *   yielded with a `missing_file` issue naming the metadata file and line (ingest keeps it in the
 *   catalog, flagged and dropped, so it never reaches an export);
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
    const metadata = await this.metadataFiles();
    if (metadata.length === 0) {
      // No metadata: every image, labelled by its folder; split folders at the top give the split.
      const entries = (await readdir(this.root, { withFileTypes: true })).sort((a, b) => compareNames(a.name, b.name));
      const splits = entries.filter((e) => e.isDirectory() && SPLIT_FOLDER_NAMES.has(e.name.toLowerCase())).map((e) => e.name);
      if (splits.length === 0) yield* this.walkRecords(this.root, undefined, options);
      for (const split of splits) yield* this.walkRecords(join(this.root, split), split, options);
      return;
    }
    // As Hugging Face reads it: each metadata file lists files below its folder; the first folder
    // of a file's path names its split when it is a split name. Rows whose file lies outside the
    // dataset root (a link out) are passed over by the reader, with a reason.
    const inner: ReadOptions = { onBadRow: options.onBadRow, onSkip: options.onSkip, signal: options.signal };
    const listed = new Set<string>();
    for (const file of metadata) {
      const metadataRel = this.rel(file);
      for await (const r of this.metadataRecords(file, dirname(file), inner)) {
        const image = r.files.image;
        if (image !== undefined) listed.add(resolve(image));
        if (image !== undefined && !(await isFile(image))) {
          const line = /:(\d+)$/.exec(r.ref)?.[1];
          r.issue = {
            type: 'missing_file',
            evidence: { metadata: metadataRel, ...(line ? { line: Number(line) } : {}), file: r.path ?? this.rel(image) },
          };
        }
        setSplitFromPath(r);
        yield r;
      }
    }
    const unlisted = this.opts.unlisted ?? 'skip';
    const walk = walkImages(this.root, { extensions: this.opts.extensions, recursive: true }, emptyCounts(), () => undefined);
    for await (const f of walk) {
      if (listed.has(resolve(f.full))) continue;
      if (unlisted === 'skip') {
        options.onSkip?.({ path: f.full, reason: 'image not in any metadata file' });
        continue;
      }
      const rel = this.rel(f.full);
      const record: SourceRecord = { id: rel, path: rel, files: { image: f.full }, ref: f.full };
      setSplitFromPath(record);
      yield record;
    }
  }

  /** A path below the root, relative to it with forward slashes. */
  private rel(full: string): string {
    return relative(this.root, full).split(sep).join('/');
  }

  /** Every metadata file under the root, in path order; two kinds in one folder are ambiguous. */
  private async metadataFiles(): Promise<string[]> {
    const out: string[] = [];
    const visit = async (dir: string): Promise<void> => {
      const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => compareNames(a.name, b.name));
      const found = METADATA_NAMES.filter((n) => entries.some((e) => e.isFile() && e.name === n));
      if (found.length > 1) throw new InputError({ file: join(dir, found[0]) }, `${dir} holds both ${found.join(' and ')}; keep one`);
      if (found.length) out.push(join(dir, found[0]));
      for (const e of entries) {
        if (e.isDirectory() && !e.name.startsWith('.') && e.name !== '__MACOSX') await visit(join(dir, e.name));
      }
    };
    await visit(this.root);
    return out;
  }

  private metadataRecords(file: string, dir: string, options: ReadOptions): AsyncIterable<SourceRecord> {
    const manifest: ManifestSourceOptions = {
      path: file,
      fields: { image: 'file_name', ...this.opts.fields },
      root: dir,
      pathRoot: this.root,
      boundary: this.root,
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

/** `train/ddb/a.jpg` is in split `train` when the record has no split of its own. */
function setSplitFromPath(r: SourceRecord): void {
  const segments = r.path?.split('/') ?? [];
  if (r.split === undefined && segments.length > 1 && SPLIT_FOLDER_NAMES.has(segments[0].toLowerCase())) r.split = segments[0];
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
