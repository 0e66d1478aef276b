import { z } from 'zod';
import { ImgsiftError, UsageError } from '../errors.js';
import { compareIds } from './file-export.js';
import { S3Options, sinkFor, splitFileTarget } from './sink.js';
import type { Exporter, ExportContext, ExportStats } from './types.js';

/**
 * Cleaning artifacts for training scripts that keep the original dataset and apply the cleaning
 * at load time (seed 002): two formats, each writing one file, so a recipe can put each where its
 * training code expects it.
 *
 * `removal_list` — `removal_list.txt`: one line per sample of this run that is out of the dataset:
 * dropped by a step (duplicate, leak, corrupt, a filter rule...) or decided `remove` in review.
 * With `reasons: true` each line is `<key>\t<reason>,<reason>` (decided removals read
 * `decision:remove`).
 *
 * `relabel_map` — `relabel_map.json`: `{ "<key>": "<new label>" }` for samples that stay, from
 * review decisions with action `relabel` and a `new_label`, and from accepted suggestions: a
 * decision `relabel` without `new_label` (or `accept`) takes the `suggested_label` from the
 * evidence of the sample's flagged issue (highest score first, e.g. a mislabel finding).
 * Relabels of removed samples and relabels to the current label are left out and counted.
 *
 * `key` is the sample's path (its id when it has none), its id, or the `stem` of its file name
 * (`train/3/1234.jpg` → `1234`: the row index of a Hugging Face dump, which seed 002's loader
 * reads with `int(line)` and `relabel_map.get(str(index))`). `split` limits the file to some
 * splits (stems repeat across splits). Integer labels are written as JSON numbers. Lines and
 * entries are sorted by sample id (by number for integer stems). `to` names the file, or with
 * `dataset` the folder of `<dataset>_removal_list.txt` / `<dataset>_relabel_map.json`; it is
 * written whole or not at all (through the Sink).
 */

const Common = {
  /** The file to write (local path or s3://bucket/key). */
  to: z.string().min(1),
  /** What identifies a sample in the file: its dataset path (id when it has none), its id, or its file name's stem. */
  key: z.enum(['path', 'id', 'stem']).default('path'),
  /** Only samples of these splits (default: all). */
  split: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** Seed 002's file names: `to` is a folder and the file `<dataset>_removal_list.txt` / `<dataset>_relabel_map.json`. */
  dataset: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a file-name-safe dataset name').optional(),
  /** S3 settings when `to` is s3://. */
  s3: S3Options.optional(),
};

export const RemovalListOptions = z
  .object({
    ...Common,
    /** Append a tab and the comma-separated reasons to each line. */
    reasons: z.boolean().default(false),
  })
  .strict();
export type RemovalListOptions = z.infer<typeof RemovalListOptions>;

export const RelabelMapOptions = z.object({ ...Common }).strict();
export type RelabelMapOptions = z.infer<typeof RelabelMapOptions>;

/** A sample that is out of the dataset, and why. */
export interface Removal {
  id: string;
  path: string | null;
  split?: string | null;
  reasons: string[];
}

export interface Relabel {
  id: string;
  path: string | null;
  split?: string | null;
  label: string;
  /** Where the label came from: the decision's new_label, or an issue's suggestion. */
  from: 'decision' | 'suggestion';
}

/** Samples of the run dropped by a step or decided `remove`, sorted by id. */
export async function removals(ctx: ExportContext): Promise<Removal[]> {
  const run = Math.trunc(ctx.runId);
  const rows = await ctx.catalog.all<{ id: string; path: string | null; split: string | null; reasons: string[] | null; action: string | null }>(
    `SELECT s.id, s.path, s.split, d.action,
            (SELECT list(DISTINCT dr.reason ORDER BY dr.reason) FROM drops dr WHERE dr.sample_id = s.id AND dr.run_id = ${run}) AS reasons
     FROM samples s LEFT JOIN decisions d ON d.sample_id = s.id
     WHERE s.seen_run = ${run}
       AND (d.action = 'remove' OR EXISTS (SELECT 1 FROM drops dr WHERE dr.sample_id = s.id AND dr.run_id = ${run}))`,
  );
  return rows
    .map((r) => {
      const reasons = [...(r.reasons ?? [])];
      if (r.action === 'remove' && !reasons.includes('decision:remove')) reasons.push('decision:remove');
      return { id: r.id, path: r.path, split: r.split, reasons: reasons.sort() };
    })
    .sort((a, b) => compareIds(a.id, b.id));
}

