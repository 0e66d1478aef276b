import { z } from 'zod';
import { ImgsiftError, errorMessage } from '../errors.js';
import {
  IMAGE_EXTENSIONS, ReencodeOptions, TrackedWriter, activeImageSamples, extensionOf, imageFile, orderedMap, safeSegment,
  type ImageSample,
} from './file-export.js';
import { openImage } from '../image/open.js';
import { DatasetConfigOptions, datasetConfigToml, fineTuneMetadata, type MetadataEntry, type Subset } from './kohya-config.js';
import { LocalSink, S3Options, sinkFor } from './sink.js';
import type { Exporter, ExportContext, ExportStats } from './types.js';
import { sampleKeys } from './webdataset.js';

/**
 * A kohya-ss (sd-scripts) DreamBooth-style folder for LoRA training:
 *
 *   img/<repeats>_<name>/<key>.<ext>        training images ("10_mytoken person")
 *   img/<repeats>_<name>/<key>.txt          the caption beside each image (caption_extension)
 *   reg/<repeats>_<class>/<key>.<ext>       regularization images, when `reg` selects some samples
 *
 * `train_data_dir` is `<to>/img`, `reg_data_dir` is `<to>/reg`. The folder name is the concept:
 * kohya reads the repeat count before the first '_' and uses the rest as the class/instance
 * prompt for images without a caption. With `folder_per_label`, each label gets its own concept
 * folder. Captions come from the sample's text (or `caption` source), prefixed by `trigger`
 * unless they already start with it; an image with no caption text gets no caption file (kohya
 * then falls back to the folder name). Regularization images get their own captions without the
 * trigger.
 *
 * Images are copied when kohya reads their format (jpeg, png, webp), else converted to PNG;
 * `reencode` re-encodes all of them. Reruns rewrite only changed files and remove images and
 * caption files left in `img/` and `reg/` concept folders (`<n>_*`) by an earlier export, so a
 * changed repeat count does not leave the old folder training too.
 */

const CAPTION_EXT = /^\.[A-Za-z0-9_]{1,16}$/;
const CONCEPT_DIR = /^\d+_/;
const COPYABLE: Record<string, string> = { jpeg: 'jpg', png: 'png', webp: 'webp' };

const RegOptions = z
  .object({
    /** Samples of this split are regularization images (e.g. 'reg'). */
    split: z.string().min(1).optional(),
    /** Samples carrying this review tag are regularization images. */
    tag: z.string().min(1).optional(),
    /** Samples with this label are regularization images. */
    label: z.string().min(1).optional(),
    repeats: z.number().int().min(1).default(1),
    /** The class word of the folder name (default: the top-level `class`). */
    class: z.string().min(1).optional(),
  })
  .strict()
  .refine((r) => [r.split, r.tag, r.label].filter((v) => v !== undefined).length === 1, {
    message: 'reg selects its samples with exactly one of split, tag or label',
  });

export const KohyaOptions = z
  .object({
    to: z.string().min(1),
    /** S3 settings when `to` is s3:// (endpoint, region, part size, concurrency, retries). */
    s3: S3Options.optional(),
    /** How often kohya repeats each training image per epoch: the folder's `<repeats>_` prefix. */
    repeats: z.number().int().min(1).default(10),
    /** The identifier (trigger word) that names the concept; also prefixed to captions. */
    trigger: z.string().min(1).optional(),
    /** The class word ('person', 'style', ...). */
    class: z.string().min(1).optional(),
    /** Concept folder name after `<repeats>_` (default: "<trigger> <class>"). */
    name: z.string().min(1).optional(),
    /** One concept folder per label (`<repeats>_<label>`); samples without a label use `name`. */
    folder_per_label: z.boolean().default(false),
    /** Where captions come from: 'text', 'label', 'none' or 'meta.<field>'. */
    caption: z.string().regex(/^(text|label|none|meta\..+)$/, "caption must be 'text', 'label', 'none' or 'meta.<field>'").default('text'),
    /** Caption file extension, with the dot ('.txt', '.caption'). */
    caption_extension: z.string().regex(CAPTION_EXT, "caption_extension must be a dot and 1-16 letters/digits, e.g. '.txt' or '.caption'").default('.txt'),
    /** Put the trigger word in front of each training caption (and use it alone when there is none). */
    trigger_in_captions: z.boolean().default(true),
    /** Between the trigger word and the caption. */
    trigger_separator: z.string().default(', '),
    /** Only samples of these splits (default: all). */
    splits: z.array(z.string().min(1)).optional(),
    reg: RegOptions.optional(),
    reencode: ReencodeOptions.optional(),
    /** The role whose file is written ('resized': the bucket step's output); samples without it are skipped. */
    role: z.string().regex(/^[a-z][a-z0-9_]*$/, 'a role name').default('image'),
    /** Also write sd-scripts' dataset config TOML (bucket settings, one subset per concept folder). */
    dataset_config: DatasetConfigOptions.optional(),
    /** Also write the fine-tuning metadata JSON (`--in_json`) of the training images under this file name. */
    metadata: z.string().regex(/^[^/\\]+\.json$/, 'a .json file name without folders').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (!o.name && !o.trigger && !o.class && !o.folder_per_label) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: 'give name, or trigger and/or class, to name the concept folder' });
    }
    if (o.reg && !o.reg.class && !o.class) {
      ctx.addIssue({ code: 'custom', path: ['reg', 'class'], message: 'regularization images need a class word: reg.class or class' });
    }
    if (o.caption_extension !== undefined && IMAGE_EXTENSIONS.has(o.caption_extension.slice(1).toLowerCase())) {
      ctx.addIssue({ code: 'custom', path: ['caption_extension'], message: `caption_extension ${o.caption_extension} is an image extension` });
    }
  });
