import { z } from 'zod';

/**
 * The files sd-scripts reads besides the image folders: the DreamBooth-style dataset config TOML
 * (`--dataset_config`) and the fine-tuning metadata JSON (`--in_json`). Pure text builders; the kohya
 * exporter decides the folders and what is in them.
 */

const side = z.number().int().positive();

export const DatasetConfigOptions = z
  .object({
    /** File name inside the export folder. */
    file: z.string().regex(/^[^/\\]+\.toml$/, 'a .toml file name without folders').default('dataset_config.toml'),
    resolution: z.union([side, z.tuple([side, side])]).default(512),
    batch_size: side.default(1),
    enable_bucket: z.boolean().default(true),
    min_bucket_reso: side.default(256),
    max_bucket_reso: side.default(1024),
    bucket_reso_steps: side.default(64),
    bucket_no_upscale: z.boolean().default(false),
    /** Leading caption tokens kept in place when captions are shuffled (1 keeps the trigger word first). */
    keep_tokens: z.number().int().min(0).default(1),
    shuffle_caption: z.boolean().default(false),
    /**
     * How `image_dir` is written: `absolute` (local exports; sd-scripts resolves relative paths
     * against its working directory, not the TOML's) or `relative` to the export folder.
     */
    paths: z.enum(['absolute', 'relative']).default('absolute'),
  })
  .strict();
export type DatasetConfigOptions = z.infer<typeof DatasetConfigOptions>;

/** One concept folder as a `[[datasets.subsets]]` entry. */
export interface Subset {
  image_dir: string;
  num_repeats: number;
  class_tokens: string;
  is_reg: boolean;
}

/** A TOML basic string: quotes, backslashes and control characters escaped. */
export function tomlString(s: string): string {
  return `"${s.replace(/[\\"\x00-\x1f\x7f]/g, (c) => {
    const named: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\t': '\\t', '\r': '\\r' };
    return named[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  })}"`;
}

/** sd-scripts' dataset config: bucket settings in [general], one dataset, one subset per concept folder. */
export function datasetConfigToml(o: DatasetConfigOptions, captionExtension: string, subsets: Subset[]): string {
  const res = typeof o.resolution === 'number' ? `${o.resolution}` : `[${o.resolution[0]}, ${o.resolution[1]}]`;
  const lines = [
    '# Written by imgsift (kohya export). Train with: train_network.py --dataset_config <this file>',
    '[general]',
    `enable_bucket = ${o.enable_bucket}`,
    `min_bucket_reso = ${o.min_bucket_reso}`,
    `max_bucket_reso = ${o.max_bucket_reso}`,
    `bucket_reso_steps = ${o.bucket_reso_steps}`,
    `bucket_no_upscale = ${o.bucket_no_upscale}`,
    `shuffle_caption = ${o.shuffle_caption}`,
    `caption_extension = ${tomlString(captionExtension)}`,
    `keep_tokens = ${o.keep_tokens}`,
    '',
    '[[datasets]]',
    `resolution = ${res}`,
    `batch_size = ${o.batch_size}`,
  ];
  for (const s of subsets) {
    lines.push(
      '',
      '  [[datasets.subsets]]',
      `  image_dir = ${tomlString(s.image_dir)}`,
      `  num_repeats = ${s.num_repeats}`,
      `  class_tokens = ${tomlString(s.class_tokens)}`,
      `  caption_extension = ${tomlString(captionExtension)}`,
      `  is_reg = ${s.is_reg}`,
      `  keep_tokens = ${s.is_reg ? 0 : o.keep_tokens}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** One training image of the fine-tuning metadata. */
export interface MetadataEntry {
  /** The exported file's stem. */
  key: string;
  caption: string | null;
  width: number;
  height: number;
}

/** `--in_json` metadata: `{image_key: {caption, train_resolution: [w, h]}}`, keys sorted. */
export function fineTuneMetadata(entries: MetadataEntry[]): string {
  const out: Record<string, { caption?: string; train_resolution: [number, number] }> = {};
  for (const e of [...entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    out[e.key] = { ...(e.caption !== null ? { caption: e.caption } : {}), train_resolution: [e.width, e.height] };
  }
  return JSON.stringify(out, null, 2) + '\n';
}
