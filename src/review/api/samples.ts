import { history, reviewStates, type HistoryEntry, type ReviewState } from '../decisions.js';
import type { ReviewContext } from './context.js';
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

/** A page of the filtered grid, in ingest order. */
export async function samplePage(ctx: ReviewContext, filter: GridFilter, offset: number, limit: number): Promise<SamplePage> {
  const w = gridWhere(filter);
  const [total, rows] = await Promise.all([
    countSamples(ctx, filter),
    ctx.catalog.all<{ rn: number; id: string; split: string | null; label: string | null; path: string | null; dropped: boolean }>(
      `SELECT g.rn, g.id, g.split, g.label, g.path, g.dropped FROM review_grid g WHERE ${w.sql} LIMIT ${limit} OFFSET ${offset}`,
      w.params,
    ),
  ]);
  const ids = rows.map((r) => r.id);
  const [issues, states] = await Promise.all([pageIssues(ctx, rows.map((r) => r.rn)), reviewStates(ctx.catalog, ids)]);
  const items = rows.map((r) => ({
    id: r.id, rn: r.rn, thumb: thumbUrl(r.id), label: r.label, split: r.split, path: r.path, dropped: r.dropped,
    issues: issues.get(r.rn) ?? [],
    tags: states.get(r.id)?.tags ?? [],
    decision: states.get(r.id)?.decision ?? null,
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
  return {
    id: s.id, thumb: thumbUrl(s.id), image: `/image/${encodeURIComponent(s.id)}`, source: s.source, sourceRef: s.source_ref,
    path: s.path, split: s.split, sourceSplit: s.source_split, label: s.label, text: s.text, group: s.group_key,
    meta: parseJson(s.meta), files, asset: asset ?? null, drops,
    issues: issues.map((i) => ({ ...i, evidence: parseJson(i.evidence) })),
    tags: states.get(id)?.tags ?? [], decision: states.get(id)?.decision ?? null, history: hist,
  };
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
