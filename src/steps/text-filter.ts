import { z } from 'zod';
import { syncDrops } from '../catalog/run-view.js';
import { FILTER_RULES, makeTextFilter } from '../text/filters.js';
import { TextField, textFieldSql } from '../text/field.js';
import { cacheJoin, fillTextCache } from '../text/text-cache.js';
import { paramsHash } from '../util/hash.js';
import type { ReduceStep, StepContext, StepStats } from './types.js';

/**
 * Drop samples whose prompt fails a named rule (src/text/filters.ts). Each drop is recorded in
 * `drops` with the rule's name as the reason (step `text_filter`), and the summary counts drops
 * per rule. Verdicts are cached per text (text_results), like text_transform's.
 *
 *   - text_filter:
 *       words: { min: 3, max: 77 }
 *       non_latin: { max_share: 0.3 }
 *       urls: true
 *       markup: true
 *       repeated: { times: 3 }
 */

const VERSION = 1;
const Share = z.number().min(0).max(1);

export const TextFilterParams = z
  .object({
    field: TextField,
    /** Empty (or only spaces) text, e.g. after a transform removed every word. Default on. */
    empty: z.boolean().default(true),
    words: z
      .object({ min: z.number().int().min(0).optional(), max: z.number().int().min(1).optional() })
      .strict()
      .refine((w) => w.min === undefined || w.max === undefined || w.min <= w.max, { message: 'words: min above max' })
      .optional(),
    non_latin: z.object({ max_share: Share }).strict().optional(),
    urls: z.boolean().default(false),
    markup: z.boolean().default(false),
    repeated: z.object({ times: z.number().int().min(2).optional(), max_share: Share.optional() }).strict().optional(),
  })
  .strict();
export type TextFilterParams = z.infer<typeof TextFilterParams>;

export const textFilterStep: ReduceStep<TextFilterParams> = {
  kind: 'reduce',
  name: 'text_filter',
  description: 'drop prompts by named rules (empty, word count, non-Latin share, URLs, markup, repeated tokens); counted per rule',
  params: TextFilterParams,
  async run(ctx: StepContext, params: TextFilterParams): Promise<StepStats> {
    const { catalog, runId } = ctx;
    const { field, ...rules } = params;
    const filter = makeTextFilter(rules);
    const key = { step: 'text_filter', paramsHash: paramsHash({ version: VERSION, rules }) };
    // Missing text is checked as '' (so `empty` drops it).
    const text = `coalesce(${textFieldSql(field)}, '')`;
    const before = await catalog.scalar(`SELECT count(*) FROM active`);
    const progress = ctx.reporter.progress('text filter');
    const fill = await fillTextCache(catalog, runId, key, text, (t) => filter(t) ?? '', (n) => {
      ctx.signal?.throwIfAborted();
      progress.tick(n);
    });
    progress.finish();

    const counts = await catalog.all<{ reason: string; n: bigint }>(
      `SELECT c.result AS reason, count(*) AS n FROM (SELECT ${text} AS t FROM active) a
       JOIN text_results c ON ${cacheJoin('a.t')} WHERE c.result <> '' GROUP BY 1`,
      [key.step, key.paramsHash],
    );
    await catalog.run(
      `INSERT INTO drops (sample_id, reason, step, run_id)
       SELECT a.id, c.result, 'text_filter', ${Math.trunc(runId)}
       FROM (SELECT id, ${text} AS t FROM active) a JOIN text_results c ON ${cacheJoin('a.t')} WHERE c.result <> ''`,
      [key.step, key.paramsHash],
    );
    await syncDrops(catalog, runId);

    const stats: StepStats = { 'texts computed': fill.computed, 'texts from cache': fill.cached };
    const byRule = new Map(counts.map((c) => [c.reason, Number(c.n)]));
    for (const rule of FILTER_RULES) if (byRule.has(rule)) stats[`dropped: ${rule}`] = byRule.get(rule)!;
    stats['samples before'] = before;
    stats['samples after'] = await catalog.scalar(`SELECT count(*) FROM active`);
    return stats;
  },
};
