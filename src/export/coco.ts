import { resolve } from 'node:path';
import { z } from 'zod';
import { ImgsiftError, UsageError } from '../errors.js';
import { readCocoInstances, type CocoAnnotation, type CocoCategory, type CocoInstances } from '../sources/coco.js';
import { relabels, removals } from './removal.js';
import { S3Options, sinkFor, splitFileTarget } from './sink.js';
import type { Exporter, ExportContext, ExportStats } from './types.js';

/**
 * `coco`: the cleaned instances JSON of a `coco` source. The original file is read again (so
 * segmentation, `info`, `licenses` and every other field survive) and written with:
 *  - images removed in this run (dropped by a step, or decided `remove`) gone with their annotations;
 *    with per-annotation samples, removed annotations gone, and an image whose annotations were
 *    all removed gone too;
 *  - relabels (review decisions `relabel` with a `new_label`, or accepted suggestions) applied to
 *    `category_id`: the new label is a category name (or id). A per-annotation sample relabels its
 *    annotation; a per-image sample relabels its image's one annotation, and an image with several
 *    is refused, naming it, unless `relabel: all_annotations`;
 *  - ids, order and all other fields as in the original.
 * Images and annotations that no sample of the run stands for (images the source passed over as
 * missing, or beyond --max-samples) are left out: the file lists exactly the run's kept data.
 */
export const CocoExportOptions = z
  .object({
    /** The file to write (local path relative to the recipe, or s3://bucket/key). */
    to: z.string().min(1),
    s3: S3Options.optional(),
    /** The original instances JSON (default: the file the samples were read from). */
    instances: z.string().min(1).optional(),
    /** An image-level relabel of an image with several annotations: refused (`single`, default) or applied to all of them. */
    relabel: z.enum(['single', 'all_annotations']).default('single'),
    /** Spaces per indentation level (0, default: one line, as COCO ships). */
    indent: z.number().int().min(0).max(8).default(0),
  })
  .strict();
export type CocoExportOptions = z.infer<typeof CocoExportOptions>;

/** What one sample of the run stands for in the instances file. */
interface RunSample {
  id: string;
  imageId: number;
  /** Set for per-annotation samples. */
  annotationId: number | null;
  sourceRef: string | null;
}

export interface CocoPlan {
  instances: CocoInstances;
  stats: ExportStats;
}

