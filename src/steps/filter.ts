import { z } from 'zod';
import type { ReduceStep, StepContext, StepStats } from './types.js';
import { syncDrops } from '../catalog/run-view.js';

/**
 * Remove samples from the dataset, recording why. Each `drop` entry is one of:
 *  - an issue type (`corrupt`, `duplicate`, `leak`, `dark`, ...): samples with that issue flagged;
 *  - `failed`: samples a step could not process; `unreadable`: files that could not be read;
 *  - `tag:<name>`: samples carrying that review tag;
 *  - `decision:<action>`: samples with that review decision (e.g. `decision:remove`).
 *  - `{issue: <type>, source: <tool>}`: that issue type from one source only (`imgsift` or an
 *    imported tool such as `visual_layer`), e.g. `{issue: duplicate, source: imgsift}`.
 * Two rules keep cleaning from losing a picture altogether:
 *  - a `leak` issue drops its sample only while a leaked twin on the other side is still in;
 *  - an imported duplicate or leak flag (source other than imgsift) never drops the copy imgsift
 *    kept of a duplicate cluster, nor the twin a leak removal relies on: a review decision
 *    (`decision:remove`) can.
 * `where` keeps only samples matching a SQL condition over the sample's columns
 * (id, path, split, label, text, group_key, meta — e.g. `meta->>'edit_type' IN ('add','remove')`).
 * Dropped samples stay in the catalog; they leave the run's `active` view.
 */
export const FilterParams = z
  .object({
    drop: z
      .array(z.union([z.string().min(1), z.object({ issue: z.string().min(1), source: z.string().min(1).optional() }).strict()]))
      .default([]),
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
    for (const entry of params.drop) {
      const rule = typeof entry === 'string' ? { issue: entry } : entry;
      const name = typeof entry === 'string' ? entry : `${entry.issue}${entry.source ? ` (source ${entry.source})` : ''}`;
      const { dropped, spared } = await dropBy(ctx, rule);
      stats[`dropped: ${name}`] = dropped;
      if (spared) stats[`kept despite ${name}: last copy or imgsift's kept copy`] = spared;
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

/** Imported flags of these types speak about copies, which imgsift's own clusters decide. */
const COPY_TYPES = `(type LIKE '%dup%' OR type LIKE '%leak%')`;

async function dropBy(ctx: StepContext, rule: { issue: string; source?: string }): Promise<{ dropped: number; spared: number }> {
  const r = rule.issue;
  if (r.startsWith('tag:')) {
    return { dropped: await insertDrops(ctx, `SELECT DISTINCT sample_id FROM tags WHERE tag = $2`, r, r.slice(4)), spared: 0 };
  }
  if (r.startsWith('decision:')) {
    return { dropped: await insertDrops(ctx, `SELECT sample_id FROM decisions WHERE action = $2`, r, r.slice(9)), spared: 0 };
  }
  const run = Math.trunc(ctx.runId);
  const reason = rule.source ? `${r} (source ${rule.source})` : r;
  const bySource = rule.source ? `AND source = $3` : '';
  const flagged = `SELECT DISTINCT sample_id FROM issues WHERE flagged AND type = $2 ${bySource}`;
  // Imported copy flags: not on imgsift's kept copy of a cluster nor on a leak's other side.
  const protectedIds = `SELECT sample_id FROM dup_clusters WHERE run_id = ${run} AND kept
    UNION SELECT train_id FROM leak_pairs WHERE run_id = ${run} AND test_id IN (SELECT sample_id FROM issues WHERE step = 'leaks' AND source = 'imgsift')
    UNION SELECT test_id FROM leak_pairs WHERE run_id = ${run} AND train_id IN (SELECT sample_id FROM issues WHERE step = 'leaks' AND source = 'imgsift')`;
  const vendorOnly = `SELECT sample_id FROM issues WHERE flagged AND type = $2 ${bySource} GROUP BY sample_id
    HAVING bool_and(source <> 'imgsift' AND ${COPY_TYPES})`;
  // A leaked sample goes only while one of its twins is still in the dataset.
  const twinStays = `SELECT l.test_id FROM leak_pairs l JOIN active a ON a.id = l.train_id WHERE l.run_id = ${run}
    UNION SELECT l.train_id FROM leak_pairs l JOIN active a ON a.id = l.test_id WHERE l.run_id = ${run}`;
  const imgsiftLeak = `SELECT sample_id FROM issues WHERE flagged AND type = $2 AND type = 'leak' AND source = 'imgsift' AND step = 'leaks' ${bySource}`;
  const select = `${flagged}
    EXCEPT (SELECT * FROM (${vendorOnly}) v WHERE sample_id IN (${protectedIds}))
    EXCEPT (SELECT * FROM (${imgsiftLeak}) l WHERE sample_id NOT IN (${twinStays})
            AND sample_id NOT IN (SELECT sample_id FROM issues WHERE flagged AND type = $2 AND NOT (source = 'imgsift' AND step = 'leaks')))`;
  const args = rule.source ? [r, rule.source] : [r];
  const candidates = await ctx.catalog.scalar(`SELECT count(*) FROM active WHERE $1::VARCHAR IS NOT NULL AND id IN (${flagged})`, [reason, ...args]);
  const dropped = await insertDrops(ctx, select, reason, ...args);
  return { dropped, spared: candidates - dropped };
}

/**
 * Record a drop for every active sample whose id `select` returns; returns how many were dropped.
 * In `select`, $2, $3... are `args`.
 */
async function insertDrops(ctx: StepContext, select: string, reason: string, ...args: string[]): Promise<number> {
  const { catalog, runId } = ctx;
  const params = [reason, ...args];
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