export interface RelabelPlan {
  relabels: Relabel[];
  /** Relabel decisions of samples that are removed anyway. */
  ofRemoved: number;
  /** Relabel decisions with neither a new_label nor a suggestion to accept. */
  withoutLabel: number;
  /** Relabels to the label the sample already has. */
  unchanged: number;
}

/** New labels of the run's kept samples, from decisions and accepted suggestions, sorted by id. */
export async function relabels(ctx: ExportContext): Promise<RelabelPlan> {
  const run = Math.trunc(ctx.runId);
  const decided = await ctx.catalog.all<{ id: string; path: string | null; split: string | null; label: string | null; new_label: string | null }>(
    `SELECT s.id, s.path, s.split, s.label, d.new_label
     FROM samples s JOIN decisions d ON d.sample_id = s.id
     WHERE s.seen_run = ${run} AND d.action IN ('relabel', 'accept')`,
  );
  const suggestions = await ctx.catalog.all<{ sample_id: string; suggested: string }>(
    `SELECT i.sample_id, json_extract_string(i.evidence, '$.suggested_label') AS suggested
     FROM issues i JOIN decisions d ON d.sample_id = i.sample_id
     WHERE i.flagged AND d.action IN ('relabel', 'accept') AND d.new_label IS NULL
       AND json_extract_string(i.evidence, '$.suggested_label') IS NOT NULL
     ORDER BY i.sample_id, i.score DESC NULLS LAST, i.type, suggested`,
  );
  const best = new Map<string, string>();
  for (const s of suggestions) if (!best.has(s.sample_id)) best.set(s.sample_id, s.suggested);
  const removed = new Set((await removals(ctx)).map((r) => r.id));

  const plan: RelabelPlan = { relabels: [], ofRemoved: 0, withoutLabel: 0, unchanged: 0 };
  for (const d of decided) {
    const label = d.new_label ?? best.get(d.id);
    if (label === undefined) plan.withoutLabel++;
    else if (removed.has(d.id)) plan.ofRemoved++;
    else if (label === d.label) plan.unchanged++;
    else plan.relabels.push({ id: d.id, path: d.path, split: d.split, label, from: d.new_label !== null ? 'decision' : 'suggestion' });
  }
  plan.relabels.sort((a, b) => compareIds(a.id, b.id));
  return plan;
}

