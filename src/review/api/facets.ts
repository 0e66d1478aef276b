import type { DuckDBValue } from '@duckdb/node-api';
import type { ReviewContext } from './context.js';
import { filterKey } from './filters.js';
import type { GridFilter } from './grid.js';
import { gridWhere, without } from './grid.js';
import { countSamples } from './samples.js';

/** A facet value and how many samples the view would have if it were chosen. `null`: no value. */
export interface FacetCount {
  value: string | null;
  count: number;
}

export interface Facets {
  /** Samples the filter selects. */
  total: number;
  split: FacetCount[];
  label: FacetCount[];
  issue: FacetCount[];
  source: FacetCount[];
  tag: FacetCount[];
  decision: FacetCount[];
  /** Samples of the run kept vs dropped by its steps (the view's other filters applied). */
  dropped: { kept: number; dropped: number };
}

/** Label values listed at most (ImageNet has 1000 classes; the sidebar shows the biggest). */
export const MAX_FACET_VALUES = 1000;

/**
 * Counts per facet value. Each facet is counted with the other facets' choices applied but not its
 * own (as in the FiftyOne sidebar), so a chosen split still shows how many the other splits have.
 * Issue and source counts mean "samples that would match with this issue type (source)", with the
 * rest of the issue fields (score range, the other one of type/source) kept.
 */
export function facets(ctx: ReviewContext, filter: GridFilter): Promise<Facets> {
  return ctx.cached(`facets:${filterKey(filter)}`, () => computeFacets(ctx, filter));
}

async function computeFacets(ctx: ReviewContext, filter: GridFilter): Promise<Facets> {
  const { catalog } = ctx;
  const column = async (col: 'split' | 'label', f: GridFilter): Promise<FacetCount[]> => {
    const w = gridWhere(f);
    return counts(ctx, `SELECT g.${col} AS value, count(*) AS n FROM review_grid g WHERE ${w.sql} GROUP BY 1 ORDER BY n DESC, 1 LIMIT ${MAX_FACET_VALUES}`, w.params);
  };
  const issueFacet = async (field: 'type' | 'source'): Promise<FacetCount[]> => {
    const rest = without(filter, 'issue', 'source', 'scoreMin', 'scoreMax', 'flagged');
    const w = gridWhere(rest);
    const ic: string[] = [];
    const params: DuckDBValue[] = [];
    const hasRange = filter.scoreMin !== undefined || filter.scoreMax !== undefined;
    if (!hasRange || filter.flagged === true) ic.push('flagged');
    const other = field === 'type' ? filter.source : filter.issue;
    if (other !== undefined) {
      ic.push(`${field === 'type' ? 'source' : 'type'} IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`);
      params.push(JSON.stringify(Array.isArray(other) ? other : [other]));
    }
    if (filter.scoreMin !== undefined) {
      ic.push('score >= ?');
      params.push(filter.scoreMin);
    }
    if (filter.scoreMax !== undefined) {
      ic.push('score <= ?');
      params.push(filter.scoreMax);
    }
    const scoped = w.sql === 'true' ? '' : ` AND rn IN (SELECT g.rn FROM review_grid g WHERE ${w.sql})`;
    return counts(
      ctx,
      `SELECT ${field} AS value, count(DISTINCT rn) AS n FROM review_issues WHERE ${ic.length ? ic.join(' AND ') : 'true'}${scoped}
       GROUP BY 1 ORDER BY n DESC, 1`,
      [...params, ...w.params],
    );
  };
  const total = await countSamples(ctx, filter);
  const split = await column('split', without(filter, 'split'));
  const label = await column('label', without(filter, 'label'));
  const issue = await issueFacet('type');
  const source = await issueFacet('source');
  const tw = gridWhere(without(filter, 'tag'));
  const tag = await counts(
    ctx,
    `SELECT tag AS value, count(*) AS n FROM tags WHERE sample_id IN (SELECT g.id FROM review_grid g WHERE ${tw.sql}) GROUP BY 1 ORDER BY n DESC, 1`,
    tw.params,
  );
  const dw = gridWhere(without(filter, 'decision'));
  const decision = await counts(
    ctx,
    `SELECT coalesce(d.action, 'none') AS value, count(*) AS n FROM review_grid g LEFT JOIN decisions d ON d.sample_id = g.id
     WHERE ${dw.sql} GROUP BY 1 ORDER BY n DESC, 1`,
    dw.params,
  );
  const sw = gridWhere({ ...filter, scope: 'run' });
  const byDrop = await catalog.all<{ dropped: boolean; n: bigint }>(
    `SELECT g.dropped, count(*) AS n FROM review_grid g WHERE ${sw.sql} GROUP BY 1`,
    sw.params,
  );
  const dropped = { kept: 0, dropped: 0 };
  for (const r of byDrop) dropped[r.dropped ? 'dropped' : 'kept'] = Number(r.n);
  return { total, split, label, issue, source, tag, decision, dropped };
}

async function counts(ctx: ReviewContext, sql: string, params: DuckDBValue[]): Promise<FacetCount[]> {
  const rows = await ctx.catalog.all<{ value: string | null; n: bigint }>(sql, params);
  return rows.map((r) => ({ value: r.value, count: Number(r.n) }));
}
