import { z } from 'zod';
import { semanticLeaks } from './semantic-leaks.js';
import type { Catalog, Columns } from '../catalog/catalog.js';
import { COLUMNS } from '../catalog/catalog.js';
import { ImgsiftError } from '../errors.js';
import { HammingIndex, codesFromHex } from '../index/hamming.js';
import { alignMatch } from '../image/overlay-match.js';
import { errorMessage } from '../errors.js';
import { readUri } from '../util/uri.js';
import { DEFAULT_THRESHOLDS, bestVariantPair, judgePair, parseExtraCodes, parseVariantCodes, type MatchItem } from './dedup-match.js';
import { loadSignalItems, type SignalItem } from './dedup-signals.js';
import type { ReduceStep, StepContext, StepStats } from './types.js';

/**
 * Train–test leaks as seed 002 finds them: a picture of an evaluation split that is also in an
 * earlier split. Methods:
 *  - exact: same file bytes or same decoded pixels (leak_type exact_duplicate);
 *  - perceptual: imagehash pHash within `phash_threshold` bits (leak_type near_duplicate); with
 *    `variants`, also mirrored or padded copies whose variant pHash is within the threshold and
 *    whose dHash agrees (within `dhash_threshold`); with `matcher` (default), also what dedup's
 *    matcher finds — copies cropped, rotated, watermarked or captioned, confirmed by alignment;
 *  - semantic: image embeddings within cosine `semantic_threshold` (leak_type semantic_duplicate);
 *    needs the embed step.
 * A pair is reported once, under the first method that finds it in the order exact, perceptual,
 * semantic.
 */

export const LEAK_METHODS = ['exact', 'perceptual', 'semantic'] as const;
export type LeakMethodName = (typeof LEAK_METHODS)[number];
export type LeakType = 'exact_duplicate' | 'near_duplicate' | 'semantic_duplicate';

const splitList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((s) => (Array.isArray(s) ? s : [s]));

export const LeaksParamsSchema = z
  .object({
    /** [reference splits, evaluation splits]: e.g. [train, [dev, test]]. */
    between: z.tuple([splitList, splitList]).default([['train'], ['test']]),
    methods: z.array(z.enum(LEAK_METHODS)).min(1).default(['exact', 'perceptual']).transform((m) => LEAK_METHODS.filter((x) => m.includes(x))),
    phash_threshold: z.number().int().min(0).max(64).default(5),
    semantic_threshold: z.number().gt(0).max(1).default(0.95),
    /** Perceptual: also compare mirrored and unpadded variants (needs dHash agreement too). */
    variants: z.boolean().default(true),
    /**
     * Perceptual: also use dedup's matcher (mirror, padding, crop, rotation, caption-band views;
     * borderline pairs confirmed by alignment). `phash_threshold` keeps its plain-hash meaning.
     */
    matcher: z.boolean().default(true),
    /** Matcher: confirm borderline pairs by aligning the images (off: only the hash verdicts count). */
    geometric: z.boolean().default(true),
    dhash_threshold: z.number().int().min(0).max(64).default(12),
    /**
     * Which copy of a leaked pair gets the `leak` issue (and so is removed by `filter: drop: [leak]`):
     * the evaluation-side copy (default) or the reference-side one. The filter drops it only while
     * a copy on the other side stays.
     */
    remove: z.enum(['evaluation', 'reference']).default('evaluation'),
  })
  .strict()
  .superRefine((p, ctx) => {
    const both = p.between[0].filter((s) => p.between[1].includes(s));
    if (both.length) ctx.addIssue({ code: 'custom', path: ['between'], message: `split(s) ${both.join(', ')} on both sides of 'between'` });
  });
export type LeaksParams = z.infer<typeof LeaksParamsSchema>;

/** One leaked pair: `train` from the reference splits, `test` from the evaluation splits. */
export interface LeakPair {
  train: SignalItem;
  test: SignalItem;
  method: LeakMethodName;
  leakType: LeakType;
  similarity: number;
  /** pHash bits apart (null for semantic). */
  hammingDistance: number | null;
  evidence: Record<string, unknown>;
}

/** A way of finding leaks; `semantic` is the slot an embedding search fills. */
export interface LeakMethod {
  name: LeakMethodName;
  find(ctx: StepContext, train: SignalItem[], test: SignalItem[], params: LeaksParams): Promise<LeakPair[]>;
}

