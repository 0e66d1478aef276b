import { z } from 'zod';
import { COLUMNS } from '../catalog/catalog.js';
import {
  DEFAULT_MEASURE_OPTIONS,
  DEFAULT_THRESHOLDS,
  QUALITY_ISSUE_TYPES,
  measureQuality,
  scoreOddSize,
  scoreQuality,
  type MeasureOptions,
  type QualityThresholds,
} from '../image/quality.js';
import type { MapStep, StepContext, StepStats } from './types.js';

const unit = (d: number) => z.number().min(0).max(1).default(d);
const positive = (d: number) => z.number().positive().default(d);
const count = (d: number) => z.number().int().min(0).default(d);

/**
 * Parameters of the `quality` step. Defaults of the cleanvision issues are cleanvision's; thresholds of
 * cleanvision issues are in cleanvision's own "low = bad" score (an image is flagged below them).
 * The resolution and format rules of seed 003 are off until set (`min_side: 512`,
 * `allowed_formats: [png, jpg, webp]`).
 */
export const QualityParams = z
  .object({
    dark_threshold: unit(DEFAULT_THRESHOLDS.dark),
    light_threshold: unit(DEFAULT_THRESHOLDS.light),
    odd_aspect_ratio_threshold: unit(DEFAULT_THRESHOLDS.oddAspectRatio),
    low_information_threshold: unit(DEFAULT_THRESHOLDS.lowInformation),
    low_information_normalizing_factor: positive(DEFAULT_THRESHOLDS.lowInformationNormalizingFactor),
    blurry_threshold: unit(DEFAULT_THRESHOLDS.blurry),
    blurry_normalizing_factor: positive(DEFAULT_THRESHOLDS.blurryNormalizingFactor),
    blurry_color_threshold: unit(DEFAULT_THRESHOLDS.blurryColorThreshold),
    /** Longer side of the small grey image the blur measure uses (cleanvision: 64). */
    blurry_max_side: z.number().int().min(3).default(DEFAULT_MEASURE_OPTIONS.blurMaxSide),
    blur_resize: z.enum(['pil', 'libvips']).default(DEFAULT_MEASURE_OPTIONS.blurResize),
    grayscale_tolerance: z.number().int().min(0).max(255).default(DEFAULT_THRESHOLDS.grayscaleTolerance),
    /** Flag images whose sqrt(area) is more than this many times off the dataset median. */
    odd_size_threshold: z.number().min(1).default(DEFAULT_THRESHOLDS.oddSize),
    min_side: count(0),
    min_width: count(0),
    min_height: count(0),
    allowed_formats: z.array(z.string().min(1)).min(1).nullable().default(null),
    underexposed_level: z.number().int().min(0).max(256).default(DEFAULT_MEASURE_OPTIONS.underexposedLevel),
    underexposed_fraction: unit(DEFAULT_THRESHOLDS.underexposedFraction),
    overexposed_level: z.number().int().min(0).max(256).default(DEFAULT_MEASURE_OPTIONS.overexposedLevel),
    overexposed_fraction: unit(DEFAULT_THRESHOLDS.overexposedFraction),
    laplacian_threshold: z.number().min(0).default(DEFAULT_THRESHOLDS.laplacianThreshold),
    /** Decode so the longer side is at most this (0 = full resolution, as cleanvision). */
    max_side: count(DEFAULT_MEASURE_OPTIONS.maxSide),
  })
  .strict();
export type QualityParams = z.infer<typeof QualityParams>;
export type QualityParamsInput = z.input<typeof QualityParams>;

export function measureOptionsFromParams(p: QualityParams): MeasureOptions {
  return {
    maxSide: p.max_side,
    blurMaxSide: p.blurry_max_side,
    blurResize: p.blur_resize,
    underexposedLevel: p.underexposed_level,
    overexposedLevel: p.overexposed_level,
  };
}

