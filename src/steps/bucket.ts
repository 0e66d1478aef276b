import { z } from 'zod';
import { COLUMNS } from '../catalog/catalog.js';
import { Bucketer, validateBucketSettings, type BucketSettings } from '../image/buckets.js';
import { resizeToBucket, uprightSize } from '../image/bucket-resize.js';
import type { IssueRecord, MapStep, StepContext, StepStats } from './types.js';

const side = z.number().int().positive();

/**
 * Parameters of the `bucket` step. The bucket settings carry sd-scripts' names and defaults
 * (resolution 512, steps 64, 256..1024, upscaling buckets allowed); `enable_bucket` defaults to true
 * here because bucketing is what the step is for (sd-scripts' own default is off).
 */
export const BucketParams = z
  .object({
    /** Training resolution: one number (square) or [width, height]. */
    resolution: z.union([side, z.tuple([side, side])]).default(512),
    enable_bucket: z.boolean().default(true),
    min_bucket_reso: side.default(256),
    max_bucket_reso: side.default(1024),
    bucket_reso_steps: side.default(64),
    bucket_no_upscale: z.boolean().default(false),
    format: z.enum(['png', 'jpg', 'webp']).default('png'),
    quality: z.number().int().min(1).max(100).default(95),
    /** center = sd-scripts' crop; attention/entropy = libvips' subject-aware choice of window. */
    crop: z.enum(['center', 'attention', 'entropy']).default('center'),
    /** Colour transparent pixels are flattened onto. */
    background: z.string().min(1).default('#ffffff'),
    /** Resize images up to their bucket; otherwise they get a flagged `needs_upscale` issue and no file. */
    allow_upscale: z.boolean().default(false),
    /** Training batch size: buckets with fewer images get a flagged `small_bucket` issue. */
    batch_size: z.number().int().positive().default(1),
    /** Role name the bucket-sized image is registered under. */
    to: z.string().regex(/^[a-z][a-z0-9_]*$/, { message: 'a role name: lower-case letters, digits and _' }).default('resized'),
  })
  .strict()
  // Settings sd-scripts would reject are a recipe error, not a failure on every image.
  .superRefine((p, ctx) => {
    try {
      validateBucketSettings(bucketSettings(p));
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });
export type BucketParams = z.infer<typeof BucketParams>;

/** The parameters that decide buckets, as a recipe writes them. */
type BucketSettingParams = Omit<BucketSettings, 'resolution'> & { resolution: number | [number, number] };

export function bucketSettings(p: BucketSettingParams): BucketSettings {
  return {
    resolution: typeof p.resolution === 'number' ? [p.resolution, p.resolution] : p.resolution,
    enable_bucket: p.enable_bucket,
    min_bucket_reso: p.min_bucket_reso,
    max_bucket_reso: p.max_bucket_reso,
    bucket_reso_steps: p.bucket_reso_steps,
    bucket_no_upscale: p.bucket_no_upscale,
  };
}

/** The stored result for one image. */
export interface BucketResult {
  /** Upright (EXIF-applied) size of the original. */
  original: [number, number];
  bucket: [number, number];
  resized: [number, number];
  crop: { left: number; top: number };
  ar_error: number;
  upscaled: boolean;
  /** Whether a bucket-sized file was written (not for a refused upscale or an empty bucket). */
  written: boolean;
  [k: string]: unknown;
}

// Bucketers are pure functions of the settings; a worker keeps one per settings.
const bucketers = new Map<string, Bucketer>();
function bucketerFor(p: BucketParams): Bucketer {
  const s = bucketSettings(p);
  const key = JSON.stringify(s);
  let b = bucketers.get(key);
  if (!b) bucketers.set(key, (b = new Bucketer(s)));
  return b;
}

/**
 * Puts each image in its sd-scripts bucket (on its upright size) and writes the bucket-sized image as
 * role `to`: Lanczos resize, EXIF orientation baked in, sRGB, alpha flattened, cropped as sd-scripts
 * does (or subject-aware). After the run, samples in buckets smaller than `batch_size` are flagged.
 */
export const bucketStep: MapStep<BucketParams> = {
  kind: 'map',
  name: 'bucket',
  version: 1,
  description: 'sd-scripts aspect-ratio buckets; writes each image resized and cropped to its bucket',
  params: BucketParams,
  // batch_size only decides the small_bucket flags, written after the run from the stored buckets.
  cacheKey: ({ batch_size: _b, ...rest }) => rest,

  async run(input, params) {
    const bucketer = bucketerFor(params);
    const original = await uprightSize(input.bytes);
    const plan = bucketer.select(original[0], original[1]);
    const issues: IssueRecord[] = [];
    const scale = Math.max(plan.resized[0] / original[0], plan.resized[1] / original[1]);
    if (plan.upscaled) {
      issues.push({
        type: 'needs_upscale',
        score: Math.min(1, Math.max(0, 1 - 1 / scale)),
        flagged: !params.allow_upscale,
        evidence: { original, resized: plan.resized, bucket: plan.bucket, scale: round(scale, 4), allowed: params.allow_upscale },
      });
    }
    if (plan.empty) {
      issues.push({ type: 'too_small_for_bucket', score: 1, flagged: true, evidence: { original, bucket: plan.bucket, steps: params.bucket_reso_steps } });
    }
    const write = !plan.empty && (!plan.upscaled || params.allow_upscale);
    const result: BucketResult = {
      original,
      bucket: plan.bucket,
      resized: plan.resized,
      crop: plan.crop,
      ar_error: round(plan.arError, 6),
      upscaled: plan.upscaled,
      written: write,
    };
    if (!write) return { result: result as never, issues };
    const out = await resizeToBucket(input.bytes, plan, {
      format: params.format,
      quality: params.quality,
      crop: params.crop,
      background: params.background,
    });
    result.crop = out.crop;
    return { result: result as never, issues, files: [{ role: params.to, ext: out.ext, bytes: out.bytes }] };
  },

  async afterAll(ctx, params, paramsHash) {
    await writeSmallBuckets(ctx, params, paramsHash);
  },

  async stats(ctx, params, paramsHash) {
    return bucketStats(ctx, params, paramsHash);
  },
};

const round = (v: number, d: number) => Math.round(v * 10 ** d) / 10 ** d;

/** Active samples' buckets from this run's results (a content shared by two samples counts twice). */
async function sampleBuckets(ctx: StepContext, paramsHash: string) {
  return ctx.catalog.all<{ sample_id: string; bucket: string; upscaled: boolean; written: boolean }>(
    `SELECT a.id AS sample_id,
            CAST(json_extract(r.result, '$.bucket[0]') AS INTEGER) || 'x' || CAST(json_extract(r.result, '$.bucket[1]') AS INTEGER) AS bucket,
            CAST(r.result->>'upscaled' AS BOOLEAN) AS upscaled,
            CAST(r.result->>'written' AS BOOLEAN) AS written
       FROM active a
       JOIN files f ON f.sample_id = a.id AND f.role = 'image'
       JOIN file_status fs ON fs.uri = f.uri AND fs.run_id = $2 AND fs.sha256 IS NOT NULL
       JOIN step_results r ON r.content_hash = fs.sha256 AND r.step = 'bucket' AND r.params_hash = $1 AND r.ok
      ORDER BY a.ord`,
    [paramsHash, ctx.runId],
  );
}

/** Images per bucket, counting only images that got a file (those are what training sees). */
function countBuckets(rows: Array<{ bucket: string; written: boolean }>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of rows) if (r.written) counts.set(r.bucket, (counts.get(r.bucket) ?? 0) + 1);
  return counts;
}