const exactMethod: LeakMethod = {
  name: 'exact',
  async find(_ctx, train, test) {
    const byKey = new Map<string, SignalItem[]>();
    const add = (k: string, it: SignalItem) => byKey.set(k, [...(byKey.get(k) ?? []), it]);
    for (const it of train) {
      add(`b:${it.sha256}`, it);
      if (it.signals.pixel_sha256) add(`p:${it.signals.pixel_sha256}`, it);
    }
    const out: LeakPair[] = [];
    for (const t of test) {
      const seen = new Set<string>();
      const keys: Array<[string, 'sha256' | 'pixels']> = [[`b:${t.sha256}`, 'sha256']];
      if (t.signals.pixel_sha256) keys.push([`p:${t.signals.pixel_sha256}`, 'pixels']);
      for (const [k, signal] of keys) {
        for (const tr of byKey.get(k) ?? []) {
          if (seen.has(tr.sampleId)) continue;
          seen.add(tr.sampleId);
          out.push({ train: tr, test: t, method: 'exact', leakType: 'exact_duplicate', similarity: 1, hammingDistance: 0, evidence: { signal } });
        }
      }
    }
    return out;
  },
};

const perceptualMethod: LeakMethod = {
  name: 'perceptual',
  async find(ctx, train, test, params) {
    const r = params.phash_threshold;
    const best = new Map<string, LeakPair>();
    const offer = (p: LeakPair) => {
      const k = `${p.train.sampleId}\u0000${p.test.sampleId}`;
      const prev = best.get(k);
      if (!prev || p.hammingDistance! < prev.hammingDistance!) best.set(k, p);
    };
    const pair = (tr: SignalItem, t: SignalItem, d: number, evidence: Record<string, unknown>): LeakPair => ({
      train: tr, test: t, method: 'perceptual', leakType: 'near_duplicate', similarity: Math.round((1 - d / 64) * 1e4) / 1e4, hammingDistance: d, evidence,
    });

    // Seed 002's test: imagehash pHash of the images as stored.
    const withHash = train.filter((it) => it.signals.phash);
    if (withHash.length) {
      const index = new HammingIndex(codesFromHex(withHash.map((it) => it.signals.phash!)));
      for (const t of test) {
        if (!t.signals.phash) continue;
        const c = codesFromHex([t.signals.phash]);
        const hits = index.query(c.hi[0], c.lo[0], r);
        for (let k = 0; k < hits.ids.length; k++) offer(pair(withHash[hits.ids[k]], t, hits.distances[k], { signal: 'phash' }));
      }
    }
    if (params.variants) {
      const codes = train.map((it) => parseVariantCodes(it.signals));
      const owner: number[] = [];
      const hi: number[] = [];
      const lo: number[] = [];
      codes.forEach((cs, i) => cs.forEach((c) => (owner.push(i), hi.push(c.pHi), lo.push(c.pLo))));
      const index = new HammingIndex({ hi: Uint32Array.from(hi), lo: Uint32Array.from(lo) });
      for (const t of test) {
        const tc = parseVariantCodes(t.signals);
        const candidates = new Set<number>();
        for (const c of tc) {
          const hits = index.query(c.pHi, c.pLo, r);
          for (const id of hits.ids) candidates.add(owner[id]);
        }
        for (const i of candidates) {
          const m = bestVariantPair(codes[i], tc);
          if (m.phash > r || m.dhash > params.dhash_threshold) continue;
          offer(pair(train[i], t, m.phash, { signal: 'phash_variants', variants: m.variants, phash: m.phash, dhash: m.dhash }));
        }
      }
    }
    if (params.matcher) await matcherLeaks(ctx, train, test, params, (tr, t, d, ev) => offer(pair(tr, t, d, ev)));
    return [...best.values()];
  },
};

/**
 * Dedup's matcher between the sides: variants (mirror, padding, centre) within dedup's thresholds,
 * and borderline pairs — near in pHash, or a variant near an extra view (crop, rotation, band-free)
 * of the other — confirmed by laying one image on the other (align.ts).
 */