export type KohyaOptions = z.infer<typeof KohyaOptions>;

/** The concept folder name after `<repeats>_`. */
function defaultName(o: KohyaOptions): string | undefined {
  return o.name ?? ([o.trigger, o.class].filter(Boolean).join(' ') || undefined);
}

/** `trigger, caption`, unless the caption already starts with the trigger word. */
export function withTrigger(caption: string | null, trigger: string, separator: string): string {
  const c = (caption ?? '').trim();
  if (c === '') return trigger;
  const lower = c.toLowerCase();
  const t = trigger.toLowerCase();
  if (lower === t || (lower.startsWith(t) && /^[\s,.;:]/.test(c.slice(t.length)))) return c;
  return `${trigger}${separator}${c}`;
}

function captionOf(s: ImageSample, source: string): string | null {
  if (source === 'none') return null;
  if (source === 'text') return s.text;
  if (source === 'label') return s.label;
  const v = s.meta?.[source.slice(5)];
  return v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v);
}

interface Placement {
  sample: ImageSample;
  /** `img/10_name` or `reg/1_class`. */
  dir: string;
  reg: boolean;
  repeats: number;
  /** The folder name after `<repeats>_`. */
  concept: string;
  caption: string | null;
}

async function place(ctx: ExportContext, o: KohyaOptions, samples: ImageSample[]): Promise<Placement[]> {
  const regTagged = o.reg?.tag
    ? new Set((await ctx.catalog.all<{ sample_id: string }>(`SELECT sample_id FROM tags WHERE tag = ?`, [o.reg.tag])).map((r) => r.sample_id))
    : null;
  const isReg = (s: ImageSample): boolean => {
    if (!o.reg) return false;
    if (o.reg.split !== undefined) return s.split === o.reg.split;
    if (o.reg.label !== undefined) return s.label === o.reg.label;
    return regTagged!.has(s.id);
  };
  const name = defaultName(o);
  const out: Placement[] = [];
  for (const s of samples) {
    if (isReg(s)) {
      const cls = o.reg!.class ?? o.class!;
      const caption = captionOf(s, o.caption)?.trim() || null;
      out.push({ sample: s, dir: `reg/${o.reg!.repeats}_${safeSegment(cls)}`, reg: true, repeats: o.reg!.repeats, concept: cls, caption });
      continue;
    }
    if (o.splits && !o.splits.includes(s.split ?? '')) continue;
    const concept = o.folder_per_label ? (s.label ?? name) : name;
    if (concept === undefined) {
      throw new ImgsiftError(`kohya: sample ${JSON.stringify(s.id)} has no label; give 'name' for the folder of unlabeled samples`);
    }
    let caption = captionOf(s, o.caption)?.trim() || null;
    if (o.trigger && o.trigger_in_captions) caption = withTrigger(caption, o.trigger, o.trigger_separator);
    out.push({ sample: s, dir: `img/${o.repeats}_${safeSegment(concept)}`, reg: false, repeats: o.repeats, concept, caption });
  }
  return out;
}

/** The samples with the file of `role` in place of their image; those without one are left out. */
async function withRole(ctx: ExportContext, samples: ImageSample[], role: string): Promise<ImageSample[]> {
  const rows = await ctx.catalog.all<{ sample_id: string; uri: string }>(`SELECT sample_id, uri FROM files WHERE role = ?`, [role]);
  const uris = new Map(rows.map((r) => [r.sample_id, r.uri]));
  const out = samples.filter((s) => uris.has(s.id)).map((s) => ({ ...s, uri: uris.get(s.id)!, format: null }));
  if (out.length < samples.length) ctx.reporter.warn(`kohya: ${samples.length - out.length} sample(s) have no '${role}' file and are left out`);
  return out;
}

