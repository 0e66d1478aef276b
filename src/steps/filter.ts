import { z } from 'zod';
import type { ReduceStep, StepContext, StepStats } from './types.js';
import { syncDrops } from '../catalog/run-view.js';

/**
 * Remove samples from the dataset, recording why. Each `drop` entry is one of:
 *  - an issue type (`corrupt`, `duplicate`, `leak`, `dark`, ...): samples with that issue flagged;
 *  - `failed`: samples a step could not process; `unreadable`: files that could not be read;
 *  - `tag:<name>`: samples carrying that review tag;
 *  - `decision:<action>`: samples with that review decision (e.g. `decision:remove`).
 * `where` keeps only samples matching a SQL condition over the sample's columns
 * (id, path, split, label, text, group_key, meta — e.g. `meta->>'edit_type' IN ('add','remove')`).
 * Dropped samples stay in the catalog; they leave the run's `active` view.
 */
export const FilterParams = z
  .object({
    drop: z.array(z.string().min(1)).default([]),
    where: z.string().min(1).optional(),
  })
  .strict();
export type FilterParams = z.infer<typeof FilterParams>;

export const filterStep: ReduceStep<FilterParams> = {
  kind: 'reduce',
  name: 'filter',
  description: 'drop samples by issue type, tag, review decision or a SQL condition; records the reason',
  params: FilterParams,
  async run(ctx: StepContext, params: FilterParams): Promise<StepStats> {
    const { catalog } = ctx;
    const stats: StepStats = {};
    const before = await catalog.scalar(`SELECT count(*) FROM active`);
    for (const rule of params.drop) {
      const n = await dropBy(ctx, rule);
      stats[`dropped: ${rule}`] = n;
    }
    if (params.where) {
      const reason = `where: ${params.where}`;
      const n = await insertDrops(
        ctx,
        `SELECT id FROM active WHERE NOT coalesce((${params.where}), false)`,
        reason,
      ).catch((err: Error) => {
        throw new Error(`filter: invalid 'where' condition ${JSON.stringify(params.where)}: ${err.message.split('\n')[0]}`);
      });
      stats['dropped: where'] = n;
    }
    const after = await catalog.scalar(`SELECT count(*) FROM active`);
    stats['samples before'] = before;
    stats['samples after'] = after;
    return stats;
  },
};

async function dropBy(ctx: StepContext, rule: string): Promise<number> {
  if (rule.startsWith('tag:')) {
    return insertDrops(ctx, `SELECT DISTINCT sample_id FROM tags WHERE tag = $2`, rule, rule.slice(4));
  }
  if (rule.startsWith('decision:')) {
    return insertDrops(ctx, `SELECT sample_id FROM decisions WHERE action = $2`, rule, rule.slice(9));
  }
  return insertDrops(ctx, `SELECT DISTINCT sample_id FROM issues WHERE flagged AND type = $2`, rule, rule);
}

/**
 * Record a drop for every active sample whose id `select` returns; returns how many were dropped.
 * In `select`, $2 is `arg`.
 */
async function insertDrops(ctx: StepContext, select: string, reason: string, arg?: string): Promise<number> {
  const { catalog, runId } = ctx;
  const params = arg === undefined ? [reason] : [reason, arg];
  const before = await catalog.scalar(`SELECT count(*) FROM drops WHERE run_id = ${runId}`);
  await catalog.run(
    `INSERT INTO drops (sample_id, reason, step, run_id)
     SELECT a.id, $1, 'filter', ${runId} FROM active a WHERE a.id IN (${select})`,
    params,
  );
  await syncDrops(catalog, runId);
  const after = await catalog.scalar(`SELECT count(*) FROM drops WHERE run_id = ${runId}`);
  return after - before;
}
