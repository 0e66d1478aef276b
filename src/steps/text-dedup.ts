import { z } from 'zod';
import { COLUMNS, type Row } from '../catalog/catalog.js';
import { EmbeddingSpace } from '../embed/space.js';
import { SelfDeduper, crossDedup, describeMeasure, type DedupFigures, type TextDedupOptions, type TextMatch } from '../text/dedup.js';
import { embeddingCrossDedup, embeddingSelfDedup } from '../text/embedding-dedup.js';
import { DEFAULT_NUM_PERM } from '../text/minhash.js';
import { TextField, textFieldSql } from '../text/field.js';
import type { ReduceStep, StepContext, StepStats } from './types.js';

/**
 * Near-duplicate captions / prompts (seed 004): self-dedup at one threshold, then optionally
 * cross-split dedup at another — rows of the `from` splits near a row of the `against` splits are
 * removed (train rows that leak validation prompts); the `against` rows are never removed. To remove
 * from the other side instead, as seed 004's v7 did (2,988 validation rows), swap the two:
 * `cross: { from: [validation], against: [train] }`. The summary states the measure used.
 *
 * Every removal becomes a flagged `text_duplicate` issue on the removed sample, with the matched
 * sample's id, the similarity and the kind ('self' | 'cross') as evidence; a later
 * `filter: { drop: [text_duplicate] }` takes them out of the dataset. With method 'minhash' texts
 * are compared after normalisation (src/text/normalize.ts) by the exact Jaccard of their character
 * (or word) n-gram multisets (src/text/dedup.ts);
 * with 'embedding', by the cosine of their embed_text vectors (src/text/embedding-dedup.ts).
 */

const SPLIT_NAME = /^[a-z][a-z0-9_-]*$/;
const Threshold = z.number().gt(0).max(1);

export const TextDedupParams = z
  .object({
    /** 'text' (the sample's text column) or the name of a field of `meta`. */
    field: TextField,
    /**
     * 'minhash': Jaccard similarity of character n-grams (spelling-level copies; no model needed).
     * 'embedding': cosine similarity of text embeddings from an earlier `embed_text` step (same
     * meaning in other words); thresholds are then cosines.
     */
    method: z.enum(['minhash', 'embedding']).default('minhash'),
    /** For method embedding: the text model's id or name (default: the only one with embeddings of `field`). */
    model: z.string().optional(),
    /** Self-dedup threshold (Jaccard of character n-grams, or cosine). */
    threshold: Threshold.default(0.85),
    /** Run self-dedup (false: only the cross-split pass). */
    self: z.boolean().default(true),
    /** Self-dedup within each split separately (samples with no split form one group), as seed 004 does. */
    per_split: z.boolean().default(true),
    cross: z
      .object({
        against: z.array(z.string().regex(SPLIT_NAME)).min(1).default(['validation']),
        from: z.array(z.string().regex(SPLIT_NAME)).min(1).default(['train']),
        threshold: Threshold.default(0.75),
      })
      .strict()
      .refine((c) => !c.from.some((s) => c.against.includes(s)), {
        message: 'cross: a split cannot be in both `from` and `against`',
      })
      .optional(),
    /**
     * 'char': character n-grams (default n 3): catches spelling-level copies, an added ", 4k".
     * 'word': word n-grams (default n 1, a bag of words): reordered words and modifiers are copies;
     * n 2 makes word order count.
     */
    shingles: z.enum(['char', 'word']).default('char'),
    /** n-gram length: default 3 for char, 1 for word. */
    ngram: z.number().int().min(1).max(32).optional(),
    /**
     * Count repeated n-grams (weighted Jaccard), so `a cat a cat a cat` is not a near copy of
     * `a cat` (default true; false: plain n-gram sets, as datasketch does).
     */
    multiset: z.boolean().default(true),
    num_perm: z.number().int().min(1).max(1024).default(DEFAULT_NUM_PERM),
    normalize: z
      .object({
        lowercase: z.boolean().optional(),
        unicode: z.enum(['NFKC', 'NFC', 'none']).optional(),
        punctuation: z.enum(['remove', 'keep']).optional(),
        whitespace: z.boolean().optional(),
      })
      .strict()
      .default({}),
  })
  .strict()
  .refine((p) => p.self || p.cross !== undefined, { message: 'text_dedup: with self: false, a `cross` block is needed' })
  .refine((p) => p.model === undefined || p.method === 'embedding', { message: 'model: only method embedding uses a model', path: ['model'] });
