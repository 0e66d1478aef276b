import { z } from 'zod';
import { UsageError } from '../errors.js';
import { csvLine, taggedManifestRows, type TaggedManifestRow } from '../review/tagged-manifest.js';
import { checkKeys, ofSplits, relabels, removals, seedFileTarget, sortByKey } from './removal.js';
import { S3Options, sinkFor, splitFileTarget } from './sink.js';
import type { Exporter, ExportContext, ExportStats } from './types.js';

/**
 * Seed 002's last two deliverables:
 *  - `final_cleaning_manifest`: the tagged manifest with the leak findings merged as the seed's
 *    Phase 3.3 does (`train_test_leak` added to `user_tags` of every leaked sample), and with what
 *    the build decided, so the seed's Step 4.1 code, run unchanged on it, writes the same removal
 *    list and relabel map as the `removal_list` / `relabel_map` exports (see FINAL_MANIFEST_COLUMNS);
 *  - `cleaning_summary`: issues by type and source, leaks, removals by reason, relabels and the
 *    impact on the dataset's size, per split.
 * With `dataset`, `to` is a folder and the files are `<dataset>_final_cleaning_manifest.csv` and
 * `<dataset>_cleaning_summary.txt`.
 */

/**
 * The final manifest's columns, named as the seed's Phase 3.3 and 4.1 code reads them:
 *  - `image_id`: the removal list's key — the sample's id, or with `key: stem` the integer row
 *    index of the seed's Hugging Face dump (`train/3/1234.jpg` → 1234), or its path;
 *  - `image_path`: the sample's path in the dataset (the seed's leak report names test images so);
 *  - `split`, `label`, `issues` (flagged issue types, ';'), `user_tags` (',');
 *  - `user_action`: `remove` for every sample the run removed (any step's drop, or decided
 *    remove), `relabel` for every relabel the exports apply (a decision's new label or an accepted
 *    suggestion), else `keep` when decided so, else empty;
 *  - `new_label`: the label the sample has after cleaning (the relabel's, else its own), filled on
 *    every row so that pandas reads integer class labels as integers (an empty cell would make the
 *    column float, and the seed's relabel_map.json would get 5.0 for class 5);
 *  - `reviewer`, and `id` (imgsift's sample id).
 * Rows: every sample of the run with a flagged issue, a tag, a decision or a drop, sorted by
 * image_id (as numbers when every image_id is an integer).
 */
export const FINAL_MANIFEST_COLUMNS = [
  'image_id', 'image_path', 'split', 'label', 'issues', 'user_tags', 'user_action', 'new_label', 'reviewer', 'id',
] as const;

const Common = {
  to: z.string().min(1),
  dataset: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a file-name-safe dataset name').optional(),
  s3: S3Options.optional(),
};
export const FinalManifestOptions = z
  .object({
    ...Common,
    /** What `image_id` holds: the sample's id (default), its path, or its file name's stem (seed 002's row index). */
    key: z.enum(['path', 'id', 'stem']).default('id'),
    /** Only samples of these splits (stems repeat across the splits of a Hugging Face dump). */
    split: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  })
  .strict();
export type FinalManifestOptions = z.infer<typeof FinalManifestOptions>;
export const CleaningSummaryOptions = z.object(Common).strict();
export type CleaningSummaryOptions = z.infer<typeof CleaningSummaryOptions>;

const LEAK_TAG = 'train_test_leak';

async function putText(ctx: ExportContext, to: string, data: string, s3?: S3Options): Promise<void> {
  if (to.endsWith('/')) throw new UsageError(`export destination ${to} must name a file (or give dataset: to name it)`);
  const { dir, name } = splitFileTarget(to);
  const sink = await sinkFor(ctx, dir, s3);
  try {
    await sink.put(name, data);
  } finally {
    await sink.close();
  }
}

export const finalManifestExporter: Exporter<FinalManifestOptions> = {
  format: 'final_cleaning_manifest',
  description: "seed 002's final cleaning manifest: the tagged manifest with leak tags, removals and relabels merged (columns the seed's Step 4.1 reads)",
  options: FinalManifestOptions,
  async run(ctx, options): Promise<ExportStats> {
    const run = Math.trunc(ctx.runId);
    const leaked = new Set((await ctx.catalog.all<{ id: string }>(
      `SELECT DISTINCT sample_id AS id FROM issues WHERE flagged AND type = 'leak'`,
    )).map((r) => r.id));
    const removed = new Set((await removals(ctx)).map((r) => r.id));
    const relabeled = new Map((await relabels(ctx)).relabels.map((r) => [r.id, r.label]));
    const rows: TaggedManifestRow[] = [];
    for await (const page of taggedManifestRows(ctx.catalog, { runId: run, withDroppedBy: run })) rows.push(...page);
    const chosen = ofSplits(rows.filter((r): r is TaggedManifestRow & { id: string } => r.id !== null), options.split);
    const sorted = sortByKey(chosen, checkKeys(chosen, options.key, 'final_cleaning_manifest'));
    const lines = [csvLine(FINAL_MANIFEST_COLUMNS)];
    let tagged = 0;
    let leakRemovals = 0;
    sorted.items.forEach((r, i) => {
      let tags = r.user_tags;
      if (leaked.has(r.id)) {
        const list = tags ? tags.split(',') : [];
        if (!list.includes(LEAK_TAG)) tags = [...list, LEAK_TAG].join(',');
        tagged++;
        if (removed.has(r.id)) leakRemovals++;
      }
      const action = removed.has(r.id) ? 'remove' : relabeled.has(r.id) ? 'relabel' : r.user_action === 'keep' ? 'keep' : null;
      const newLabel = relabeled.get(r.id) ?? r.label;
      const row: Record<(typeof FINAL_MANIFEST_COLUMNS)[number], string | null> = {
        image_id: sorted.keys[i], image_path: r.path ?? r.id, split: r.split, label: r.label, issues: r.issues,
        user_tags: tags, user_action: action, new_label: newLabel, reviewer: r.reviewer, id: r.id,
      };
      lines.push(csvLine(FINAL_MANIFEST_COLUMNS.map((c) => row[c])));
    });
    await putText(ctx, seedFileTarget(options, 'final_cleaning_manifest.csv'), lines.join(''), options.s3);
    return {
      rows: sorted.items.length,
      'tagged train_test_leak': tagged,
      'marked remove': sorted.items.filter((r) => removed.has(r.id)).length,
      'leaks marked remove': leakRemovals,
      'marked relabel': sorted.items.filter((r) => !removed.has(r.id) && relabeled.has(r.id)).length,
    };
  },
};