async function matcherLeaks(
  ctx: StepContext, train: SignalItem[], test: SignalItem[], params: LeaksParams,
  offer: (tr: SignalItem, t: SignalItem, d: number, evidence: Record<string, unknown>) => void,
): Promise<void> {
  const t = DEFAULT_THRESHOLDS;
  const radius = Math.max(t.candidateRadius, t.extraRadius ?? -1);
  const asItem = (it: SignalItem): MatchItem => ({ id: it.sampleId, path: it.path, ord: it.ord, sha256: it.sha256, signals: it.signals });
  const codes = train.map((it) => parseVariantCodes(it.signals));
  // Index `all`: the train side's variants and extra views; `base`: its variants only.
  const build = (withExtra: boolean) => {
    const owner: number[] = [];
    const hi: number[] = [];
    const lo: number[] = [];
    train.forEach((it, i) => {
      for (const c of codes[i]) (owner.push(i), hi.push(c.pHi), lo.push(c.pLo));
      if (withExtra) for (const e of parseExtraCodes(it.signals)) (owner.push(i), hi.push(e.hi), lo.push(e.lo));
    });
    return { owner, index: new HammingIndex({ hi: Uint32Array.from(hi), lo: Uint32Array.from(lo) }) };
  };
  if (train.length === 0) return;
  const all = build(true);
  const base = build(false);
  let failed = 0;
  for (const te of test) {
    const tc = parseVariantCodes(te.signals);
    const candidates = new Set<number>();
    for (const c of tc) for (const id of all.index.query(c.pHi, c.pLo, radius).ids) candidates.add(all.owner[id]);
    for (const e of parseExtraCodes(te.signals)) for (const id of base.index.query(e.hi, e.lo, t.extraRadius ?? -1).ids) candidates.add(base.owner[id]);
    let testBytes: Buffer | undefined;
    for (const i of [...candidates].sort((x, y) => x - y)) {
      const tr = train[i];
      const v = judgePair(asItem(tr), asItem(te), t, [codes[i], tc]);
      if (v.verdict === 'duplicate') {
        offer(tr, te, v.distance, { ...v.evidence, signal: 'matcher', matcher_method: v.method });
        continue;
      }
      if (v.verdict !== 'borderline' || !params.geometric) continue;
      try {
        testBytes ??= await readUri(te.uri);
        const r = await alignMatch(await readUri(tr.uri), testBytes, { mirror: v.mirror });
        if (!r.same) continue;
        offer(tr, te, v.distance, {
          signal: 'aligned', variants: v.evidence.variants, phash: v.evidence.phash, angle: r.angle, scale: r.scale, regions: r.regions, agree: r.agree, ncc: r.ncc,
        });
      } catch (err) {
        failed++;
        ctx.reporter.warn(`leaks: could not compare ${tr.path} with ${te.path}: ${errorMessage(err)}`);
      }
    }
  }
  if (failed) ctx.reporter.warn(`leaks: ${failed} pair check(s) failed; those pairs are not reported`);
}

/** Semantic leaks need the embed step's vectors for this run's samples: say so clearly when absent. */
async function semanticAvailable(ctx: StepContext): Promise<void> {
  const embedded = await ctx.catalog
    .scalar(
      `SELECT count(*) FROM active a JOIN files f ON f.sample_id = a.id AND f.role = 'image'
       JOIN file_status fs ON fs.uri = f.uri JOIN embeddings e ON e.content_hash = fs.sha256`,
    )
    .catch(() => 0);
  if (!embedded) {
    throw new ImgsiftError(
      "leaks: method 'semantic' compares image embeddings, but the 'embed' step has not run in this build; " +
        "add an '- embed: {...}' step before 'leaks', or use methods [exact, perceptual]",
    );
  }
}

const semanticMethod: LeakMethod = {
  name: 'semantic',
  async find(ctx, train, test, params) {
    await semanticAvailable(ctx);
    const byId = new Map<string, SignalItem>([...train, ...test].map((it) => [it.sampleId, it]));
    const pairs = await semanticLeaks(ctx.catalog, ctx.runId, params.between, params.semantic_threshold, { workdir: ctx.workdir });
    const out: LeakPair[] = [];
    for (const p of pairs) {
      const a = byId.get(p.train_sample);
      const b = byId.get(p.sample);
      if (!a || !b) continue; // a side that is not in this comparison (or has no signals)
      out.push({
        train: a, test: b, method: 'semantic', leakType: 'semantic_duplicate', similarity: p.similarity,
        hammingDistance: null, evidence: { model: p.model, similarity: p.similarity },
      });
    }
    return out;
  },
};

const METHODS: Record<LeakMethodName, LeakMethod> = { exact: exactMethod, perceptual: perceptualMethod, semantic: semanticMethod };

const LEAK_COLUMNS: Columns = {
  run_id: 'int', train_id: 'varchar', test_id: 'varchar', train_split: 'varchar', test_split: 'varchar', method: 'varchar',
  leak_type: 'varchar', similarity: 'double', hamming_distance: 'int', evidence: 'json',
};

