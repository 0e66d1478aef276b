import type { Catalog } from '../catalog/catalog.js';
import type { IngestStats } from '../exec/ingest.js';
import type { StepStats } from '../steps/types.js';

export interface StepSummary {
  name: string;
  kind: 'map' | 'reduce' | 'export';
  stats: StepStats;
  seconds: number;
  /** Samples in the dataset before and after this step (one entry per step, even for two steps of one name). */
  rows?: StepRows;
}

/** What one step did to the dataset's size: in total, per source, and its drops by reason. */
export interface StepRows {
  in: number;
  out: number;
  /** Per source (the `source` column): samples before and after. */
  by_source: Record<string, { in: number; out: number }>;
  /** Drops this step recorded, by reason. */
  dropped: Record<string, number>;
}

/** Per source of the run: records read, samples ingested, samples in the final dataset. */
export interface SourceSummary {
  read: number;
  in: number;
  out: number;
}

/** Everything a build reports at the end; printed as text and stored with the run. */
export interface BuildSummary {
  run: number;
  /** The dataset version's name (`--tag` or the recipe's `tag:`). */
  tag?: string;
  recipe: string;
  workdir: string;
  seconds: number;
  ingest: IngestStats;
  /** Samples in the dataset at the end (after filters). */
  total: number;
  splits: Array<{ split: string; count: number; percent: number }>;
  /** Flagged issues by type, over the run's samples (kept or dropped). */
  issues: Record<string, number>;
  /** Dropped samples by reason. */
  dropped: Record<string, number>;
  steps: StepSummary[];
  exports: StepSummary[];
  /** Per source (the samples' `source` column). */
  sources: Record<string, SourceSummary>;
  /** Things worth a person's attention; when non-empty the exit code is 1. */
  attention: string[];
  /** The HTML report written by the build, if the recipe asks for one. */
  report?: string;
  /** The `align` step's figures (seed 000's "Alignment Statistics"), when the recipe aligns pairs. */
  alignment?: AlignmentSummary;
}

export interface AlignmentSummary {
  attempted: number;
  success: number;
  successPercent: number;
  failed: number;
  failedPercent: number;
  /** Means over the successful pairs. */
  avgInlierRatio: number;
  avgMatches: number;
  /** Failed pairs by reason (too_few_matches, low_inlier_ratio, ...), most frequent first. */
  failureReasons: Record<string, number>;
}

/** The alignment figures out of the `align` step's stats (src/steps/align.ts alignStats). */
export function alignmentSummary(steps: StepSummary[]): AlignmentSummary | undefined {
  const st = steps.find((s) => s.name === 'align' && s.kind === 'map')?.stats;
  if (!st || st.attempted === undefined) return undefined;
  const num = (k: string) => Number(st[k] ?? 0);
  const failureReasons: Record<string, number> = {};
  for (const [k, v] of Object.entries(st)) if (k.startsWith('failed: ')) failureReasons[k.slice(8)] = Number(v);
  return {
    attempted: num('attempted'),
    success: num('succeeded'),
    successPercent: num('succeeded %'),
    failed: num('alignment failed'),
    failedPercent: num('alignment failed %'),
    avgInlierRatio: num('avg inlier ratio'),
    avgMatches: num('avg matches'),
    failureReasons,
  };
}

/** Splits in the order people read them: train, then dev/validation, then test, then the rest by name. */
const SPLIT_ORDER = `CASE lower(split) WHEN 'train' THEN 0 WHEN 'dev' THEN 1 WHEN 'val' THEN 1 WHEN 'valid' THEN 1 WHEN 'validation' THEN 1 WHEN 'test' THEN 2 ELSE 3 END`;

