import { z } from 'zod';
import type { DuckDBValue } from '@duckdb/node-api';
import { md5Hex } from '../util/hash.js';
import { fieldSql, isFieldName } from '../catalog/fields.js';
import type { ReduceStep, StepContext, StepStats } from './types.js';

/**
 * Deterministic train/dev/test assignment.
 *
 * A sample's split is a pure function of its key (its id, group, label or a meta field) and a salt:
 *
 *   u = parseInt(md5(salt + key).slice(0, 8), 16) / 2**32          (u in [0, 1))
 *   split = the first split, in the order the ratios are listed, whose cumulative ratio exceeds u
 *           (the last split takes whatever floating-point rounding leaves above the final sum)
 *
 * The same in Python, to check or reproduce an assignment outside imgsift:
 *
 *   u = int(hashlib.md5((salt + key).encode()).hexdigest()[:8], 16) / 2**32
 *   cum = list(itertools.accumulate(ratios.values()))
 *   split = next((n for n, c in zip(ratios, cum) if u < c), list(ratios)[-1])
 *
 * Because it depends on nothing but the key, adding samples never moves an existing one, and all
 * samples sharing a key (a group) land in the same split. Proportions are exact only in
 * expectation: a split of ratio p over n keys gets Binomial(n, p) of them (±0.5% at n = 100,000).
 *
 * `stratify_by: label` with `stratify_mode: hash` (the default) keeps exactly this assignment —
 * hashing is already stratified in expectation, per label — and reports per label how far each
 * split is from its target, and which labels got no sample in a split. Small labels can miss a
 * split entirely (a label of 20 samples gets no 5% test sample with probability 0.95^20 = 36%).
 * `stratify_mode: rank` makes per-label proportions exact instead: within each label, keys are
 * ordered by their hash, and the key of rank i (of n) takes the split whose cumulative range holds
 * (i + 0.5) / n. The price is stability: adding k keys to a label of n shifts ranks by up to k, so
 * existing keys lying within about k/n of a split boundary (in that label's hash order) can move.
 * A key (group) with samples of several labels is ranked under its smallest label.
 */

const SPLIT_NAME = /^[a-z][a-z0-9_-]*$/;

export const SplitParams = z
  .object({
    ratios: z
      .record(z.string(), z.number())
      .superRefine((ratios, ctx) => {
        for (const issue of ratioProblems(ratios)) ctx.addIssue({ code: 'custom', message: issue });
      }),
    /**
     * What is hashed: any sample field (src/catalog/fields.ts): 'id', 'group' (group_key), 'label',
     * another catalog column, or a metadata path such as a derived `sku_id` or `item.style`.
     */
    group_by: z
      .string()
      .default('id')
      .refine(isFieldName, {
        message: `group_by must be a field name: a catalog column (id, group, label, ...) or a metadata path like sku_id or item.pair_id`,
      }),
    stratify_by: z.literal('label').optional(),
    stratify_mode: z.enum(['hash', 'rank']).default('hash'),
    /** Keep the split the source gave a sample (samples.source_split) when it has one. */
    keep_source_splits: z.boolean().default(false),
    /** Salt prepended to every key; change it to draw a different, equally deterministic split. */
    seed: z.string().default(''),
  })
  .strict();
export type SplitParams = z.infer<typeof SplitParams>;

/** Problems with a ratios map, as messages naming the split and the rule it breaks. */
export function ratioProblems(ratios: Record<string, number>): string[] {
  const out: string[] = [];
  const names = Object.keys(ratios);
  if (names.length === 0) out.push('ratios must name at least one split, e.g. { train: 0.9, test: 0.1 }');
  for (const name of names) {
    if (!SPLIT_NAME.test(name)) out.push(`ratios: split name '${name}' must match ${SPLIT_NAME} (lowercase letter first)`);
    const r = ratios[name];
    if (!Number.isFinite(r) || r <= 0) out.push(`ratios.${name} must be a positive number, got ${r}`);
  }
  const sum = names.reduce((s, n) => s + ratios[n], 0);
  if (names.length > 0 && Math.abs(sum - 1) > 1e-9) {
    out.push(`ratios must sum to 1 (within 1e-9), got ${sum} (${names.map((n) => `${n}: ${ratios[n]}`).join(', ')})`);
  }
  return out;
}

