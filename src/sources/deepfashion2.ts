import { readdir, readFile, realpath } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { bounded } from './bounded.js';
import { compareNames } from './listing.js';
import { requireFolder } from './walk.js';
import type { ReadOptions, Source, SourceRecord } from './types.js';

export interface DeepFashion2SourceOptions {
  /** The dataset root: `<root>/<split>/image/*.jpg` and `<root>/<split>/annos/*.json`. */
  path: string;
  splits: readonly string[];
}

/** The item fields seed 001 reads, as columns of every item sample. */
const ITEM_FIELDS = ['category_id', 'category_name', 'style', 'bounding_box', 'occlusion', 'viewpoint', 'scale', 'zoom_in'] as const;

/**
 * DeepFashion2 as released: one JSON per image (`source`: shop or user, `pair_id`, and `item1`,
 * `item2`, ... each with its category, style, box, landmarks, segmentation, occlusion, viewpoint,
 * scale and zoom). One sample per item: id `<split>/<image_id>/item<n>`, parent
 * `<split>/<image_id>`, label the category name, metadata `image_id`, `item_idx`, `source`,
 * `pair_id`, the item's fields, and the rest of the item (landmarks, segmentation).
 * An image without annotation, an annotation without image, or an unreadable annotation is passed
 * over with its reason (the run's skipped.jsonl); the run goes on.
 */
export class DeepFashion2Source implements Source {
  readonly description: string;
  private readonly root: string;

  constructor(private readonly opts: DeepFashion2SourceOptions) {
    this.root = resolve(opts.path);
    this.description = `deepfashion2 ${opts.path}`;
  }

  read(options: ReadOptions): AsyncIterable<SourceRecord> {
    return bounded(this.records(options), options);
  }

  private async *records(options: ReadOptions): AsyncGenerator<SourceRecord> {
    await requireFolder(this.root);
    const realRoot = await realpath(this.root);
    const skip = (path: string, reason: string) => options.onSkip?.({ path, reason });
    for (const split of this.opts.splits) {
      const imageDir = join(this.root, split, 'image');
      const annoDir = join(this.root, split, 'annos');
      const images = await listStems(imageDir, /\.(jpe?g|png)$/i);
      const annos = await listStems(annoDir, /\.json$/i);
      if (!images && !annos) {
        skip(join(this.root, split), `split '${split}' not found (no image/ or annos/ folder)`);
        continue;
      }
      for (const [stem, file] of annos ?? new Map<string, string>()) {
        if (!images?.has(stem)) skip(join(annoDir, file), 'annotation without image');
      }
      for (const [stem, file] of images ?? new Map<string, string>()) {
        options.signal?.throwIfAborted();
        const imagePath = join(imageDir, file);
        const annoFile = annos?.get(stem);
        if (!annoFile) {
          skip(imagePath, 'image without annotation');
          continue;
        }
        // A link out of the dataset root is not read (it could name any file on the machine).
        const real = await realpath(imagePath).catch(() => null);
        if (!real || !isInside(realRoot, real)) {
          skip(imagePath, real ? 'symbolic link out of the dataset root' : 'broken symbolic link');
          continue;
        }
        const annoPath = join(annoDir, annoFile);
        let anno: Record<string, unknown>;
        try {
          const value: unknown = JSON.parse(await readFile(annoPath, 'utf8'));
          if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('expected a JSON object');
          anno = value as Record<string, unknown>;
        } catch (err) {
          skip(annoPath, `malformed annotation: ${(err as Error).message.split('\n')[0]}`);
          continue;
        }
        const items = Object.keys(anno)
          .filter((k) => /^item\d+$/.test(k))
          .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
        if (items.length === 0) {
          skip(annoPath, 'annotation has no items');
          continue;
        }
        const parent = `${split}/${stem}`;
        const relPath = `${split}/image/${file}`;
        for (const key of items) {
          const item = anno[key];
          const box = (item as { bounding_box?: unknown } | null)?.bounding_box;
          if (!item || typeof item !== 'object' || !Array.isArray(box) || box.length !== 4) {
            skip(`${annoPath}#${key}`, `item without a bounding_box of four numbers`);
            continue;
          }
          const fields = item as Record<string, unknown>;
          const meta: Record<string, unknown> = {
            image_id: stem, item_idx: Number(key.slice(4)), source: anno.source ?? null, pair_id: anno.pair_id ?? null,
          };
          for (const f of ITEM_FIELDS) meta[f] = fields[f] ?? null;
          for (const [k, v] of Object.entries(fields)) if (!(k in meta)) meta[k] = v;
          yield {
            id: `${parent}/${key}`, parent, path: relPath, split, files: { image: imagePath },
            label: typeof fields.category_name === 'string' ? fields.category_name : undefined,
            meta, ref: `${annoPath}#${key}`,
          };
        }
      }
    }
  }
}

/** File stem → file name of the matching files in a folder, in name order; undefined if the folder is absent. */
async function listStems(dir: string, pattern: RegExp): Promise<Map<string, string> | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const out = new Map<string, string>();
  for (const n of names.filter((x) => pattern.test(x) && !x.startsWith('.')).sort(compareNames)) out.set(n.replace(/\.[^.]+$/, ''), n);
  return out;
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..';
}
