import type { Catalog } from './catalog.js';
import type { BuildSummary, SourceSummary, StepRows } from '../report/summary.js';
import { hasRunSamples } from './run-view.js';
import { UsageError } from '../errors.js';

/**
 * Dataset versions: every build records the samples it kept (run_samples) and may carry a tag.
 * These read them back: the list of runs with their figures, and what changed between two runs.
 */

/** One build, as `imgsift runs` lists it. */
export interface RunInfo {
  id: number;
  tag: string | null;
  name: string | null;
  status: string;
  started: string;
  /** Samples in the dataset at the end (null for runs that did not finish or recorded nothing). */
  kept: number | null;
  /** Per source: read, ingested, kept (from the run's summary). */
  sources: Record<string, SourceSummary>;
  /** Per step in order: its name and what it did to the dataset's size. */
  steps: Array<{ name: string; rows?: StepRows }>;
}

export async function listRuns(catalog: Catalog): Promise<RunInfo[]> {
  const rows = await catalog.all<{ id: number; tag: string | null; name: string | null; status: string; started: string; summary: string | null; kept: bigint | null }>(
    `SELECT r.id, r.tag, r.name, r.status, strftime(r.started, '%Y-%m-%d %H:%M:%S') AS started, r.summary::VARCHAR AS summary,
            (SELECT count(*) FROM run_samples s WHERE s.run_id = r.id) AS kept
     FROM runs r ORDER BY r.id`,
  );
  return rows.map((r) => {
    const summary = r.summary ? (JSON.parse(r.summary) as Partial<BuildSummary>) : undefined;
    return {
      id: r.id, tag: r.tag, name: r.name, status: r.status, started: r.started,
      kept: r.status === 'finished' && Number(r.kept ?? 0) > 0 ? Number(r.kept) : (summary?.total ?? null),
      sources: summary?.sources ?? {},
      steps: (summary?.steps ?? []).map((s) => ({ name: s.name, ...(s.rows ? { rows: s.rows } : {}) })),
    };
  });
}

/** `imgsift runs`: one block per run. */
export function formatRuns(runs: RunInfo[]): string {
  if (runs.length === 0) return 'no runs yet\n';
  const lines: string[] = [];
  for (const r of runs) {
    lines.push(`run ${r.id}${r.tag ? `  tag ${r.tag}` : ''}  ${r.started}  ${r.status}  ${r.kept ?? '?'} samples${r.name ? `  (${r.name})` : ''}`);
    for (const [name, s] of Object.entries(r.sources)) lines.push(`  source ${name}: read ${s.read}, in ${s.in}, out ${s.out}`);
    for (const [i, st] of r.steps.entries()) {
      if (!st.rows) continue;
      const per = Object.entries(st.rows.by_source)
        .filter(([, v]) => v.in !== v.out)
        .map(([k, v]) => `${k} ${v.in}→${v.out}`);
      const why = Object.entries(st.rows.dropped).map(([k, v]) => `${k} ${v}`);
      lines.push(`  step ${i + 1} ${st.name}: ${st.rows.in} → ${st.rows.out}${per.length ? ` (${per.join(', ')})` : ''}${why.length ? ` dropped: ${why.join(', ')}` : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** A sample that is in one version and not the other, and why. */
export interface DiffRow {
  id: string;
  source: string;
  /**
   * `<step>: <reason>` (the drop in the run without it), `new in source` (first ingested after the
   * older run; `first seen after run N` in a diff from newer to older), or `not in run N's sources`.
   */
  why: string;
}

export interface RunDiff {
  from: number;
  to: number;
  added: DiffRow[];
  removed: DiffRow[];
  /** Counts per source: added and removed. */
  bySource: Record<string, { added: number; removed: number }>;
  /** Counts per cause. */
  addedBy: Record<string, number>;
  removedBy: Record<string, number>;
}

/**
 * What changed from run `from` to run `to`: samples `to` has and `from` had not (added), and the
 * reverse (removed), each with its source and its cause — the step that dropped it in the run
 * without it, or that the run's sources did not list it.
 */
export async function diffRuns(catalog: Catalog, from: number, to: number): Promise<RunDiff> {
  for (const r of [from, to]) {
    if (!(await hasRunSamples(catalog, r))) {
      throw new UsageError(`run ${r} recorded no dataset (it did not finish, kept nothing, or predates tags); diff needs two finished runs`);
    }
  }
  const side = async (have: number, lack: number) =>
    catalog.all<{ id: string; source: string; why: string }>(
      `SELECT a.sample_id AS id, s.source,
              coalesce((SELECT d.step || ': ' || d.reason FROM drops d WHERE d.sample_id = a.sample_id AND d.run_id = ${lack}
                        ORDER BY d.step, d.reason LIMIT 1),
                       CASE WHEN s.first_run > ${lack} THEN '${from < to ? 'new in source' : `first seen after run ${lack}`}' ELSE 'not in run ${lack}''s sources' END) AS why
       FROM run_samples a JOIN samples s ON s.id = a.sample_id
       WHERE a.run_id = ${have} AND NOT EXISTS (SELECT 1 FROM run_samples b WHERE b.run_id = ${lack} AND b.sample_id = a.sample_id)
       ORDER BY s.source, a.sample_id`,
    );
  const added = await side(to, from);
  const removed = await side(from, to);
  const bySource: RunDiff['bySource'] = {};
  const count = (rows: DiffRow[], key: 'added' | 'removed') => {
    const by: Record<string, number> = {};
    for (const r of rows) {
      (bySource[r.source] ??= { added: 0, removed: 0 })[key]++;
      by[r.why] = (by[r.why] ?? 0) + 1;
    }
    return by;
  };
  const addedBy = count(added, 'added');
  const removedBy = count(removed, 'removed');
  return { from, to, added, removed, bySource, addedBy, removedBy };
}

export function formatDiff(d: RunDiff, names: { from: string; to: string }): string {
  const lines = [`${names.from} (run ${d.from}) → ${names.to} (run ${d.to}): +${d.added.length} added, -${d.removed.length} removed`];
  for (const [src, c] of Object.entries(d.bySource).sort()) lines.push(`  source ${src}: +${c.added} -${c.removed}`);
  for (const [why, n] of Object.entries(d.addedBy).sort((a, b) => b[1] - a[1])) lines.push(`  added, ${why}: ${n}`);
  for (const [why, n] of Object.entries(d.removedBy).sort((a, b) => b[1] - a[1])) lines.push(`  removed, ${why}: ${n}`);
  return lines.join('\n') + '\n';
}
