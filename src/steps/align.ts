import { z } from 'zod';
import { alignPair, AlignParamsSchema, type AlignResult } from '../image/align.js';
import { sampleKeySql, type PlannedMapStep } from '../exec/map-phase.js';
import type { Json, MapStep, StepContext, StepStats } from './types.js';

/** The alignment parameters plus the two roles read (default `input` and `output`). */
export const AlignStepParams = AlignParamsSchema.extend({
  input: z.string().min(1).default('input'),
  output: z.string().min(1).default('output'),
  /**
   * Copy each sample's alignment figures (ok, reason, matches, inliers, inlier ratio, scale,
   * rotation, shift) into its metadata under this key after the step, so exports (a webdataset
   * `meta.json`, a manifest) carry them. Not part of the cache key.
   */
  meta: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a metadata key: letters, digits and _').optional(),
}).strict();
export type AlignStepParams = z.infer<typeof AlignStepParams>;

/**
 * `align`: the homography from an edit pair's output onto its input (see src/image/align.ts). A pair
 * that cannot be aligned gets result `{ ok: false, reason, detail }` and one flagged issue of type
 * `align_failed` whose evidence holds the reason (decode_failed, insufficient_keypoints,
 * too_few_matches, homography_failed, low_inlier_ratio, degenerate_homography); the run goes on.
 */
export const alignStep: MapStep<AlignStepParams> = {
  kind: 'map',
  name: 'align',
  version: 1,
  description: 'Homography of an image-edit pair (output onto input): ORB matches, ratio test, RANSAC, quality gate',
  params: AlignStepParams,
  roles: (p) => [p.input, p.output],
  cacheKey: ({ meta: _m, ...rest }) => rest,

  async run(input, params) {
    const a = input.roles[params.input];
    const b = input.roles[params.output];
    if (!a || !b) throw new Error(`align: sample ${input.id} lacks role ${!a ? params.input : params.output}`);
    const { input: _i, output: _o, meta: _m, ...alignParams } = params;
    const r: AlignResult = await alignPair(a.bytes, b.bytes, alignParams);
    const result = r as unknown as Json;
    if (r.ok) return { result };
    return {
      result,
      issues: [{ type: 'align_failed', score: 1, flagged: true, evidence: { reason: r.reason, detail: r.detail } }],
    };
  },

  async afterAll(ctx, params, paramsHash) {
    if (params.meta) await copyToMeta(ctx, params, paramsHash, params.meta);
  },

  async stats(ctx, params, paramsHash) {
    return alignStats(await alignRows(ctx, params, paramsHash));
  },
};

/** Figures of one sample's alignment, as copied into metadata and read for the stats. */
export interface AlignFigures {
  ok: boolean;
  reason: string | null;
  good_matches: number | null;
  inliers: number | null;
  inlier_ratio: number | null;
}

/** SQL selecting (sample_id, result) of the run's active samples for this step and parameters. */
function resultSql(params: AlignStepParams, paramsHash: string): string {
  // Two roles: keyed per sample in sample_keys (the catalog names of the roles do not matter here).
  const planned: PlannedMapStep = { step: alignStep as MapStep<unknown>, params, paramsHash, roles: [params.input, params.output] };
  return `SELECT k.sample_id, sr.result FROM (${sampleKeySql(planned)}) k
    JOIN step_results sr ON sr.content_hash = k.key AND sr.step = 'align' AND sr.params_hash = '${paramsHash}' AND sr.ok`;
}

async function alignRows(ctx: StepContext, params: AlignStepParams, paramsHash: string): Promise<AlignFigures[]> {
  return ctx.catalog.all<AlignFigures>(
    `SELECT CAST(result->>'ok' AS BOOLEAN) AS ok, result->>'reason' AS reason,
            CAST(result->>'good_matches' AS DOUBLE) AS good_matches, CAST(result->>'inliers' AS DOUBLE) AS inliers,
            CAST(result->>'inlier_ratio' AS DOUBLE) AS inlier_ratio
       FROM (${resultSql(params, paramsHash)})`,
  );
}

/**
 * The seed's alignment statistics: pairs attempted (both files read and the step ran), succeeded
 * and failed with percentages, the mean inlier ratio and ratio-test matches of the successes, and
 * failures by reason (`failed: <reason>`).
 */
export function alignStats(rows: AlignFigures[]): StepStats {
  const ok = rows.filter((r) => r.ok);
  const pct = (n: number) => (rows.length ? Math.round((n / rows.length) * 1000) / 10 : 0);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  const stats: StepStats = {
    attempted: rows.length,
    succeeded: ok.length,
    'succeeded %': pct(ok.length),
    'alignment failed': rows.length - ok.length,
    'alignment failed %': pct(rows.length - ok.length),
    'avg inlier ratio': Math.round(mean(ok.map((r) => r.inlier_ratio ?? 0)) * 1000) / 1000,
    'avg matches': Math.round(mean(ok.map((r) => r.good_matches ?? 0))),
  };
  const reasons = new Map<string, number>();
  for (const r of rows) if (!r.ok) reasons.set(r.reason ?? 'unknown', (reasons.get(r.reason ?? 'unknown') ?? 0) + 1);
  for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) stats[`failed: ${reason}`] = n;
  return stats;
}

/** Write each sample's alignment figures into `meta.<key>` (samples without a result lose a stale copy). */
async function copyToMeta(ctx: StepContext, params: AlignStepParams, paramsHash: string, key: string): Promise<void> {
  const figures = `json_object('ok', CAST(r.result->>'ok' AS BOOLEAN), 'reason', r.result->>'reason',
      'good_matches', r.result->'good_matches', 'inliers', r.result->'inliers', 'inlier_ratio', r.result->'inlier_ratio',
      'scale', r.result->'scale', 'rotation', r.result->'rotation', 'shift', r.result->'shift')`;
  await ctx.catalog.run(
    `UPDATE samples SET meta = json_merge_patch(coalesce(samples.meta, '{}'), json_object('${key}', ${figures}))
       FROM (${resultSql(params, paramsHash)}) r WHERE samples.id = r.sample_id`,
  );
}
