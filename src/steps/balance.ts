import { z } from 'zod';
import { uprightSize } from '../image/bucket-resize.js';
import { readUri } from '../util/uri.js';
import type { ReduceStep, StepContext, StepStats } from './types.js';

/**
 * Seed 003's "Dataset Balancing": the shares of portrait, landscape and square images (upright size)
 * and of labels against target bands (default the seed's 30–40 % / 30–40 % / 20–40 %), and exposure
 * balance by the seed's histogram rule (an image is balanced when its shares of pixels below 50 and
 * from 200 up differ by under 10 %; read from the `quality` step's under/overexposed measures). The
 * table goes to the build summary; a share outside its band is an attention item (exit 1).
 * Counts original samples only (augmented copies mirror their parents).
 *
 *   - balance: { skip_labels: [reg], labels: { closeup: [0.2, 0.3], medium: [0.4, 0.5] } }
 */
const band = z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).refine((b) => b[0] <= b[1], 'a band is [low, high]');

export const BalanceParams = z
  .object({
    aspect: z
      .object({ portrait: band.default([0.3, 0.4]), landscape: band.default([0.3, 0.4]), square: band.default([0.2, 0.4]) })
      .strict()
      .default({ portrait: [0.3, 0.4], landscape: [0.3, 0.4], square: [0.2, 0.4] }),
    /** Longer side / shorter side up to this counts as square. */
    square_tolerance: z.number().min(1).default(1.1),
    /** Target share band per label. */
    labels: z.record(z.string(), band).default({}),
    /** Largest share of images the histogram rule calls unbalanced (null: report only). */
    max_unbalanced_exposure: z.number().min(0).max(1).nullable().default(null),
    /** The seed's rule: |dark share − bright share| under this is balanced. */
    exposure_tolerance: z.number().min(0).max(1).default(0.1),
    skip_labels: z.array(z.string().min(1)).default([]),
  })
  .strict();
export type BalanceParams = z.infer<typeof BalanceParams>;

export type AspectClass = 'portrait' | 'landscape' | 'square';

export function aspectClass(w: number, h: number, squareTolerance: number): AspectClass {
  if (Math.max(w, h) / Math.min(w, h) <= squareTolerance) return 'square';
  return h > w ? 'portrait' : 'landscape';
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const bandText = (b: [number, number]) => `${Math.round(b[0] * 100)}–${Math.round(b[1] * 100)}%`;

export const balanceStep: ReduceStep<BalanceParams> = {
  kind: 'reduce',
  name: 'balance',
  description: "seed 003's balance: aspect and label shares against target bands, exposure by the histogram rule",
  params: BalanceParams,
  async run(ctx: StepContext, params: BalanceParams): Promise<StepStats> {
    const rows = (await ctx.catalog.all<{ id: string; label: string | null; uri: string | null; dark: number | null; bright: number | null }>(
      `SELECT a.id, a.label, f.uri,
              (SELECT TRY_CAST(json_extract(i.evidence, '$.value') AS DOUBLE) FROM issues i WHERE i.sample_id = a.id AND i.step = 'quality' AND i.type = 'underexposed' LIMIT 1) AS dark,
              (SELECT TRY_CAST(json_extract(i.evidence, '$.value') AS DOUBLE) FROM issues i WHERE i.sample_id = a.id AND i.step = 'quality' AND i.type = 'overexposed' LIMIT 1) AS bright
       FROM active a LEFT JOIN files f ON f.sample_id = a.id AND f.role = 'image'
       WHERE a.parent_id IS NULL ORDER BY a.id`,
    )).filter((r) => r.label === null || !params.skip_labels.includes(r.label));

    const aspects: Record<AspectClass, number> = { portrait: 0, landscape: 0, square: 0 };
    let sized = 0;
    for (const r of rows) {
      if (!r.uri) continue;
      try {
        const [w, h] = await uprightSize(await readUri(r.uri));
        aspects[aspectClass(w, h, params.square_tolerance)]++;
        sized++;
      } catch {
        // An unreadable image has no aspect; the probe step reports it.
      }
    }
    const stats: StepStats = { images: rows.length };
    const attention: string[] = [];
    const check = (name: string, n: number, total: number, b: [number, number]) => {
      const share = total ? n / total : 0;
      const ok = share >= b[0] - 1e-9 && share <= b[1] + 1e-9;
      stats[name] = `${n} (${pct(share)}, target ${bandText(b)})${ok ? '' : ' OUT OF BAND'}`;
      if (!ok) attention.push(`${name} ${pct(share)} outside ${bandText(b)}`);
    };
    for (const k of ['portrait', 'landscape', 'square'] as const) check(`aspect ${k}`, aspects[k], sized, params.aspect[k]);
    for (const [label, b] of Object.entries(params.labels).sort()) {
      check(`label ${label}`, rows.filter((r) => r.label === label).length, rows.length, b);
    }

    const measured = rows.filter((r) => r.dark !== null && r.bright !== null);
    if (measured.length) {
      const unbalanced = measured.filter((r) => Math.abs(r.dark! - r.bright!) >= params.exposure_tolerance).length;
      const share = unbalanced / measured.length;
      const limit = params.max_unbalanced_exposure;
      const ok = limit === null || share <= limit + 1e-9;
      stats['exposure unbalanced'] = `${unbalanced} of ${measured.length} (${pct(share)}${limit === null ? '' : `, at most ${pct(limit)}`})${ok ? '' : ' OUT OF BAND'}`;
      if (!ok) attention.push(`exposure unbalanced in ${pct(share)} of images (at most ${pct(limit!)})`);
    } else {
      stats['exposure unbalanced'] = 'not measured (run quality first)';
    }
    if (attention.length) stats.attention = `balance: ${attention.join('; ')}`;
    return stats;
  },
};
