import { z } from 'zod';
import { EDIT_MASK_PRESETS, EditMaskParamsSchema, editMask } from '../image/edit-mask.js';
import type { IssueRecord, MapOutput, MapStep } from './types.js';

/**
 * `preset` (default or seed) gives every mask parameter; keys set next to it override the preset's.
 * `input`/`output` name the roles read, `to` the role of the mask written.
 */
/** Every mask parameter, optional and without its default (the preset supplies it). */
const overrideShape = Object.fromEntries(
  Object.entries(EditMaskParamsSchema.shape).map(([k, v]) => [k, (v as unknown as z.ZodDefault<z.ZodType>).unwrap().optional()]),
) as { [K in keyof typeof EditMaskParamsSchema.shape]: z.ZodOptional<z.ZodType<z.infer<typeof EditMaskParamsSchema>[K]>> };

export const EditMaskStepParams = z
  .object(overrideShape)
  .extend({
    preset: z.enum(['default', 'seed']).default('default'),
    input: z.string().min(1).default('input'),
    output: z.string().min(1).default('output'),
    to: z.string().min(1).default('mask'),
  })
  .strict()
  .transform(({ preset, input, output, to, ...overrides }) => {
    const set = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
    return { input, output, to, mask: EditMaskParamsSchema.parse({ ...EDIT_MASK_PRESETS[preset], ...set }) };
  });
export type EditMaskStepParams = z.infer<typeof EditMaskStepParams>;

/**
 * `edit_mask`: which input pixels the edit changed (src/image/edit-mask.ts), written as a derived
 * single-channel 0/255 PNG in input coordinates (role `mask` unless `to:` says otherwise). Reads the
 * homography from the `align` step; an unaligned pair gets `{ ok: false, skipped: 'align_failed' }` and
 * no file (align already raised the issue). Issues: `edit_mask_empty` (flagged: no visible edit) and
 * `edit_mask_border` (note: the mask reaches the border or the output's footprint edge).
 */
export const editMaskStep: MapStep<EditMaskStepParams> = {
  kind: 'map',
  name: 'edit_mask',
  version: 1,
  description: 'Edit mask of an aligned image-edit pair: warp, tone fit, difference, morphology, footprint cut, largest components',
  params: EditMaskStepParams as unknown as z.ZodType<EditMaskStepParams>,
  uses: ['align'],
  roles: (p) => [p.input, p.output],

  async run(input, params): Promise<MapOutput> {
    const align = input.upstream.align as { ok?: boolean; homography?: number[] } | undefined;
    if (!align || align.ok !== true || !Array.isArray(align.homography)) {
      return { result: { ok: false, skipped: align ? 'align_failed' : 'align_missing' } };
    }
    const a = input.roles[params.input];
    const b = input.roles[params.output];
    if (!a || !b) throw new Error(`edit_mask: sample ${input.id} lacks role ${!a ? params.input : params.output}`);
    const m = await editMask(a.bytes, b.bytes, align.homography, params.mask);
    const issues: IssueRecord[] = [];
    if (m.components === 0) issues.push({ type: 'edit_mask_empty', score: 1, flagged: true, evidence: { coverage: 0 } });
    if (m.touchesBorder) issues.push({ type: 'edit_mask_border', score: 0.5, flagged: false, evidence: { coverage: m.coverage } });
    return {
      result: {
        ok: true,
        coverage: m.coverage,
        components: m.components,
        touches_border: m.touchesBorder,
        footprint: m.footprint,
        width: m.width,
        height: m.height,
        tone_gain: m.tone.gain,
        tone_offset: m.tone.offset,
      },
      issues,
      files: [{ role: params.to, ext: 'png', bytes: m.png }],
    };
  },
};