export type TextDedupParams = z.infer<typeof TextDedupParams>;

export const TEXT_DUPLICATE = 'text_duplicate';

/** Evidence of a `text_duplicate` issue. */
export interface TextDuplicateEvidence {
  kind: 'self' | 'cross';
  /** Id of the sample this one is a near copy of (kept). */
  matched: string;
  similarity: number;
  threshold: number;
  field: string;
  /** The text model, for method embedding. */
  model?: string;
}

interface TextRow {
  id: string;
  split: string | null;
  text: string | null;
}

export const textDedupStep: ReduceStep<TextDedupParams> = {
  kind: 'reduce',
  name: 'text_dedup',
  description: 'near-duplicate captions/prompts (MinHash-LSH with exact Jaccard, or text-embedding cosine): self and cross-split',
  params: TextDedupParams,
  async run(ctx: StepContext, params: TextDedupParams): Promise<StepStats> {
    const { catalog } = ctx;
    const rows = await catalog.all<TextRow>(`SELECT id, split, ${textFieldSql(params.field)} AS text FROM active ORDER BY ord, id`);
    const matcher = params.method === 'embedding' ? await embeddingMatcher(ctx, params, rows) : minhashMatcher(params, rows);

    const issues: Row[] = [];
    const removed = new Set<number>();
    const record = (kind: 'self' | 'cross', threshold: number, m: TextMatch, rowsOf: number[], matchedOf: number[]) => {
      const row = rows[rowsOf[m.index]];
      const evidence: TextDuplicateEvidence = {
        kind, matched: rows[matchedOf[m.matched]].id, similarity: m.similarity, threshold, field: params.field,
      };
      if (matcher.model) evidence.model = matcher.model;
      issues.push({ sample_id: row.id, type: TEXT_DUPLICATE, score: m.similarity, flagged: true, evidence, step: 'text_dedup', source: 'imgsift', run_id: ctx.runId });
    };

    const stats: StepStats = { 'samples compared': rows.length, method: params.method, measure: matcher.measure };
    if (matcher.model) stats.model = matcher.model;
    if (params.self) {
      const groups = params.per_split ? groupBy(rows, (r) => r.split ?? '') : new Map([['', rows.map((_, i) => i)]]);
      const progress = ctx.reporter.progress('text dedup (self)', rows.length);
      let total = 0;
      let empty = 0;
      let lsh = '';
      for (const [split, members] of groups) {
        const r = matcher.self(members, params.threshold, (n) => {
          ctx.signal?.throwIfAborted();
          progress.tick(n);
        });
        for (const m of r.matches) {
          record('self', params.threshold, m, members, members);
          removed.add(members[m.index]);
        }
        total += r.matches.length;
        empty += r.empty;
        lsh = r.lsh ?? lsh;
        if (params.per_split && groups.size > 1) stats[`self duplicates: ${split || '(no split)'}`] = r.matches.length;
      }
      progress.finish();
      stats['self duplicates'] = total;
      stats['self threshold'] = params.threshold;
      if (lsh) stats['self lsh'] = lsh;
      stats['samples without text'] = empty;
    }

    if (params.cross) {
      const { from, against, threshold } = params.cross;
      const survivors = rows.map((_, i) => i).filter((i) => !removed.has(i));
      const fromRows = survivors.filter((i) => from.includes(rows[i].split ?? ''));
      const refRows = survivors.filter((i) => against.includes(rows[i].split ?? ''));
      const progress = ctx.reporter.progress(`text dedup (${from.join('+')} near ${against.join('+')})`, fromRows.length);
      const r = matcher.cross(fromRows, refRows, threshold, (n) => {
        ctx.signal?.throwIfAborted();
        progress.tick(n);
      });
      progress.finish();
      for (const m of r.matches) record('cross', threshold, m, fromRows, refRows);
      stats[`cross duplicates: ${from.join('+')} near ${against.join('+')}`] = r.matches.length;
      stats['cross threshold'] = threshold;
      if (r.lsh) stats['cross lsh'] = r.lsh;
      if (refRows.length === 0) {
        ctx.reporter.warn(`text_dedup: no active samples in split(s) ${against.join(', ')}; the cross-split pass removed nothing`);
      }
    }

    await catalog.transaction(async (tx) => {
      // The step recomputes every sample's finding, so earlier findings of this step are replaced.
      await tx.run(`DELETE FROM issues WHERE source = 'imgsift' AND step = 'text_dedup'`);
      await tx.append('issues', COLUMNS.issues, issues);
    });
    stats['samples kept'] = rows.length - issues.length;
    return stats;
  },
};