export async function collectSummary(
  catalog: Catalog,
  base: Pick<BuildSummary, 'recipe' | 'workdir' | 'ingest' | 'steps' | 'exports' | 'seconds' | 'tag'> & { runId: number },
): Promise<BuildSummary> {
  const { runId } = base;
  const total = await catalog.scalar(`SELECT count(*) FROM active`);
  const splitRows = await catalog.all<{ split: string | null; n: bigint }>(
    `SELECT split, count(*) AS n FROM active GROUP BY split ORDER BY ${SPLIT_ORDER}, split`,
  );
  const issueRows = await catalog.all<{ type: string; n: bigint }>(
    `SELECT i.type, count(DISTINCT i.sample_id) AS n FROM issues i JOIN samples s ON s.id = i.sample_id
     WHERE i.flagged AND s.seen_run = ${runId} GROUP BY i.type ORDER BY n DESC, i.type`,
  );
  const dropRows = await catalog.all<{ reason: string; n: bigint }>(
    `SELECT reason, count(*) AS n FROM drops WHERE run_id = ${runId} GROUP BY reason ORDER BY n DESC, reason`,
  );
  const alignment = alignmentSummary(base.steps);
  const sourceRows = await catalog.all<{ source: string; ingested: bigint; kept: bigint }>(
    `SELECT s.source, count(*) AS ingested, count(*) FILTER (WHERE s.drop_run IS DISTINCT FROM ${runId}) AS kept
     FROM samples s WHERE s.seen_run = ${runId} GROUP BY s.source ORDER BY s.source`,
  );
  const sources: Record<string, SourceSummary> = {};
  for (const r of sourceRows) {
    sources[r.source] = { read: base.ingest.sources?.[r.source]?.read ?? Number(r.ingested), in: Number(r.ingested), out: Number(r.kept) };
  }
  for (const [name, s] of Object.entries(base.ingest.sources ?? {})) sources[name] ??= { read: s.read, in: 0, out: 0 };
  const attention: string[] = [];
  for (const [name, s] of Object.entries(base.ingest.sources ?? {})) {
    if (s.staged === 0) attention.push(`source ${name} gave no samples (${s.read} records read)`);
  }
  if (base.ingest.badRows > 0) {
    const where = base.ingest.badRowsFile ? ` (all listed in ${base.ingest.badRowsFile})` : '';
    attention.push(`${base.ingest.badRows} source rows were malformed and skipped${where}`);
  }
  for (const [type, n] of Object.entries(base.ingest.sourceIssues ?? {})) {
    attention.push(`${n} source row${n === 1 ? '' : 's'} flagged ${type} at ingest and left out of the dataset (issues of step ingest)`);
  }
  // A step states what needs a person's attention as its `attention` stat (balance: a share out of band).
  for (const st of base.steps) if (typeof st.stats.attention === 'string') attention.push(st.stats.attention);

  return {
    run: runId,
    ...(base.tag ? { tag: base.tag } : {}),
    recipe: base.recipe,
    workdir: base.workdir,
    seconds: Math.round(base.seconds * 100) / 100,
    ingest: base.ingest,
    total,
    splits: splitRows.map((r) => ({
      split: r.split ?? '(none)',
      count: Number(r.n),
      percent: total ? Math.round((Number(r.n) / total) * 1000) / 10 : 0,
    })),
    issues: Object.fromEntries(issueRows.map((r) => [r.type, Number(r.n)])),
    dropped: Object.fromEntries(dropRows.map((r) => [r.reason, Number(r.n)])),
    steps: base.steps,
    exports: base.exports,
    sources,
    attention,
    ...(alignment ? { alignment } : {}),
  };
}

const RULE = '='.repeat(60);

