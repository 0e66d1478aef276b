import { z } from 'zod';
import type { ReduceStep, StepContext, StepStats } from './types.js';
import { syncDrops, useRun } from '../catalog/run-view.js';
import { Catalog } from '../catalog/catalog.js';
import { fieldSql, isFieldName } from '../catalog/fields.js';
import { InputError, errorMessage } from '../errors.js';

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
 * A review decision `keep` spares its sample from every issue rule (not from `tag:`/`decision:`).
 * `where` keeps only samples matching a SQL condition over the sample's columns
 * (id, path, split, label, text, group_key, meta — e.g. `meta->>'edit_type' IN ('add','remove')`).
 * `drop_where` lists named SQL conditions; a sample matching one is dropped with the rule's name as
 * the reason (the summary and report count by name, never the SQL).
 * `groups` keeps or drops whole groups (samples sharing the value of field `by`; a sample without
 * one is a group of its own): a group lacking any value listed under `require` (e.g. seed 001's
 * `{domain: [catalog, query]}`: only SKUs with both a shop and a user photo), or with fewer than
 * `min_size` / more than `max_size` members, is dropped whole.
 * Order: `drop`, `where`, `drop_where`, then `groups` over what is left.
 * Dropped samples stay in the catalog; they leave the run's `active` view.
 */
const fieldName = z.string().refine(isFieldName, {
  message: 'a field name: a catalog column (id, label, group, ...) or a metadata path like sku_id or item.style',
});

export const DropWhereRule = z
  .object({
    /** Names the drop reason: letters, digits, `_`, `-`, `.`, `:`. */
    name: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/, 'a rule name of letters, digits, "_", "-", "." or ":"'),
    /** A SQL condition over the sample's columns; matching samples are dropped. */
    sql: z.string().min(1),
  })
  .strict();

export const GroupFilter = z
  .object({
    by: fieldName,
    /** field → values that must each occur in a group for it to be kept. */
    require: z.record(z.string(), z.array(z.union([z.string(), z.number()]).transform(String)).min(1)).optional(),
    min_size: z.number().int().min(1).optional(),
    max_size: z.number().int().min(1).optional(),
  })
  .strict()
  .superRefine((g, ctx) => {
    for (const f of Object.keys(g.require ?? {})) {
      if (!isFieldName(f)) ctx.addIssue({ code: 'custom', path: ['require', f], message: `'${f}' is not a field name` });
    }
    if (!g.require && g.min_size === undefined && g.max_size === undefined) {
      ctx.addIssue({ code: 'custom', message: 'groups needs require, min_size or max_size' });
    }
    if (g.min_size !== undefined && g.max_size !== undefined && g.min_size > g.max_size) {
      ctx.addIssue({ code: 'custom', path: ['max_size'], message: `max_size ${g.max_size} is below min_size ${g.min_size}` });
    }
  });

export const FilterParams = z
  .object({
    drop: z
      .array(z.union([z.string().min(1), z.object({ issue: z.string().min(1), source: z.string().min(1).optional() }).strict()]))
      .default([]),
    where: z.string().min(1).optional(),
    drop_where: z
      .array(DropWhereRule)
      .optional()
      .superRefine((rules, ctx) => {
        const seen = new Set<string>();
        (rules ?? []).forEach((r, i) => {
          if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `rule name '${r.name}' is used twice` });
          seen.add(r.name);
        });
      }),
    groups: GroupFilter.optional(),
  })
  .strict();
export type FilterParams = z.infer<typeof FilterParams>;

