import type { DuckDBValue } from '@duckdb/node-api';
import { history, issueRowConditions, reviewStates, type HistoryEntry, type ReviewState } from '../decisions.js';
import { describeMatch } from '../evidence.js';
import { lookupSides, otherRef, parseEvidence, type PairSide } from './pairs.js';
import { ReviewContext } from './context.js';
import { filterKey } from './filters.js';
import type { GridFilter } from './grid.js';
import { gridWhere } from './grid.js';
import { HttpError } from './http.js';

/** One tile of the grid. */
export interface GridItem {
  id: string;
  /** Position in the run's ingest order. */
  rn: number;
  thumb: string;
  label: string | null;
  split: string | null;
  path: string | null;
  dropped: boolean;
  /** Types of the sample's flagged issues, sorted. */
  issues: string[];
  tags: string[];
  decision: ReviewState['decision'];
  /** With a score sort: the score the sample was sorted by (its highest matching issue score). */
  score?: number | null;
}

/**
 * Grid orders: ingest order (default), path, label, or the issue score (highest first, or
 * lowest first). The score of a sample is the highest score of its issues that match the filter's
 * issue fields (type, source, range), or of its flagged issues when the filter names none.
 */
export const SORTS = ['ingest', 'path', 'label', 'score', 'score_asc'] as const;
export type GridSort = (typeof SORTS)[number];

export function sortParam(query: URLSearchParams): GridSort {
  const v = query.get('sort') ?? 'ingest';
  if (!(SORTS as readonly string[]).includes(v)) throw new HttpError(400, `sort must be one of ${SORTS.join(', ')} (got '${v}')`);
  return v as GridSort;
}

/** The FROM clause (with the score join when needed), WHERE and ORDER BY of a sorted, filtered grid. */
interface GridQuery {
  /** `review_grid g`, with the score join `sc` for a score sort. */
  from: string;
  fromParams: DuckDBValue[];
  where: string;
  whereParams: DuckDBValue[];
  order: string;
  scored: boolean;
}

function gridQuery(filter: GridFilter, sort: GridSort): GridQuery {
  const w = gridWhere(filter);
  const scored = sort === 'score' || sort === 'score_asc';
  if (!scored) {
    const order = sort === 'path' ? 'g.path NULLS LAST, g.rn' : sort === 'label' ? 'g.label NULLS LAST, g.rn' : 'g.rn';
    return { from: 'review_grid g', fromParams: [], where: w.sql, whereParams: w.params, order, scored };
  }
  const ic = issueRowConditions(filter);
  return {
    from: `review_grid g LEFT JOIN (SELECT rn, max(score) AS score FROM review_issues WHERE ${ic.sql} GROUP BY rn) sc ON sc.rn = g.rn`,
    fromParams: ic.params,
    where: w.sql,
    whereParams: w.params,
    order: `sc.score ${sort === 'score' ? 'DESC' : 'ASC'} NULLS LAST, g.rn`,
    scored,
  };
}

/**
 * The row numbers of a sorted view, in order. Sorting a million rows costs about a second, so the
 * order is computed once per view and pages are slices of it (see ReviewContext.sortedViews).
 */
function sortedView(ctx: ReviewContext, filter: GridFilter, sort: GridSort): Promise<Int32Array> {
  const key = `${sort}:${filterKey(filter)}`;
  const hit = ctx.sortedViews.get(key);
  if (hit) {
    ctx.sortedViews.delete(key); // most recently used last
    ctx.sortedViews.set(key, hit);
    return hit.rns;
  }
  const q = gridQuery(filter, sort);
  const value = ctx.catalog
    .all<{ rn: number }>(`SELECT g.rn FROM ${q.from} WHERE ${q.where} ORDER BY ${q.order}`, [...q.fromParams, ...q.whereParams])
    .then((rows) => Int32Array.from(rows, (r) => r.rn));
  value.catch(() => ctx.sortedViews.delete(key));
  ctx.sortedViews.set(key, { rns: value, live: filter.tag !== undefined || filter.decision !== undefined });
  while (ctx.sortedViews.size > ReviewContext.SORTED_VIEWS) ctx.sortedViews.delete(ctx.sortedViews.keys().next().value!);
  return value;
}