export function thresholdsFromParams(p: QualityParams): QualityThresholds {
  return {
    dark: p.dark_threshold,
    light: p.light_threshold,
    oddAspectRatio: p.odd_aspect_ratio_threshold,
    lowInformation: p.low_information_threshold,
    lowInformationNormalizingFactor: p.low_information_normalizing_factor,
    blurry: p.blurry_threshold,
    blurryNormalizingFactor: p.blurry_normalizing_factor,
    blurryColorThreshold: p.blurry_color_threshold,
    grayscaleTolerance: p.grayscale_tolerance,
    oddSize: p.odd_size_threshold,
    minWidth: Math.max(p.min_side, p.min_width),
    minHeight: Math.max(p.min_side, p.min_height),
    allowedFormats: p.allowed_formats,
    underexposedFraction: p.underexposed_fraction,
    overexposedFraction: p.overexposed_fraction,
    laplacianThreshold: p.laplacian_threshold,
  };
}

/**
 * Per-image quality measures and issues (cleanvision's issue types plus seed 003's rules). The
 * per-image issues are returned by `run` (the executor stores them); `odd_size` compares each image
 * with the dataset's median size, so it is written by `afterAll` once every image is measured.
 */
export const qualityStep: MapStep<QualityParams> = {
  kind: 'map',
  name: 'quality',
  version: 1,
  description: 'image quality: dark, light, blurry, low information, odd aspect/size, grayscale, resolution, format, exposure, sharpness',
  params: QualityParams,
  async run(input, params) {
    const measures = await measureQuality(input.bytes, measureOptionsFromParams(params));
    return { result: measures, issues: scoreQuality(measures, thresholdsFromParams(params)) };
  },
  async afterAll(ctx, params, paramsHash) {
    await writeOddSize(ctx, params, paramsHash);
  },
  async stats(ctx, _params, paramsHash) {
    return qualityStats(ctx, paramsHash);
  },
};

/** The active samples' image sizes as measured by this step with these parameters, in ingest order. */
async function measuredSizes(ctx: StepContext, paramsHash: string) {
  return ctx.catalog.all<{ sample_id: string; width: number; height: number }>(
    `SELECT a.id AS sample_id,
            CAST(json_extract(sr.result, '$.width') AS DOUBLE) AS width,
            CAST(json_extract(sr.result, '$.height') AS DOUBLE) AS height
       FROM active a
       JOIN files f ON f.sample_id = a.id AND f.role = 'image'
       JOIN file_status fs ON fs.uri = f.uri
       JOIN step_results sr ON sr.content_hash = fs.sha256 AND sr.step = 'quality' AND sr.params_hash = ? AND sr.ok
      ORDER BY a.ord`,
    [paramsHash],
  );
}

/** Replace the run's `odd_size` rows: one per measured active sample, flagged or not. */
async function writeOddSize(ctx: StepContext, params: QualityParams, paramsHash: string): Promise<void> {
  const sizes = (await measuredSizes(ctx, paramsHash)).filter((s) => s.width > 0 && s.height > 0);
  const issues = scoreOddSize(sizes, params.odd_size_threshold);
  const rows = sizes.map((s, i) => ({
    sample_id: s.sample_id,
    type: 'odd_size',
    score: issues[i].score,
    flagged: issues[i].flagged,
    evidence: issues[i].evidence,
    step: 'quality',
    source: 'imgsift',
    run_id: ctx.runId,
  }));
  await ctx.catalog.transaction(async (tx) => {
    await tx.run(`DELETE FROM issues WHERE step = 'quality' AND type = 'odd_size' AND sample_id IN (SELECT id FROM active)`);
    await tx.append('issues', COLUMNS.issues, rows);
  });
}

/** Flagged images per issue type among the active samples, plus how many were measured. */
async function qualityStats(ctx: StepContext, paramsHash: string): Promise<StepStats> {
  const rows = await ctx.catalog.all<{ type: string; n: bigint | number }>(
    `SELECT type, count(DISTINCT sample_id) AS n FROM issues
      WHERE step = 'quality' AND flagged AND sample_id IN (SELECT id FROM active)
      GROUP BY type`,
  );
  const byType = new Map(rows.map((r) => [r.type, Number(r.n)]));
  const stats: StepStats = { 'images measured': (await measuredSizes(ctx, paramsHash)).length };
  for (const type of QUALITY_ISSUE_TYPES) stats[type] = byType.get(type) ?? 0;
  return stats;
}
