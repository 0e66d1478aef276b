import { z } from 'zod';
import { ImgsiftError } from '../errors.js';
import { computeVariants, type Border, type VariantHash } from '../image/variants.js';
import type { HashStepResult } from './hash.js';
import type { Json, MapStep, StepContext } from './types.js';

export const DedupSignalsParamsSchema = z
  .object({
    /** Also hash the content inside uniform padding (letterbox, pillarbox), to match padded copies. */
    trim_borders: z.boolean().default(true),
    /** Grey levels a padding pixel may stray from the padding's level (JPEG noise). */
    border_tolerance: z.number().int().min(0).max(64).default(10),
  })
  .strict();
export type DedupSignalsParams = z.infer<typeof DedupSignalsParamsSchema>;

/** The result JSON of the step: everything `dedup` and `leaks` compare, for one content. */
export interface DedupSignalsResult {
  width: number;
  height: number;
  bytes: number;
  /** From the hash step (null when it ran without pixel hashing). */
  pixel_sha256: string | null;
  /** imagehash-exact pHash of the image as stored, from the hash step (null when not computed). */
  phash: string | null;
  /** Hashes of the variants (one reduced decode; consistent between images, not imagehash-exact). */
  variants: {
    plain: VariantHash;
    mirror: VariantHash;
    trimmed?: VariantHash;
    trimmed_mirror?: VariantHash;
    /** Central 80% of the content (inside any padding). */
    centre?: VariantHash;
  };
  border?: Border;
  /** pHashes of variants.ts EXTRA_VIEWS (crops, rotations, band-free views): candidate search only. */
  extra?: string[];
}

/**
 * Per-image signals for duplicate and leak search, beyond what the hash step computes: pHash and
 * dHash of the image mirrored, of its content inside uniform padding, and of its central part.
 * Reads the hash step's results (exact pHash, decoded-pixel sha256) and carries them, so `dedup`
 * and `leaks` read one row.
 */
export const dedupSignalsStep: MapStep<DedupSignalsParams> = {
  kind: 'map',
  name: 'dedup_signals',
  version: 3,
  description: 'mirror- and padding-invariant pHash/dHash variants for duplicate and leak search (uses the hash step)',
  params: DedupSignalsParamsSchema,
  uses: ['hash'],

  async run(input, params) {
    const hash = (input.upstream.hash ?? null) as HashStepResult | null;
    const v = await computeVariants(input.bytes, { trim: params.trim_borders, border: { tolerance: params.border_tolerance } });
    const result: DedupSignalsResult = {
      width: v.width,
      height: v.height,
      bytes: input.bytes.length,
      pixel_sha256: hash?.pixel_sha256 ?? null,
      phash: hash?.phash ?? null,
      variants: { plain: v.plain, mirror: v.mirror, ...(v.trimmed ? { trimmed: v.trimmed, trimmed_mirror: v.trimmed_mirror } : {}), centre: v.centre },
      ...(v.border ? { border: v.border } : {}),
      extra: v.extra,
    };
    return { result: result as unknown as Json };
  },

  async afterAll(ctx, _params, paramsHash) {
    await recordStepRun(ctx, 'dedup_signals', paramsHash);
  },

  async stats(ctx) {
    const items = await ctx.catalog.scalar(
      `SELECT count(*) FROM (${signalRowsSql()}) s`, [ctx.runId],
    );
    const padded = await ctx.catalog.scalar(
      `SELECT count(*) FROM (${signalRowsSql()}) s WHERE json_exists(s.result, '$.border')`, [ctx.runId],
    );
    return { 'images with signals': items, 'padding found': padded };
  },
};

/** Remember which parameters a per-sample step ran with in this run. */
export async function recordStepRun(ctx: StepContext, step: string, paramsHash: string): Promise<void> {
  await ctx.catalog.run(`INSERT OR REPLACE INTO step_runs (run_id, step, params_hash) VALUES (?, ?, ?)`, [ctx.runId, step, paramsHash]);
}

/**
 * The active samples with this run's dedup_signals result ($1 = run id): id, path, split, ord,
 * uri, sha256 and result. Samples whose image failed to read or decode are absent, and so are
 * augmented copies (`augment` children): they are near copies of their parent by design, so the
 * duplicate and leak searches never compare a child with its parent.
 */
export function signalRowsSql(): string {
  return `SELECT a.id, a.path, a.split, a.ord, f.uri, fs.sha256, sr.result
    FROM active a
    JOIN files f ON f.sample_id = a.id AND f.role = 'image'
    JOIN file_status fs ON fs.uri = f.uri AND fs.sha256 IS NOT NULL
    JOIN step_runs r ON r.run_id = $1 AND r.step = 'dedup_signals'
    JOIN step_results sr ON sr.content_hash = fs.sha256 AND sr.step = 'dedup_signals' AND sr.params_hash = r.params_hash AND sr.ok
    WHERE NOT (a.parent_id IS NOT NULL AND coalesce(json_exists(a.meta, '$.augment'), false))`;
}

/** One image as the duplicate and leak searches see it. */
export interface SignalItem {
  sampleId: string;
  path: string;
  split: string | null;
  ord: number;
  uri: string;
  sha256: string;
  signals: DedupSignalsResult;
}

/**
 * This run's signals of the active samples, in ingest order, and how many active samples have
 * none (unreadable or undecodable). Throws when dedup_signals did not run earlier in the recipe.
 */
export async function loadSignalItems(ctx: StepContext, step: string): Promise<{ items: SignalItem[]; missing: number }> {
  const ran = await ctx.catalog.scalar(`SELECT count(*) FROM step_runs WHERE run_id = ? AND step = 'dedup_signals'`, [ctx.runId]);
  if (!ran) {
    throw new ImgsiftError(
      `step '${step}' needs the per-sample step 'dedup_signals' to run earlier in the recipe (after 'hash'): ` +
        `add '- hash: {}' and '- dedup_signals: {}' before '- ${step}: ...'`,
    );
  }
  const rows = await ctx.catalog.all<{ id: string; path: string | null; split: string | null; ord: bigint; uri: string; sha256: string; result: string }>(
    `${signalRowsSql()} ORDER BY a.ord`, [ctx.runId],
  );
  const items = rows.map((r) => ({
    sampleId: r.id, path: r.path ?? r.id, split: r.split, ord: Number(r.ord), uri: r.uri, sha256: r.sha256,
    signals: (typeof r.result === 'string' ? JSON.parse(r.result) : r.result) as DedupSignalsResult,
  }));
  const active = await ctx.catalog.scalar(`SELECT count(*) FROM active`);
  return { items, missing: active - items.length };
}