/**
 * One way of finding near-duplicate texts. Rows are indexes into the step's rows; a match's
 * `index` and `matched` are positions in the lists given. `tick` reports rows done.
 */
interface Matcher {
  /** Model id, for the embedding method. */
  model?: string;
  /** The similarity measure, in words, for the summary. */
  measure: string;
  self(members: number[], threshold: number, tick: (n: number) => void): { matches: TextMatch[]; empty: number; lsh?: string };
  cross(from: number[], against: number[], threshold: number, tick: (n: number) => void): { matches: TextMatch[]; lsh?: string };
}

function minhashMatcher(params: TextDedupParams, rows: TextRow[]): Matcher {
  const options = (threshold: number, tick: (n: number) => void): TextDedupOptions => {
    let last = 0;
    return {
      threshold, shingles: params.shingles, ngram: params.ngram, multiset: params.multiset, numPerm: params.num_perm, normalize: params.normalize,
      onProgress: (done) => {
        tick(done - last);
        last = done;
      },
    };
  };
  const lsh = (f: DedupFigures) => `${f.bands} bands x ${f.rowsPerBand} rows`;
  return {
    measure: describeMeasure(options(params.threshold, () => undefined)),
    self(members, threshold, tick) {
      const o = options(threshold, tick);
      const d = new SelfDeduper(o, members.length);
      const matches: TextMatch[] = [];
      for (const i of members) {
        const m = d.push(rows[i].text);
        if (m) matches.push(m);
      }
      o.onProgress!(members.length);
      return { matches, empty: d.figures.empty, lsh: lsh(d.figures) };
    },
    cross(from, against, threshold, tick) {
      const res = crossDedup(from.map((i) => rows[i].text), against.map((i) => rows[i].text), options(threshold, tick));
      return { matches: res.removed, lsh: lsh(res.figures) };
    },
  };
}

/** Cosine similarity of text embeddings from an earlier embed_text step (model: the only one, or `params.model`). */
async function embeddingMatcher(ctx: StepContext, params: TextDedupParams, rows: TextRow[]): Promise<Matcher> {
  const space = await EmbeddingSpace.open(ctx.catalog, { model: params.model, workdir: ctx.workdir, of: { kind: 'text', field: params.field } });
  const rowOfId = new Map(space.data.ids.map((id, r) => [id, r]));
  const rowOf = Int32Array.from(rows, (r) => rowOfId.get(r.id) ?? -1);
  return {
    model: space.data.model,
    measure: `cosine of ${space.data.model} text embeddings`,
    self(members, threshold, tick) {
      const matches = embeddingSelfDedup(space, rowOf, members, threshold);
      tick(members.length);
      return { matches, empty: members.filter((i) => rowOf[i] < 0).length };
    },
    cross(from, against, threshold, tick) {
      const matches = embeddingCrossDedup(space, rowOf, from, against, threshold);
      tick(from.length);
      return { matches };
    },
  };
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  items.forEach((t, i) => {
    const k = key(t);
    let g = out.get(k);
    if (!g) out.set(k, (g = []));
    g.push(i);
  });
  return out;
}
