import { resolve } from 'node:path';
import { bounded } from './bounded.js';
import type { ReadOptions, Source, SourceRecord } from './types.js';
import { emptyCounts, walkImages, type WalkCounts } from './walk.js';

export interface FolderSourceOptions {
  path: string;
  extensions: readonly string[];
  recursive: boolean;
  /** `folder`: the top-level folder under the root is the label (ImageNet style). */
  labels: 'folder' | 'none';
}

/**
 * A tree of image files. id and path are the file's path relative to the root (forward slashes);
 * with `labels: folder`, an image in `root/cat/x.jpg` (or deeper, `root/cat/a/x.jpg`) is labelled
 * `cat`, and images directly in the root have no label.
 */
export class FolderSource implements Source {
  readonly description: string;
  /** What the last read passed over (non-images, hidden files, links out of the root). */
  counts: WalkCounts = emptyCounts();
  private readonly root: string;

  constructor(private readonly opts: FolderSourceOptions) {
    this.root = resolve(opts.path);
    this.description = `image folder ${opts.path}`;
  }

  read(options: ReadOptions): AsyncIterable<SourceRecord> {
    return bounded(this.records(options), options);
  }

  private async *records(options: ReadOptions): AsyncGenerator<SourceRecord> {
    this.counts = emptyCounts();
    for await (const f of walkImages(this.root, this.opts, this.counts, options.onSkip)) {
      const record: SourceRecord = { id: f.rel, path: f.rel, files: { image: f.full }, ref: f.full };
      if (this.opts.labels === 'folder') {
        const slash = f.rel.indexOf('/');
        if (slash > 0) record.label = f.rel.slice(0, slash);
      }
      yield record;
    }
  }
}