/** Replace the run's `small_bucket` rows: one per sample in a bucket holding fewer than batch_size images. */
async function writeSmallBuckets(ctx: StepContext, params: BucketParams, paramsHash: string): Promise<void> {
  const rows = await sampleBuckets(ctx, paramsHash);
  const counts = countBuckets(rows);
  const issues = rows
    .filter((r) => r.written && (counts.get(r.bucket) ?? 0) < params.batch_size)
    .map((r) => {
      const n = counts.get(r.bucket)!;
      return {
        sample_id: r.sample_id,
        type: 'small_bucket',
        score: 1 - n / params.batch_size,
        flagged: true,
        evidence: { bucket: r.bucket, images: n, batch_size: params.batch_size },
        step: 'bucket',
        source: 'imgsift',
        run_id: ctx.runId,
      };
    });
  await ctx.catalog.transaction(async (tx) => {
    await tx.run(`DELETE FROM issues WHERE step = 'bucket' AND type = 'small_bucket' AND sample_id IN (SELECT id FROM active)`);
    if (issues.length) await tx.append('issues', COLUMNS.issues, issues);
  });
}

/** Build-summary figures: images per bucket (largest first), small buckets, refused upscales. */
async function bucketStats(ctx: StepContext, params: BucketParams, paramsHash: string): Promise<StepStats> {
  const rows = await sampleBuckets(ctx, paramsHash);
  const counts = countBuckets(rows);
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const small = sorted.filter(([, n]) => n < params.batch_size);
  return {
    'images bucketed': rows.filter((r) => r.written).length,
    buckets: counts.size,
    'needs upscale (no file)': rows.filter((r) => r.upscaled && !r.written).length,
    upscaled: rows.filter((r) => r.upscaled && r.written).length,
    [`buckets under batch size ${params.batch_size}`]: small.length,
    'per bucket': sorted.map(([b, n]) => `${b} ${n}${n < params.batch_size ? '!' : ''}`).join(', '),
  };
}