/** Find the leaks between the two sides; each pair once, under the first method that finds it. */
export async function findLeaks(ctx: StepContext, train: SignalItem[], test: SignalItem[], params: LeaksParams): Promise<LeakPair[]> {
  const found = new Map<string, LeakPair>();
  for (const name of params.methods) {
    for (const p of await METHODS[name].find(ctx, train, test, params)) {
      const k = `${p.train.sampleId}\u0000${p.test.sampleId}`;
      if (!found.has(k)) found.set(k, p);
    }
  }
  const byPath = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...found.values()].sort((a, b) => byPath(a.test.path, b.test.path) || byPath(a.train.path, b.train.path));
}

export const leaksStep: ReduceStep<LeaksParams> = {
  kind: 'reduce',
  name: 'leaks',
  description: 'train–test leaks: evaluation images that are exact or near copies of reference-split images (seed 002)',
  params: LeaksParamsSchema,
  async run(ctx, params) {
    // Fail on an unavailable method before any work.
    if (params.methods.includes('semantic')) await semanticAvailable(ctx);
    const { items, missing } = await loadSignalItems(ctx, 'leaks');
    const [refSplits, evalSplits] = params.between;
    const train = items.filter((it) => it.split !== null && refSplits.includes(it.split));
    const test = items.filter((it) => it.split !== null && evalSplits.includes(it.split));
    const pairs = await findLeaks(ctx, train, test, params);

    const rows = pairs.map((p) => ({
      run_id: ctx.runId, train_id: p.train.sampleId, test_id: p.test.sampleId, train_split: p.train.split, test_split: p.test.split,
      method: p.method, leak_type: p.leakType, similarity: p.similarity, hamming_distance: p.hammingDistance, evidence: p.evidence,
    }));
    // One issue per sample of the side to remove: its closest match on the other side, and how many there are.
    const onReference = params.remove === 'reference';
    const perSample = new Map<string, { best: LeakPair; n: number }>();
    for (const p of pairs) {
      const key = onReference ? p.train.sampleId : p.test.sampleId;
      const cur = perSample.get(key);
      if (!cur) perSample.set(key, { best: p, n: 1 });
      else {
        cur.n++;
        if (p.similarity > cur.best.similarity) cur.best = p;
      }
    }
    const perTest = perSample;
    const issues = [...perSample.values()].map(({ best, n }) => {
      const [self, other] = onReference ? [best.train, best.test] : [best.test, best.train];
      return {
        sample_id: self.sampleId, type: 'leak', score: best.similarity, flagged: true,
        evidence: {
          // `train_sample` names the other side for the review app's and the report's pair views.
          train_sample: other.sampleId, train_path: other.path, train_split: other.split, method: best.method,
          leak_type: best.leakType, similarity: best.similarity, distance: best.hammingDistance, matches: n,
        },
        step: 'leaks', source: 'imgsift', run_id: ctx.runId,
      };
    });
    await ctx.catalog.transaction(async (tx) => {
      await tx.run(`DELETE FROM leak_pairs WHERE run_id = ?`, [ctx.runId]);
      await tx.run(`DELETE FROM issues WHERE step = 'leaks' AND source = 'imgsift'`);
      await tx.append('leak_pairs', LEAK_COLUMNS, rows);
      await tx.append('issues', COLUMNS.issues, issues);
    });

    const stats: StepStats = {
      [`reference images (${refSplits.join(', ')})`]: train.length,
      [`evaluation images (${evalSplits.join(', ')})`]: test.length,
      'leaked pairs': pairs.length,
      [onReference ? 'reference images flagged (remove: reference)' : 'evaluation images leaked']: perTest.size,
    };
    for (const m of params.methods) stats[`pairs by ${m}`] = pairs.filter((p) => p.method === m).length;
    if (missing) stats['images without signals (unreadable or undecodable)'] = missing;
    return stats;
  },
};

/** A leak row as the report CSV has it (seed 002's columns). */
export interface LeakRecord {
  train_id: string;
  test_id: string;
  train_image: string;
  test_image: string;
  method: LeakMethodName;
  similarity: number;
  leak_type: LeakType;
  hamming_distance: number | null;
}

/** The run's leak pairs with the samples' paths, ordered by test then train path. */
export async function readLeaks(catalog: Catalog, runId: number): Promise<LeakRecord[]> {
  return catalog.all<LeakRecord>(
    `SELECT l.train_id, l.test_id, coalesce(tr.path, l.train_id) AS train_image, coalesce(te.path, l.test_id) AS test_image, l.method, l.similarity,
            l.leak_type, l.hamming_distance
     FROM leak_pairs l JOIN samples tr ON tr.id = l.train_id JOIN samples te ON te.id = l.test_id
     WHERE l.run_id = ? ORDER BY test_image, train_image`,
    [runId],
  );
}
