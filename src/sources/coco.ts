import { readdir, readFile, realpath } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { InputError } from '../errors.js';
import { bounded } from './bounded.js';
import { resolveInside } from '../util/paths.js';
import type { ReadOptions, Source, SourceRecord } from './types.js';

export interface CocoSourceOptions {
  /** The instances JSON (`instances_val2017.json`). */
  path: string;
  /** The image folder (default: `<json folder>/../<split name>`, as COCO ships: annotations/ beside val2017/). */
  images?: string;
  /** One sample per image (default) or per annotation (`<file>/ann<id>`, parent the image). */
  per: 'image' | 'annotation';
  /** The split of every sample; default from the file name (`train2017` → train, `val2017` → validation). */
  split?: string;
}

export interface CocoImage {
  id: number;
  file_name: string;
  width?: number;
  height?: number;
  [k: string]: unknown;
}
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox?: number[];
  area?: number;
  iscrowd?: number;
  [k: string]: unknown;
}
export interface CocoCategory {
  id: number;
  name: string;
  supercategory?: string;
}
export interface CocoInstances {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
  [k: string]: unknown;
}

/** `train2017` → train, `val2017`/`valid` → validation, `test-dev2017` → test; others as they are. */
export function cocoSplitName(name: string): string {
  const n = name.toLowerCase().replace(/^instances_/, '').replace(/\d{4}$/, '');
  if (n.startsWith('train')) return 'train';
  if (n.startsWith('val')) return 'validation';
  if (n.startsWith('test')) return 'test';
  return n || name;
}

/** Read and check an instances JSON; errors name the file and the field. */
export async function readCocoInstances(file: string): Promise<CocoInstances> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new InputError({ file }, `not a COCO instances JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const v = value as Partial<CocoInstances>;
  for (const key of ['images', 'annotations', 'categories'] as const) {
    if (!Array.isArray(v?.[key])) throw new InputError({ file, field: key }, `expected a list '${key}'`);
  }
  v.images!.forEach((im, i) => {
    if (typeof im?.id !== 'number' || typeof im.file_name !== 'string') throw new InputError({ file, field: `images[${i}]` }, 'an image needs a numeric id and a file_name');
  });
  v.categories!.forEach((c, i) => {
    if (typeof c?.id !== 'number' || typeof c.name !== 'string') throw new InputError({ file, field: `categories[${i}]` }, 'a category needs a numeric id and a name');
  });
  v.annotations!.forEach((a, i) => {
    if (typeof a?.id !== 'number' || typeof a.image_id !== 'number' || typeof a.category_id !== 'number') {
      throw new InputError({ file, field: `annotations[${i}]` }, 'an annotation needs numeric id, image_id and category_id');
    }
  });
  return v as CocoInstances;
}

/**
 * COCO detection annotations: an instances JSON and its image folder. Per image, the label is
 * the image's category names (sorted, `|`-joined when several) and metadata holds `image_id`,
 * `categories` and `annotations` (id, category, bbox xywh, area, iscrowd); per annotation, the
 * label is the annotation's category and `bbox` is its box (xywh, for `crop: {box_format: xywh}`).
 * Images listed but missing, and image files present but not listed, are passed over with their reason.
 */
export class CocoSource implements Source {
  readonly description: string;
  constructor(private readonly opts: CocoSourceOptions) {
    this.description = `coco ${opts.path}`;
  }

  read(options: ReadOptions): AsyncIterable<SourceRecord> {
    return bounded(this.records(options), options);
  }

  private async *records(options: ReadOptions): AsyncGenerator<SourceRecord> {
    const file = resolve(this.opts.path);
    const data = await readCocoInstances(file);
    const stem = basename(file).replace(/\.json$/i, '').replace(/^instances_/, '');
    const imagesDir = resolve(this.opts.images ?? join(dirname(file), '..', stem));
    const split = this.opts.split ?? cocoSplitName(stem);
    const categories = new Map(data.categories.map((c) => [c.id, c]));
    const byImage = new Map<number, CocoAnnotation[]>();
    for (const a of data.annotations) {
      let list = byImage.get(a.image_id);
      if (!list) byImage.set(a.image_id, (list = []));
      list.push(a);
    }
    const skip = (path: string, reason: string) => options.onSkip?.({ path, reason });
    const present = new Set(await readdir(imagesDir).catch(() => [] as string[]));
    const listed = new Set<string>();
    const realRoot = await realpath(imagesDir).catch(() => imagesDir);
    for (const im of data.images) {
      options.signal?.throwIfAborted();
      listed.add(im.file_name);
      const full = resolveInside(imagesDir, im.file_name);
      if (!full) {
        skip(im.file_name, 'file_name escapes the image folder');
        continue;
      }
      const real = await realpath(full).catch(() => null);
      if (!real) {
        skip(full, 'listed in the annotations but missing');
        continue;
      }
      const rel = relative(realRoot, real);
      if (rel.startsWith(`..${sep}`) || rel === '..') {
        skip(full, 'symbolic link out of the image folder');
        continue;
      }
      const anns = (byImage.get(im.id) ?? []).slice().sort((a, b) => a.id - b.id);
      const annMeta = anns.map((a) => ({
        id: a.id, category_id: a.category_id, category_name: categories.get(a.category_id)?.name ?? null,
        bbox: a.bbox ?? null, area: a.area ?? null, iscrowd: a.iscrowd ?? 0,
      }));
      const { id: imageId, file_name, ...imageRest } = im;
      const base = { image_id: imageId, file_name, ...imageRest };
      if (this.opts.per === 'image') {
        const names = [...new Set(annMeta.map((a) => a.category_name).filter((n): n is string => !!n))].sort();
        yield {
          id: file_name, path: file_name, split, files: { image: full }, label: names.length ? names.join('|') : undefined,
          meta: { ...base, categories: names, annotations: annMeta }, ref: `${file}#images[id=${imageId}]`,
        };
        continue;
      }
      for (const a of annMeta) {
        const raw = anns.find((x) => x.id === a.id)!;
        const { id: _i, image_id: _im, category_id: _c, bbox: _b, area: _a, iscrowd: _z, segmentation: _s, ...rest } = raw;
        yield {
          id: `${file_name}/ann${a.id}`, parent: file_name, path: file_name, split, files: { image: full },
          label: a.category_name ?? String(a.category_id),
          meta: { ...base, annotation_id: a.id, category_id: a.category_id, category_name: a.category_name, bbox: a.bbox, area: a.area, iscrowd: a.iscrowd, ...rest },
          ref: `${file}#annotations[id=${a.id}]`,
        };
      }
    }
    for (const name of [...present].sort()) {
      if (!listed.has(name) && /\.(jpe?g|png|webp|bmp|gif|tiff?)$/i.test(name)) skip(join(imagesDir, name), 'image file not listed in the annotations');
    }
  }
}
