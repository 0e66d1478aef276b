import { z } from 'zod';
import { alignPair, AlignParamsSchema, type AlignResult } from '../image/align.js';
import type { Json, MapStep } from './types.js';

/** The alignment parameters plus the two roles read (default `input` and `output`). */
export const AlignStepParams = AlignParamsSchema.extend({
  input: z.string().min(1).default('input'),
  output: z.string().min(1).default('output'),
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

  async run(input, params) {
    const a = input.roles[params.input];
    const b = input.roles[params.output];
    if (!a || !b) throw new Error(`align: sample ${input.id} lacks role ${!a ? params.input : params.output}`);
    const { input: _i, output: _o, ...alignParams } = params;
    const r: AlignResult = await alignPair(a.bytes, b.bytes, alignParams);
    const result = r as unknown as Json;
    if (r.ok) return { result };
    return {
      result,
      issues: [{ type: 'align_failed', score: 1, flagged: true, evidence: { reason: r.reason, detail: r.detail } }],
    };
  },
};