export const cleaningSummaryExporter: Exporter<CleaningSummaryOptions> = {
  format: 'cleaning_summary',
  description: "seed 002's cleaning summary: issues by type, leaks, removals, relabels, impact on size",
  options: CleaningSummaryOptions,
  async run(ctx, options): Promise<ExportStats> {
    const text = await cleaningSummaryText(ctx, options.dataset);
    await putText(ctx, seedFileTarget(options, 'cleaning_summary.txt'), text, options.s3);
    return { lines: text.split('\n').length - 1 };
  },
};

/** The summary as text. */
export async function cleaningSummaryText(ctx: ExportContext, dataset?: string): Promise<string> {
  const run = Math.trunc(ctx.runId);
  const c = ctx.catalog;
  const n = (v: unknown) => Number(v);
  const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(1)}%` : '0%');
  const out: string[] = [`Cleaning summary${dataset ? ` for ${dataset}` : ''} (imgsift run ${run})`, ''];

  const sizes = await c.all<{ split: string | null; before: bigint; after: bigint }>(
    `SELECT split, count(*) AS before, count(*) FILTER (WHERE drop_run IS DISTINCT FROM ${run}) AS after
     FROM samples WHERE seen_run = ${run} GROUP BY split ORDER BY split NULLS LAST`,
  );
  const removed = await removals(ctx);
  const removedBySplit = new Map<string, number>();
  for (const r of removed) removedBySplit.set(r.split ?? '(none)', (removedBySplit.get(r.split ?? '(none)') ?? 0) + 1);
  const before = sizes.reduce((s, r) => s + n(r.before), 0);
  out.push('Impact on dataset size:');
  for (const r of sizes) {
    const name = r.split ?? '(none)';
    const gone = removedBySplit.get(name) ?? 0;
    out.push(`  ${name}: ${n(r.before)} -> ${n(r.before) - gone} (removed ${gone}, ${pct(gone, n(r.before))})`);
  }
  out.push(`  total: ${before} -> ${before - removed.length} (removed ${removed.length}, ${pct(removed.length, before)})`, '');

  const issues = await c.all<{ type: string; source: string; n: bigint }>(
    `SELECT i.type, i.source, count(DISTINCT i.sample_id) AS n FROM issues i JOIN samples s ON s.id = i.sample_id
     WHERE i.flagged AND s.seen_run = ${run} GROUP BY i.type, i.source ORDER BY i.source, n DESC, i.type`,
  );
  out.push('Issues found (samples flagged), by type and source:');
  if (!issues.length) out.push('  none');
  for (const i of issues) out.push(`  ${i.type} (${i.source}): ${n(i.n)}`);
  out.push('');

  const leaks = await c.all<{ method: string; leak_type: string; n: bigint; tests: bigint }>(
    `SELECT method, leak_type, count(*) AS n, count(DISTINCT test_id) AS tests FROM leak_pairs WHERE run_id = ${run}
     GROUP BY method, leak_type ORDER BY method`,
  );
  const leakPairs = leaks.reduce((s, r) => s + n(r.n), 0);
  const leakRemoved = removed.filter((r) => r.reasons.some((x) => x.startsWith('leak'))).length;
  out.push('Train-test leaks:');
  out.push(`  leaked pairs: ${leakPairs}`);
  for (const l of leaks) out.push(`  ${l.method} (${l.leak_type}): ${n(l.n)} pairs, ${n(l.tests)} evaluation images`);
  out.push(`  removed as leaks: ${leakRemoved}`, '');

  out.push('Removals by reason:');
  const byReason = new Map<string, number>();
  for (const r of removed) for (const reason of r.reasons) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  if (!byReason.size) out.push('  none');
  for (const [reason, k] of [...byReason].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) out.push(`  ${reason}: ${k}`);
  out.push('');

  const plan = await relabels(ctx);
  out.push('Relabels:');
  out.push(`  relabeled: ${plan.relabels.length} (from decisions ${plan.relabels.filter((r) => r.from === 'decision').length}, from accepted suggestions ${plan.relabels.filter((r) => r.from === 'suggestion').length})`);
  if (plan.ofRemoved) out.push(`  relabels of removed samples (not applied): ${plan.ofRemoved}`);
  if (plan.unchanged) out.push(`  relabels to the same label: ${plan.unchanged}`);
  const decisions = await c.all<{ action: string; n: bigint }>(
    `SELECT d.action, count(*) AS n FROM decisions d JOIN samples s ON s.id = d.sample_id WHERE s.seen_run = ${run} GROUP BY d.action ORDER BY d.action`,
  );
  out.push('', 'Review decisions:');
  if (!decisions.length) out.push('  none');
  for (const d of decisions) out.push(`  ${d.action}: ${n(d.n)}`);
  return out.join('\n') + '\n';
}