/** The cleaned instances document for the run; throws before anything is written when a relabel cannot apply. */
export async function cleanedInstances(ctx: ExportContext, options: CocoExportOptions): Promise<CocoPlan> {
  const run = Math.trunc(ctx.runId);
  const rows = await ctx.catalog.all<{ id: string; source_ref: string | null; image_id: string | null; annotation_id: string | null }>(
    `SELECT id, source_ref, json_extract_string(meta, '$.image_id') AS image_id, json_extract_string(meta, '$.annotation_id') AS annotation_id
     FROM samples WHERE seen_run = ${run}`,
  );
  const samples: RunSample[] = rows.map((r) => {
    const imageId = Number(r.image_id);
    if (r.image_id === null || !Number.isInteger(imageId)) {
      throw new ImgsiftError(`coco: sample ${JSON.stringify(r.id)} has no numeric image_id in its metadata; the coco export needs samples of a coco source`);
    }
    return { id: r.id, imageId, annotationId: r.annotation_id === null ? null : Number(r.annotation_id), sourceRef: r.source_ref };
  });
  const file = options.instances !== undefined ? resolve(ctx.baseDir, options.instances) : instancesFileOf(samples);
  const original = await readCocoInstances(file);

  const removed = new Set((await removals(ctx)).map((r) => r.id));
  const perAnnotation = samples.some((s) => s.annotationId !== null);
  const annsByImage = new Map<number, CocoAnnotation[]>();
  for (const a of original.annotations) (annsByImage.get(a.image_id) ?? annsByImage.set(a.image_id, []).get(a.image_id)!).push(a);

  // Which images and annotations stay.
  const keptImages = new Set<number>();
  const keptAnns = new Set<number>();
  if (perAnnotation) {
    for (const s of samples) {
      if (s.annotationId === null || removed.has(s.id)) continue;
      keptAnns.add(s.annotationId);
      keptImages.add(s.imageId);
    }
  } else {
    for (const s of samples) {
      if (removed.has(s.id)) continue;
      keptImages.add(s.imageId);
      for (const a of annsByImage.get(s.imageId) ?? []) keptAnns.add(a.id);
    }
  }

  // New category ids by annotation id.
  const byName = new Map(original.categories.map((c) => [c.name, c]));
  const byId = new Map(original.categories.map((c) => [c.id, c]));
  const sampleById = new Map(samples.map((s) => [s.id, s]));
  const newCategory = new Map<number, number>();
  const plan = await relabels(ctx);
  const refused: string[] = [];
  for (const r of plan.relabels) {
    const s = sampleById.get(r.id)!;
    const category = categoryOf(r.label, byName, byId);
    if (!category) {
      throw new ImgsiftError(`coco: sample ${JSON.stringify(r.id)} is relabeled to ${JSON.stringify(r.label)}, which is not a category of ${file} (${original.categories.map((c) => c.name).join(', ')})`);
    }
    if (s.annotationId !== null) {
      newCategory.set(s.annotationId, category.id);
      continue;
    }
    const anns = annsByImage.get(s.imageId) ?? [];
    if (anns.length > 1 && options.relabel !== 'all_annotations') {
      refused.push(`${JSON.stringify(r.id)} (${anns.length} annotations)`);
      continue;
    }
    if (anns.length === 0) throw new ImgsiftError(`coco: sample ${JSON.stringify(r.id)} is relabeled to ${JSON.stringify(r.label)} but its image has no annotation to carry the label`);
    for (const a of anns) newCategory.set(a.id, category.id);
  }
  if (refused.length) {
    throw new ImgsiftError(
      `coco: image-level relabel of an image with several annotations is ambiguous: ${refused.slice(0, 5).join(', ')}${refused.length > 5 ? ` and ${refused.length - 5} more` : ''}. ` +
        `Relabel per annotation (source per: annotation), or set relabel: all_annotations to give every annotation of the image the new category`,
    );
  }

  let changed = 0;
  const annotations = original.annotations
    .filter((a) => keptAnns.has(a.id) && keptImages.has(a.image_id))
    .map((a) => {
      const c = newCategory.get(a.id);
      if (c === undefined || c === a.category_id) return a;
      changed++;
      return { ...a, category_id: c };
    });
  const images = original.images.filter((im) => keptImages.has(im.id));
  const instances: CocoInstances = { ...original, images, annotations };
  const stats: ExportStats = {
    images: images.length,
    'images removed': original.images.length - images.length,
    annotations: annotations.length,
    'annotations removed': original.annotations.length - annotations.length,
    'annotations relabeled': changed,
  };
  if (plan.ofRemoved) stats['relabels of removed samples'] = plan.ofRemoved;
  return { instances, stats };
}

/** The instances file named by the samples' refs (`<file>#images[id=N]`); one file, or an error asking for `instances`. */
function instancesFileOf(samples: RunSample[]): string {
  const files = new Set(samples.map((s) => s.sourceRef?.replace(/#.*$/, '') ?? ''));
  if (files.size !== 1 || files.has('')) {
    throw new UsageError(`coco: cannot tell the original instances JSON from the samples (${files.size} sources); set instances: <file>`);
  }
  return [...files][0];
}

function categoryOf(label: string, byName: Map<string, CocoCategory>, byId: Map<number, CocoCategory>): CocoCategory | undefined {
  return byName.get(label) ?? (/^\d+$/.test(label) ? byId.get(Number(label)) : undefined);
}

export const cocoExporter: Exporter<CocoExportOptions> = {
  format: 'coco',
  description: 'the cleaned COCO instances JSON: removed images and annotations gone, relabels applied to category_id, ids preserved',
  options: CocoExportOptions,
  async run(ctx: ExportContext, options: CocoExportOptions): Promise<ExportStats> {
    if (options.to.endsWith('/')) throw new UsageError(`coco: export destination ${options.to} must name a file, not a folder`);
    const { instances, stats } = await cleanedInstances(ctx, options);
    const { dir, name } = splitFileTarget(options.to);
    const sink = await sinkFor(ctx, dir, options.s3);
    try {
      await sink.put(name, JSON.stringify(instances, null, options.indent || undefined) + '\n');
    } finally {
      await sink.close();
    }
    return stats;
  },
};