/** The size a trainer sees: EXIF orientation applied unless the bytes were re-encoded upright. */
async function trainSize(data: Buffer, upright: boolean): Promise<{ width: number; height: number }> {
  const m = await openImage(data).metadata();
  const swap = !upright && (m.orientation ?? 1) >= 5;
  return swap ? { width: m.height!, height: m.width! } : { width: m.width!, height: m.height! };
}

export const kohyaExporter: Exporter<KohyaOptions> = {
  format: 'kohya',
  description: 'kohya-ss LoRA folders: img/<repeats>_<name>/ with caption files, optional reg/<repeats>_<class>/',
  options: KohyaOptions,
  async run(ctx: ExportContext, options: KohyaOptions): Promise<ExportStats> {
    const { reporter } = ctx;
    const sink = await sinkFor(ctx, options.to, options.s3);
    try {
      const out = new TrackedWriter(sink);
      const samples = options.role === 'image' ? await activeImageSamples(ctx) : await withRole(ctx, await activeImageSamples(ctx), options.role);
      const placements = await place(ctx, options, samples);
      const keys = sampleKeys(placements.map((p) => p.sample.id));

      const perDir = new Map<string, number>();
      let captions = 0;
      const subsets: Subset[] = [];
      const entries: MetadataEntry[] = [];
      let skipped = 0;
      let reencoded = 0;
      const progress = reporter.progress('kohya', placements.length);
      try {
        const load = async (p: Placement) => {
          try {
            return { p, image: await imageFile(p.sample, COPYABLE, options.reencode) };
          } catch (err) {
            return { p, error: errorMessage(err) };
          }
        };
        for await (const r of orderedMap(placements, load, 8)) {
          if (ctx.signal?.aborted) throw new ImgsiftError('kohya: export interrupted');
          if ('error' in r) {
            skipped++;
            if (skipped <= 5) reporter.warn(`kohya: skipped sample ${r.p.sample.id}: ${r.error}`);
            progress.tick(1, 1);
            continue;
          }
          const key = keys.get(r.p.sample.id)!;
          await out.put(`${r.p.dir}/${key}.${r.image.ext}`, r.image.data);
          if (r.p.caption !== null) {
            await out.put(`${r.p.dir}/${key}${options.caption_extension}`, r.p.caption + '\n');
            captions++;
          }
          if (r.image.reencoded) reencoded++;
          if (!perDir.has(r.p.dir)) subsets.push({ image_dir: r.p.dir, num_repeats: r.p.repeats, class_tokens: r.p.concept, is_reg: r.p.reg });
          perDir.set(r.p.dir, (perDir.get(r.p.dir) ?? 0) + 1);
          if (options.metadata && !r.p.reg) entries.push({ key, caption: r.p.caption, ...(await trainSize(r.image.data, r.image.reencoded)) });
          progress.tick();
        }
      } finally {
        progress.finish();
      }

      if (options.dataset_config) {
        const c = options.dataset_config;
        const base = c.paths === 'absolute' && sink instanceof LocalSink ? sink.root + '/' : '';
        const sorted = [...subsets].sort((a, b) => Number(a.is_reg) - Number(b.is_reg) || (a.image_dir < b.image_dir ? -1 : 1));
        await out.put(c.file, datasetConfigToml(c, options.caption_extension, sorted.map((s) => ({ ...s, image_dir: base + s.image_dir }))));
      }
      if (options.metadata) await out.put(options.metadata, fineTuneMetadata(entries));

      const captionExts = new Set(['txt', 'caption', options.caption_extension.slice(1).toLowerCase()]);
      const removed = await out.removeStale((p) => {
        const parts = p.split('/');
        if (parts.length !== 3 || (parts[0] !== 'img' && parts[0] !== 'reg') || !CONCEPT_DIR.test(parts[1])) return false;
        const ext = extensionOf(parts[2]);
        return IMAGE_EXTENSIONS.has(ext) || captionExts.has(ext);
      });

      const stats: ExportStats = {};
      for (const [dir, n] of [...perDir].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) stats[`images ${dir}`] = n;
      stats['caption files'] = captions;
      stats['files written'] = out.filesWritten;
      stats['files unchanged'] = out.filesUnchanged;
      stats['bytes written'] = out.bytesWritten;
      if (removed) stats['stale files removed'] = removed;
      if (skipped) stats['samples skipped'] = skipped;
      if (reencoded) stats['files re-encoded'] = reencoded;
      return stats;
    } finally {
      await sink.close();
    }
  },
};
