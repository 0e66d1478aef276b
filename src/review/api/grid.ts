import type { DuckDBValue } from '@duckdb/node-api';
import type { Catalog } from '../../catalog/catalog.js';
import { filterSql, issueRowConditions, type SampleFilter, type SqlFragment } from '../decisions.js';

/**
 * The review app's read side: a snapshot of the run's samples laid out for fast grid pages and
 * facet counts, and the SQL of a filter over it.
 *
 * The `active` view (samples NOT EXISTS in drops) and the correlated EXISTS of `filterSql` cost
 * about a second per query at a million samples, far too slow for scrolling. So at start the
 * server materialises two temp tables, in ingest order:
 *   review_grid   (rn, id, split, label, path, dropped) — one row per sample of the run;
 *   review_issues (rn, type, source, score, flagged)     — the issues of those samples.
 * Issues only change when a build runs; the server rebuilds the snapshot when a newer run has
 * finished (see server.ts followNewRun). Tags and decisions change as people review: they are read live from
 * their tables.
 *
 * A grid page is `... WHERE <filter> LIMIT n OFFSET k` without ORDER BY: DuckDB keeps insertion
 * order (rn order) and stops scanning once the page is full. The conditions have exactly the
 * semantics of decisions.ts's `filterSql` (checked by the tests), written as uncorrelated `IN`
 * semi-joins on integers, which DuckDB runs as one hash join.
 */

/** Which samples the grid shows: the run's kept samples, or also the ones its steps dropped. */
export type GridScope = 'active' | 'run';

export interface GridFilter extends SampleFilter {
  scope?: GridScope;
}

const LIST = `(SELECT unnest(from_json(?, '["VARCHAR"]')))`;

function list(v: string | string[]): string[] {
  return Array.isArray(v) ? v : [v];
}

/** Build the snapshot tables for run `runId`. Returns the number of samples in the run. */
export async function buildGridIndex(catalog: Catalog, runId: number): Promise<number> {
  const run = Math.trunc(runId);
  await catalog.run(`CREATE OR REPLACE TEMP TABLE review_grid AS
    SELECT (row_number() OVER (ORDER BY s.ord) - 1)::INTEGER AS rn, s.id, s.split, s.label, s.path,
           s.id IN (SELECT sample_id FROM drops WHERE run_id = ${run}) AS dropped
    FROM samples s WHERE s.seen_run = ${run} ORDER BY s.ord`);
  await catalog.run(`CREATE OR REPLACE TEMP TABLE review_issues AS
    SELECT g.rn, i.type, i.source, i.score, i.flagged FROM issues i JOIN review_grid g ON g.id = i.sample_id
    ORDER BY i.type, g.rn`);
  return catalog.scalar(`SELECT count(*) FROM review_grid`);
}

/**
 * The WHERE condition of a filter over `review_grid g`. Same meaning as filterSql over the run's
 * samples: plain column conditions are filterSql's own; issue, tag and decision conditions are
 * rewritten as semi-joins.
 */
export function gridWhere(filter: GridFilter): SqlFragment {
  const conds: string[] = [];
  const params: DuckDBValue[] = [];
  const add = (f: SqlFragment) => {
    if (f.sql === 'true') return;
    conds.push(f.sql);
    params.push(...f.params);
  };
  if ((filter.scope ?? 'active') === 'active') conds.push('NOT g.dropped');
  add(filterSql({ ids: filter.ids, split: filter.split, label: filter.label, search: filter.search }, 'g'));

  const hasRange = filter.scoreMin !== undefined || filter.scoreMax !== undefined;
  const issueFields = filter.issue !== undefined || filter.source !== undefined || hasRange;
  if (issueFields || filter.flagged === true) {
    const ic = issueRowConditions(filter);
    conds.push(`g.rn IN (SELECT rn FROM review_issues WHERE ${ic.sql})`);
    params.push(...ic.params);
  }
  if (filter.flagged === false) {
    if (issueFields) add(filterSql({ flagged: false, issue: filter.issue }, 'g')); // throws the same UsageError
    conds.push(`g.rn NOT IN (SELECT rn FROM review_issues WHERE flagged)`);
  }
  if (filter.tag !== undefined) {
    conds.push(`g.id IN (SELECT sample_id FROM tags WHERE tag IN ${LIST})`);
    params.push(JSON.stringify(list(filter.tag)));
  }
  if (filter.decision !== undefined) {
    const wanted = list(filter.decision);
    const actions = wanted.filter((d) => d !== 'none');
    const parts: string[] = [];
    if (actions.length) {
      parts.push(`g.id IN (SELECT sample_id FROM decisions WHERE action IN ${LIST})`);
      params.push(JSON.stringify(actions));
    }
    if (wanted.includes('none')) parts.push(`g.id NOT IN (SELECT sample_id FROM decisions)`);
    conds.push(parts.length ? `(${parts.join(' OR ')})` : 'false');
  }
  return { sql: conds.length ? conds.join(' AND ') : 'true', params };
}

/** The filter without the fields of one facet, for counts that show the alternatives to a choice. */
export function without(filter: GridFilter, ...keys: Array<keyof GridFilter>): GridFilter {
  const f: GridFilter = { ...filter };
  for (const k of keys) delete f[k];
  return f;
}

/** The SampleFilter that decisions.ts applies a change to: the same samples as the grid shows. */
export function toSampleFilter(filter: GridFilter): SampleFilter {
  const { scope, ...rest } = filter;
  return { ...rest, scope: scope ?? 'active' };
}