/** Where sample `id` is in the sorted, filtered grid (0-based), or null when the view lacks it. */
export async function samplePosition(ctx: ReviewContext, filter: GridFilter, sort: GridSort, id: string): Promise<number | null> {
  const rn = await ctx.catalog.one<{ rn: number }>(`SELECT rn FROM review_grid WHERE id = ?`, [id]);
  if (!rn) return null;
  const pos = (await sortedView(ctx, filter, sort)).indexOf(rn.rn);
  return pos < 0 ? null : pos;
}

export interface SamplePage {
  total: number;
  offset: number;
  limit: number;
  items: GridItem[];
}

export const MAX_PAGE = 500;

export function thumbUrl(id: string): string {
  return `/thumb/${encodeURIComponent(id)}`;
}

/** How many samples a filter selects (cached until the next write). */
export function countSamples(ctx: ReviewContext, filter: GridFilter): Promise<number> {
  return ctx.cached(`count:${filterKey(filter)}`, async () => {
    const w = gridWhere(filter);
    return ctx.catalog.scalar(`SELECT count(*) FROM review_grid g WHERE ${w.sql}`, w.params);
  });
}

/**
 * A page of the filtered grid, in ingest order by default. Ingest order needs no ORDER BY (the
 * snapshot is stored in it), so scrolling a million samples stays fast; other orders sort.
 */
export async function samplePage(ctx: ReviewContext, filter: GridFilter, offset: number, limit: number, sort: GridSort = 'ingest'): Promise<SamplePage> {
  const q = gridQuery(filter, sort);
  type Row = { rn: number; id: string; split: string | null; label: string | null; path: string | null; dropped: boolean; score?: number | null };
  const columns = `g.rn, g.id, g.split, g.label, g.path, g.dropped${q.scored ? ', sc.score' : ''}`;
  const page = async (): Promise<Row[]> => {
    if (sort === 'ingest') return ctx.catalog.all<Row>(`SELECT ${columns} FROM ${q.from} WHERE ${q.where} LIMIT ${limit} OFFSET ${offset}`, q.whereParams);
    const rns = Array.from((await sortedView(ctx, filter, sort)).subarray(offset, offset + limit));
    if (!rns.length) return [];
    const found = await ctx.catalog.all<Row>(
      `SELECT ${columns} FROM ${q.from} WHERE g.rn IN (SELECT unnest(from_json(?, '["INTEGER"]')))`,
      [...q.fromParams, JSON.stringify(rns)],
    );
    const byRn = new Map(found.map((r) => [r.rn, r]));
    return rns.map((rn) => byRn.get(rn)).filter((r): r is Row => r !== undefined);
  };
  const [total, rows] = await Promise.all([countSamples(ctx, filter), page()]);
  const ids = rows.map((r) => r.id);
  const [issues, states] = await Promise.all([pageIssues(ctx, rows.map((r) => r.rn)), reviewStates(ctx.catalog, ids)]);
  const items = rows.map((r) => ({
    id: r.id, rn: r.rn, thumb: thumbUrl(r.id), label: r.label, split: r.split, path: r.path, dropped: r.dropped,
    issues: issues.get(r.rn) ?? [],
    tags: states.get(r.id)?.tags ?? [],
    decision: states.get(r.id)?.decision ?? null,
    ...(q.scored ? { score: r.score ?? null } : {}),
  }));
  return { total, offset, limit, items };
}

async function pageIssues(ctx: ReviewContext, rns: number[]): Promise<Map<number, string[]>> {
  if (rns.length === 0) return new Map();
  const lo = Math.min(...rns), hi = Math.max(...rns);
  const rows = await ctx.catalog.all<{ rn: number; types: string[] }>(
    `SELECT rn, list(DISTINCT type ORDER BY type) AS types FROM review_issues
     WHERE flagged AND rn BETWEEN ${lo} AND ${hi} AND rn IN (SELECT unnest(from_json(?, '["INTEGER"]'))) GROUP BY rn`,
    [JSON.stringify(rns)],
  );
  return new Map(rows.map((r) => [r.rn, r.types]));
}

export interface IssueDetail {
  type: string;
  score: number | null;
  flagged: boolean;
  step: string;
  source: string;
  evidence: unknown;
  /** For an issue that names another sample (a duplicate's kept copy, a leak's twin): that sample. */
  other: PairSide | null;
  /** The other sample as the evidence names it (even when the catalog lacks it). */
  otherRef: string | null;
  /** How the two matched, in words; null for issues about the sample alone. */
  summary: string | null;
}