/** Cumulative upper bounds of the splits, in the order listed. */
export function cumulative(ratios: Record<string, number>): Array<{ name: string; upTo: number }> {
  let acc = 0;
  return Object.entries(ratios).map(([name, r]) => ({ name, upTo: (acc += r) }));
}

/** The position in [0, 1) that `salt + key` hashes to. */
export function hashUnit(key: string, salt = ''): number {
  return parseInt(md5Hex(salt + key).slice(0, 8), 16) / 2 ** 32;
}

/** The split of one key: the pure function the SQL path reproduces exactly. */
export function assignSplit(key: string, ratios: Record<string, number>, salt = ''): string {
  return pickSplit(hashUnit(key, salt), cumulative(ratios));
}

function pickSplit(u: number, cum: Array<{ name: string; upTo: number }>): string {
  for (const c of cum) if (u < c.upTo) return c.name;
  return cum[cum.length - 1].name;
}

/**
 * The hash path in SQL. u = h / 2^32 with h an integer, so `u < t` ⟺ `h < ceil(t·2^32)`
 * (t·2^32 is exact in binary floating point); comparing 8-digit lowercase hex strings compares
 * the integers, so DuckDB's md5() reproduces `assignSplit` bit for bit without float parsing.
 */
export function splitCaseSql(hexExpr: string, ratios: Record<string, number>): string {
  const cum = cumulative(ratios);
  const arms: string[] = [];
  for (let i = 0; i < cum.length - 1; i++) {
    const bound = Math.ceil(cum[i].upTo * 2 ** 32);
    if (bound >= 2 ** 32) arms.push(`WHEN true THEN ${sqlString(cum[i].name)}`);
    else arms.push(`WHEN ${hexExpr} < '${bound.toString(16).padStart(8, '0')}' THEN ${sqlString(cum[i].name)}`);
  }
  const last = sqlString(cum[cum.length - 1].name);
  return arms.length ? `CASE ${arms.join(' ')} ELSE ${last} END` : last;
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** SQL for the hashed key of a row of `active` (aliased `a`); null keys fall back to the id. */
function keySql(groupBy: string): string {
  switch (groupBy) {
    case 'id':
      return 'a.id';
    case 'group':
      return 'coalesce(a.group_key, a.id)';
    default:
      return `coalesce(${fieldSql(groupBy, 'a')}, a.id)`;
  }
}

export const splitStep: ReduceStep<SplitParams> = {
  kind: 'reduce',
  name: 'split',
  description: 'assign each sample a deterministic split from a hash of its id, group, label or meta field',
  params: SplitParams,
  async run(ctx: StepContext, params: SplitParams): Promise<StepStats> {
    const { catalog } = ctx;
    const salt = params.seed;
    const key = keySql(params.group_by);
    const keepSource = params.keep_source_splits ? `a.source_split IS NOT NULL` : 'false';
    const sqlParams: DuckDBValue[] = [salt];

    let assigned: string;
    if (params.stratify_by === 'label' && params.stratify_mode === 'rank') {
      // Rank keys within their label by hash, then place rank i of n at (i + 0.5) / n.
      const cum = cumulative(params.ratios);
      const arms = cum
        .slice(0, -1)
        .map((c, i) => `WHEN r.p < $${i + 2}::DOUBLE THEN ${sqlString(c.name)}`)
        .join(' ');
      const last = sqlString(cum[cum.length - 1].name);
      sqlParams.push(...cum.slice(0, -1).map((c) => c.upTo));
      assigned = `
        WITH k AS (SELECT a.id, ${key} AS key, a.label, ${keepSource} AS keep, a.source_split FROM active a),
        g AS (SELECT key, min(label) AS lab, substr(md5($1 || key), 1, 8) AS h FROM k WHERE NOT keep GROUP BY key),
        r AS (SELECT key, (row_number() OVER (PARTITION BY lab ORDER BY h, key) - 0.5)
                          / count(*) OVER (PARTITION BY lab) AS p FROM g)
        SELECT k.id, CASE WHEN k.keep THEN k.source_split ELSE ${arms ? `CASE ${arms} ELSE ${last} END` : last} END AS split
        FROM k LEFT JOIN r ON r.key = k.key`;
    } else {
      const hashCase = splitCaseSql(`substr(md5($1 || k.key), 1, 8)`, params.ratios);
      assigned = `
        WITH k AS (SELECT a.id, ${key} AS key, ${keepSource} AS keep, a.source_split FROM active a)
        SELECT k.id, CASE WHEN k.keep THEN k.source_split ELSE ${hashCase} END AS split FROM k`;
    }
    await catalog.run(
      `UPDATE samples SET split = x.split FROM (${assigned}) x WHERE samples.id = x.id`,
      // One split needs no hash, and DuckDB refuses a parameter the statement does not use.
      assigned.includes('$1') ? sqlParams : [],
    );
    return splitStats(ctx, params);
  },
};

/** Count and percentage per split; with stratify_by, the worst per-label deviation from target. */
async function splitStats(ctx: StepContext, params: SplitParams): Promise<StepStats> {
  const { catalog } = ctx;
  const rows = await catalog.all<{ split: string; n: number }>(
    `SELECT split, count(*)::INTEGER AS n FROM active GROUP BY split ORDER BY split`,
  );
  const total = rows.reduce((s, r) => s + r.n, 0);
  const stats: StepStats = { samples: total };
  if (params.keep_source_splits) {
    stats['kept source split'] = await catalog.scalar(`SELECT count(*) FROM active WHERE source_split IS NOT NULL`);
  }
  const order = [...Object.keys(params.ratios), ...rows.map((r) => r.split).filter((s) => !(s in params.ratios))];
  for (const name of order) {
    const n = rows.find((r) => r.split === name)?.n ?? 0;
    stats[name] = n;
    stats[`${name} %`] = total ? Math.round((n / total) * 10000) / 100 : 0;
  }
  if (params.stratify_by === 'label') {
    const per = await catalog.all<{ label: string | null; split: string; n: number; total: number }>(
      `SELECT label, split, count(*)::INTEGER AS n, (sum(count(*)) OVER (PARTITION BY label))::INTEGER AS total
       FROM active GROUP BY label, split`,
    );
    const byLabel = new Map<string | null, Map<string, number>>();
    const totals = new Map<string | null, number>();
    for (const r of per) {
      if (!byLabel.has(r.label)) byLabel.set(r.label, new Map());
      byLabel.get(r.label)!.set(r.split, r.n);
      totals.set(r.label, r.total);
    }
    let worst = 0;
    const missing: string[] = [];
    for (const [label, counts] of byLabel) {
      const n = totals.get(label)!;
      for (const [name, ratio] of Object.entries(params.ratios)) {
        const got = counts.get(name) ?? 0;
        worst = Math.max(worst, Math.abs(got / n - ratio));
        if (got === 0 && n * ratio >= 1) missing.push(`${label ?? '(none)'}→${name}`);
      }
    }
    stats.labels = byLabel.size;
    stats['worst label deviation %'] = Math.round(worst * 10000) / 100;
    if (missing.length) {
      stats['labels missing a split'] = missing.length;
      ctx.reporter.warn(
        `split: ${missing.length} label/split pairs expected ≥ 1 sample but got none (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''})`,
      );
    }
  }
  return stats;
}