/** The closing block of a build, in the shape seed 000 prints. */
export function formatSummary(s: BuildSummary): string {
  const lines: string[] = [RULE, 'DATASET BUILDING COMPLETE', RULE];
  lines.push(`Total samples written: ${s.total}`);
  const ing = s.ingest;
  lines.push(
    `Source: ${ing.read} read (${ing.added} new, ${ing.updated} already known)` +
      (ing.badRows ? `, ${ing.badRows} malformed rows skipped${ing.badRowsFile ? ` (listed in ${ing.badRowsFile})` : ''}` : '') +
      (ing.duplicateIds ? `, ${ing.duplicateIds} duplicate ids dropped` : '') +
      (ing.filtered ? `, ${ing.filtered} left out by source.where` : '') +
      (ing.exploded ? `, ${ing.exploded} records exploded into samples` : '') +
      (ing.blankLines ? `, ${ing.blankLines} blank lines skipped` : ''),
  );
  const skipped = Object.entries(ing.skipped ?? {}).sort((a, b) => b[1] - a[1]);
  if (skipped.length) {
    lines.push(`Passed over: ${skipped.map(([r, n]) => `${n} ${r}`).join(', ')} (e.g. ${ing.skippedExamples[0]}; all in ${ing.skippedFile})`);
  }
  if (Object.keys(ing.sources ?? {}).length) {
    lines.push('', 'Sources (read → ingested → in the dataset):');
    for (const [name, src] of Object.entries(s.sources ?? {})) lines.push(`  ${name}: ${src.read} → ${src.in} → ${src.out}`);
  }
  lines.push('', 'Split breakdown:');
  for (const sp of s.splits) lines.push(`  ${sp.split.toUpperCase()}: ${sp.count} samples (${sp.percent.toFixed(1)}%)`);
  if (s.alignment) lines.push('', ...formatAlignment(s.alignment));
  if (Object.keys(s.issues).length) {
    lines.push('', 'Issues found (samples flagged):');
    for (const [t, n] of Object.entries(s.issues)) lines.push(`  ${t}: ${n}`);
  }
  if (Object.keys(s.dropped).length) {
    lines.push('', 'Dropped (by reason):');
    for (const [r, n] of Object.entries(s.dropped)) lines.push(`  ${r}: ${n}`);
  }
  for (const st of [...s.steps, ...s.exports]) {
    // The align step's own figures are printed above in the seed's shape; its pass figures stay here.
    const shownAbove = s.alignment && st.name === 'align' && st.kind === 'map';
    const entries = Object.entries(st.stats).filter(([k]) => !shownAbove || !isAlignmentKey(k));
    const size = st.rows && st.rows.in !== st.rows.out ? `, ${st.rows.in} → ${st.rows.out} samples` : '';
    lines.push('', `${title(st.name)} (${st.seconds.toFixed(1)}s${size}):`);
    for (const [k, v] of entries) lines.push(`  ${k}: ${typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : v}`);
  }
  if (s.attention.length) {
    lines.push('', 'Needs attention:');
    for (const a of s.attention) lines.push(`  - ${a}`);
  }
  lines.push('', `Catalog: ${s.workdir} (run ${s.run}${s.tag ? `, tag ${s.tag}` : ''}, ${s.seconds.toFixed(1)}s)`);
  if (s.report) lines.push(`Report:  ${s.report}`);
  lines.push(RULE);
  return lines.join('\n');
}

const ALIGNMENT_KEYS = new Set(['attempted', 'succeeded', 'succeeded %', 'alignment failed', 'alignment failed %', 'avg inlier ratio', 'avg matches']);
const isAlignmentKey = (k: string) => ALIGNMENT_KEYS.has(k) || k.startsWith('failed: ');

/** Seed 000's alignment block, plus the failures by reason. */
export function formatAlignment(a: AlignmentSummary): string[] {
  const lines = [
    'Alignment Statistics:',
    `  Samples attempted: ${a.attempted}`,
    `  Alignment success: ${a.success} (${a.successPercent.toFixed(1)}%)`,
    `  Alignment failed:  ${a.failed} (${a.failedPercent.toFixed(1)}%)`,
  ];
  const reasons = Object.entries(a.failureReasons);
  if (reasons.length) {
    lines.push('', '  Failure reasons:');
    for (const [r, n] of reasons) lines.push(`    ${r}: ${n}`);
  }
  lines.push('', '  Alignment quality:', `    Avg inlier ratio: ${a.avgInlierRatio.toFixed(3)}`, `    Avg matches: ${Math.round(a.avgMatches)}`);
  return lines;
}

function title(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