/** A sample's key in the seed-002 files: its id, its path (id when none) or its file name's stem. */
export function keyOf(s: { id: string; path: string | null }, key: Key): string {
  if (key === 'id') return s.id;
  const path = s.path ?? s.id;
  if (key === 'path') return path;
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

export type Key = 'path' | 'id' | 'stem';

/** The file a seed-002 export writes: `to` itself, or `<to>/<dataset>_<name>` with `dataset`. */
export function seedFileTarget(o: { to: string; dataset?: string }, name: string): string {
  if (o.dataset === undefined) return o.to;
  return `${o.to.replace(/\/+$/, '')}/${o.dataset}_${name}`;
}

/** Keep the items of the chosen splits. */
export function ofSplits<T extends { split?: string | null }>(items: T[], split: string | string[] | undefined): T[] {
  if (split === undefined) return items;
  const want = new Set(Array.isArray(split) ? split : [split]);
  return items.filter((i) => i.split != null && want.has(i.split));
}

/** Sorted by key: as numbers when every key is an integer (seed 002's row indices), else as text. */
export function sortByKey<T>(items: T[], keys: string[]): { items: T[]; keys: string[] } {
  const numeric = keys.length > 0 && keys.every((k) => /^-?\d+$/.test(k));
  const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
  // Array.sort is stable: text keys keep the id order.
  const order = keys.map((_, i) => i).sort((a, b) => (numeric ? cmp(BigInt(keys[a]), BigInt(keys[b])) : 0));
  return { items: order.map((i) => items[i]), keys: order.map((i) => keys[i]) };
}

/** An integer label as a JSON number (seed 002's labels are class indices), else a string. */
function labelJson(label: string): string {
  return /^-?(0|[1-9]\d{0,14})$/.test(label) ? label : JSON.stringify(label);
}

/** Write one whole file named by `to` through the sink of its folder. */
async function putFile(ctx: ExportContext, to: string, data: string, s3?: S3Options): Promise<void> {
  if (to.endsWith('/')) throw new UsageError(`export destination ${to} must name a file, not a folder`);
  const { dir, name } = splitFileTarget(to);
  const sink = await sinkFor(ctx, dir, s3);
  try {
    await sink.put(name, data);
  } finally {
    await sink.close();
  }
}

export function checkKeys(items: Array<{ id: string; path: string | null }>, key: Key, format: string): string[] {
  const seen = new Map<string, string>();
  return items.map((s) => {
    const k = keyOf(s, key);
    if (/[\r\n]/.test(k)) throw new ImgsiftError(`${format}: sample ${JSON.stringify(s.id)} has a line break in its ${key}; use key: id`);
    const other = seen.get(k);
    if (other !== undefined) {
      const hint = key === 'stem' ? 'choose one split with split:, or use key: path' : 'use key: id';
      throw new ImgsiftError(`${format}: samples ${JSON.stringify(other)} and ${JSON.stringify(s.id)} share the ${key} ${JSON.stringify(k)}; ${hint}`);
    }
    seen.set(k, s.id);
    return k;
  });
}

export const removalListExporter: Exporter<RemovalListOptions> = {
  format: 'removal_list',
  description: 'removal_list.txt: one path (or id) per line of samples dropped or decided remove',
  options: RemovalListOptions,
  async run(ctx: ExportContext, options: RemovalListOptions): Promise<ExportStats> {
    const chosen = ofSplits(await removals(ctx), options.split);
    const { items: list, keys } = sortByKey(chosen, checkKeys(chosen, options.key, 'removal_list'));
    const lines = list.map((r, i) => (options.reasons ? `${keys[i]}\t${r.reasons.join(',')}\n` : `${keys[i]}\n`));
    await putFile(ctx, seedFileTarget(options, 'removal_list.txt'), lines.join(''), options.s3);
    const stats: ExportStats = { 'samples listed': list.length };
    const byReason = new Map<string, number>();
    for (const r of list) for (const reason of r.reasons) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
    for (const [reason, n] of [...byReason].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) stats[`reason ${reason}`] = n;
    return stats;
  },
};

export const relabelMapExporter: Exporter<RelabelMapOptions> = {
  format: 'relabel_map',
  description: 'relabel_map.json: {path or id: new label} from relabel decisions and accepted suggestions',
  options: RelabelMapOptions,
  async run(ctx: ExportContext, options: RelabelMapOptions): Promise<ExportStats> {
    const plan = await relabels(ctx);
    plan.relabels = ofSplits(plan.relabels, options.split);
    const sorted = sortByKey(plan.relabels, checkKeys(plan.relabels, options.key, 'relabel_map'));
    plan.relabels = sorted.items;
    const keys = sorted.keys;
    // Written by hand: JSON.stringify would move integer-like keys ("123") ahead of the others.
    const entries = plan.relabels.map((r, i) => `  ${JSON.stringify(keys[i])}: ${labelJson(r.label)}`);
    await putFile(ctx, seedFileTarget(options, 'relabel_map.json'), entries.length ? `{\n${entries.join(',\n')}\n}\n` : '{}\n', options.s3);
    const stats: ExportStats = {
      relabeled: plan.relabels.length,
      'from decisions': plan.relabels.filter((r) => r.from === 'decision').length,
      'from accepted suggestions': plan.relabels.filter((r) => r.from === 'suggestion').length,
    };
    if (plan.ofRemoved) stats['relabels of removed samples'] = plan.ofRemoved;
    if (plan.withoutLabel) stats['relabel decisions without a label'] = plan.withoutLabel;
    if (plan.unchanged) stats['relabels to the same label'] = plan.unchanged;
    return stats;
  },
};