export interface SampleDetail {
  id: string;
  thumb: string;
  image: string;
  source: string;
  sourceRef: string | null;
  path: string | null;
  split: string | null;
  sourceSplit: string | null;
  label: string | null;
  /** The caption. */
  text: string | null;
  group: string | null;
  meta: unknown;
  files: Array<{ role: string; uri: string }>;
  asset: Record<string, unknown> | null;
  /** Why the run dropped the sample (empty when it is kept). */
  drops: Array<{ reason: string; step: string }>;
  issues: IssueDetail[];
  tags: string[];
  decision: ReviewState['decision'];
  history: HistoryEntry[];
}

/** Everything known about one sample; 404 when the catalog has no such sample. */
export async function sampleDetail(ctx: ReviewContext, id: string): Promise<SampleDetail> {
  const { catalog } = ctx;
  const s = await catalog.one<{
    id: string; source: string; source_ref: string | null; path: string | null; source_split: string | null; split: string | null;
    label: string | null; text: string | null; group_key: string | null; meta: string | null;
  }>(`SELECT id, source, source_ref, path, source_split, split, label, text, group_key, meta::VARCHAR AS meta FROM samples WHERE id = ?`, [id]);
  if (!s) throw new HttpError(404, `no sample with id ${JSON.stringify(id)}`);
  const [files, asset, drops, issues, states, hist] = await Promise.all([
    catalog.all<{ role: string; uri: string }>(`SELECT role, uri FROM files WHERE sample_id = ? ORDER BY role`, [id]),
    catalog.one<Record<string, unknown>>(
      `SELECT a.* FROM files f JOIN file_status fs ON fs.uri = f.uri JOIN assets a ON a.sha256 = fs.sha256
       WHERE f.sample_id = ? AND f.role = 'image'`,
      [id],
    ),
    catalog.all<{ reason: string; step: string }>(`SELECT reason, step FROM drops WHERE sample_id = ? AND run_id = ? ORDER BY reason`, [id, ctx.runId]),
    catalog.all<{ type: string; score: number | null; flagged: boolean; step: string; source: string; evidence: string | null }>(
      `SELECT type, score, flagged, step, source, evidence::VARCHAR AS evidence FROM issues WHERE sample_id = ?
       ORDER BY flagged DESC, score DESC NULLS LAST, type`,
      [id],
    ),
    reviewStates(catalog, [id]),
    history(catalog, id),
  ]);
  const parsed = issues.map((i) => ({ ...i, evidence: parseJson(i.evidence) }));
  const refs = parsed.map((i) => (isRecord(i.evidence) ? otherRef(i.evidence) : null));
  const sides = await lookupSides(catalog, refs.filter((r): r is string => r !== null));
  const detailed: IssueDetail[] = [];
  for (const [k, i] of parsed.entries()) {
    const ref = refs[k];
    const other = ref ? sides.get(ref) ?? null : null;
    let summary: string | null = null;
    if (ref && isRecord(i.evidence)) {
      // A leak issue keeps the headline; the matcher's own evidence is on its leak_pairs row.
      const pairEv = i.type === 'leak' && other ? await leakPairEvidence(ctx, s.id, other.id) : null;
      summary = describeMatch({ ...i.evidence, ...(pairEv ?? {}) });
    }
    detailed.push({ ...i, other, otherRef: ref, summary });
  }
  return {
    id: s.id, thumb: thumbUrl(s.id), image: `/image/${encodeURIComponent(s.id)}`, source: s.source, sourceRef: s.source_ref,
    path: s.path, split: s.split, sourceSplit: s.source_split, label: s.label, text: s.text, group: s.group_key,
    meta: parseJson(s.meta), files, asset: asset ?? null, drops,
    issues: detailed,
    tags: states.get(id)?.tags ?? [], decision: states.get(id)?.decision ?? null, history: hist,
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The leaks step's evidence of the pair (either direction) in the run under review, if recorded. */
async function leakPairEvidence(ctx: ReviewContext, a: string, b: string): Promise<Record<string, unknown> | null> {
  const row = await ctx.catalog
    .one<{ evidence: string | null }>(
      `SELECT evidence::VARCHAR AS evidence FROM leak_pairs WHERE run_id = ? AND ((test_id = ? AND train_id = ?) OR (test_id = ? AND train_id = ?)) LIMIT 1`,
      [ctx.runId, a, b, b, a],
    )
    .catch(() => null); // a catalog from before leak_pairs existed
  return row?.evidence ? parseEvidence(row.evidence) : null;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