export const filterStep: ReduceStep<FilterParams> = {
  kind: 'reduce',
  name: 'filter',
  description: 'drop samples by issue type, tag, review decision, SQL conditions or group rules; records the reason',
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
        throw new InputError(
          { file: 'recipe', field: 'filter.where' },
          `invalid 'where' condition ${JSON.stringify(params.where)}: ${err.message.split('\n')[0]}`,
        );
      });
      stats['dropped: where'] = n;
    }
    for (const [i, rule] of (params.drop_where ?? []).entries()) {
      const n = await insertDrops(ctx, `SELECT id FROM active WHERE coalesce((${rule.sql}), false)`, rule.name).catch(
        (err: Error) => {
          throw new InputError(
            { file: 'recipe', field: `filter.drop_where[${i}].sql` },
            `rule '${rule.name}': invalid SQL condition: ${err.message.split('\n')[0]}`,
          );
        },
      );
      stats[`dropped: ${rule.name}`] = n;
    }
    if (params.groups) Object.assign(stats, await dropGroups(ctx, params.groups));
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
            AND sample_id NOT IN (SELECT sample_id FROM issues WHERE flagged AND type = $2 AND NOT (source = 'imgsift' AND step = 'leaks')))
    EXCEPT (SELECT sample_id FROM decisions WHERE action = 'keep')`; // a reviewer's keep overrides issue flags
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

type GroupFilter = z.infer<typeof GroupFilter>;

/** Drop whole groups that lack a required value or fall outside the size bounds. */
async function dropGroups(ctx: StepContext, g: GroupFilter): Promise<StepStats> {
  const stats: StepStats = {};
  // A sample without a group value is a group of its own (NUL-prefixed so no real value collides).
  const key = (alias: string) => `coalesce(${fieldSql(g.by, alias)}, chr(0) || ${alias}.id)`;
  const dropWhere = (having: string, reason: string, value?: string) =>
    insertDrops(
      ctx,
      `SELECT id FROM active o WHERE ${key('o')} IN (
         SELECT ${key('i')} FROM active i GROUP BY 1 HAVING ${having})`,
      reason,
      ...(value === undefined ? [] : [value]),
    );
  for (const [field, values] of Object.entries(g.require ?? {})) {
    const list = [...new Set(values)];
    const inList = list.map(sqlString).join(', ');
    const reason = `group: require ${field}`;
    const having = `count(DISTINCT ${fieldSql(field, 'i')}) FILTER (WHERE ${fieldSql(field, 'i')} IN (${inList})) < ${list.length}`;
    stats[`dropped: ${reason}`] = await dropWhere(having, reason);
  }
  if (g.min_size !== undefined) stats['dropped: group: min_size'] = await dropWhere(`count(*) < ${g.min_size}`, 'group: min_size');
  if (g.max_size !== undefined) stats['dropped: group: max_size'] = await dropWhere(`count(*) > ${g.max_size}`, 'group: max_size');
  stats['groups kept'] = await ctx.catalog.scalar(`SELECT count(DISTINCT ${key('a')}) FROM active a`);
  return stats;
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** A SQL problem in filter parameters; `path` is relative to the step's parameters. */
export interface FilterSqlProblem {
  path: Array<string | number>;
  message: string;
}

/**
 * Check the SQL of a filter's `where` and `drop_where` rules without any data: each condition is
 * planned (EXPLAIN) against an empty in-memory catalog of the current schema, so unknown columns,
 * functions and syntax errors surface before ingest. Returns one problem per bad condition.
 */
export async function checkFilterSql(params: FilterParams): Promise<FilterSqlProblem[]> {
  const conditions: Array<{ path: Array<string | number>; what: string; sql: string }> = [];
  if (params.where) conditions.push({ path: ['where'], what: "'where'", sql: params.where });
  (params.drop_where ?? []).forEach((r, i) => conditions.push({ path: ['drop_where', i, 'sql'], what: `rule '${r.name}'`, sql: r.sql }));
  if (conditions.length === 0) return [];
  const catalog = await Catalog.open(':memory:');
  try {
    await useRun(catalog, 1);
    const out: FilterSqlProblem[] = [];
    for (const c of conditions) {
      try {
        await catalog.run(`EXPLAIN SELECT id FROM active WHERE coalesce((${c.sql}), false)`);
      } catch (err) {
        out.push({ path: c.path, message: `${c.what}: invalid SQL condition: ${errorMessage(err).split('\n')[0]}` });
      }
    }
    return out;
  } finally {
    catalog.close();
  }
}

/**
 * `checkFilterSql` over every filter step of a recipe, with paths from the recipe's top
 * (`steps[i].filter.drop_where[j].sql`) so the loader can name the line. Meant to run at load,
 * before ingest.
 */
export async function recipeFilterSqlProblems(
  steps: ReadonlyArray<{ name: string; params: unknown }>,
): Promise<FilterSqlProblem[]> {
  const out: FilterSqlProblem[] = [];
  for (const [i, s] of steps.entries()) {
    if (s.name !== 'filter') continue;
    for (const p of await checkFilterSql(s.params as FilterParams)) out.push({ path: ['steps', i, 'filter', ...p.path], message: p.message });
  }
  return out;
}
