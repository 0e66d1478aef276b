import { z } from 'zod';
import { COLUMNS, type Row } from '../catalog/catalog.js';
import { SelfDeduper, crossDedup, type DedupFigures, type TextDedupOptions, type TextMatch } from '../text/dedup.js';
import { DEFAULT_NGRAM, DEFAULT_NUM_PERM } from '../text/minhash.js';
import type { ReduceStep, StepContext, StepStats } from './types.js';

/**
 * Near-duplicate captions / prompts (seed 004): self-dedup at one threshold, then optionally
 * cross-split dedup at another — rows of the `from` splits near a row of the `against` splits are
 * removed (train rows that leak validation prompts), never the other way round.
 *
 * Every removal becomes a flagged `text_duplicate` issue on the removed sample, with the matched
 * sample's id, the exact Jaccard similarity and the kind ('self' | 'cross') as evidence; a later
 * `filter: { drop: [text_duplicate] }` takes them out of the dataset. Texts are compared after
 * normalisation (src/text/normalize.ts); see src/text/dedup.ts for the method.
 */

const SPLIT_NAME = /^[a-z][a-z0-9_-]*$/;
const META_FIELD = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const Threshold = z.number().gt(0).max(1);

export const TextDedupParams = z
  .object({
    /** 'text' (the sample's text column) or the name of a field of `meta`. */
    field: z.string().regex(META_FIELD, { message: `field must be 'text' or a meta field name matching ${META_FIELD}` }).default('text'),
    /** Self-dedup threshold (Jaccard of character n-grams). */
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
    ngram: z.number().int().min(1).max(32).default(DEFAULT_NGRAM),
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
  .refine((p) => p.self || p.cross !== undefined, { message: 'text_dedup: with self: false, a `cross` block is needed' });
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
}

interface TextRow {
  id: string;
  split: string | null;
  text: string | null;
}

function textSql(field: string): string {
  // META_FIELD admits no quote, so the JSON path needs no escaping.
  return field === 'text' ? 'text' : `json_extract_string(meta, '$."${field}"')`;
}

export const textDedupStep: ReduceStep<TextDedupParams> = {
  kind: 'reduce',
  name: 'text_dedup',
  description: 'near-duplicate captions/prompts (MinHash-LSH on character n-grams, exact Jaccard): self and cross-split',
  params: TextDedupParams,
  async run(ctx: StepContext, params: TextDedupParams): Promise<StepStats> {
    const { catalog } = ctx;
    const rows = await catalog.all<TextRow>(`SELECT id, split, ${textSql(params.field)} AS text FROM active ORDER BY ord, id`);
    const options = (threshold: number, label: string, total: number): TextDedupOptions => {
      const progress = ctx.reporter.progress(label, total);
      let last = 0;
      return {
        threshold, ngram: params.ngram, numPerm: params.num_perm, normalize: params.normalize,
        onProgress: (done) => {
          ctx.signal?.throwIfAborted();
          progress.tick(done - last);
          last = done;
          if (done === total) progress.finish();
        },
      };
    };

    const issues: Row[] = [];
    const removed = new Set<number>();
    const record = (kind: 'self' | 'cross', threshold: number, m: TextMatch, rowsOf: TextRow[], matchedOf: TextRow[]) => {
      const row = rowsOf[m.index];
      const evidence: TextDuplicateEvidence = {
        kind, matched: matchedOf[m.matched].id, similarity: m.similarity, threshold, field: params.field,
      };
      issues.push({ sample_id: row.id, type: TEXT_DUPLICATE, score: m.similarity, flagged: true, evidence, step: 'text_dedup', source: 'imgsift', run_id: ctx.runId });
    };

    const stats: StepStats = { 'samples compared': rows.length };
    let empty = 0;
    let selfLsh = '';
    if (params.self) {
      const groups = params.per_split ? groupBy(rows, (r) => r.split ?? '') : new Map([['', rows.map((_, i) => i)]]);
      const total = { removed: 0 };
      const o = options(params.threshold, 'text dedup (self)', rows.length);
      let done = 0;
      for (const [split, members] of groups) {
        const d = new SelfDeduper({ ...o, onProgress: undefined }, members.length);
        const groupRows = members.map((i) => rows[i]);
        groupRows.forEach((r, k) => {
          const m = d.push(r.text);
          if (m) {
            record('self', params.threshold, m, groupRows, groupRows);
            removed.add(members[k]);
          }
          if (++done % 4096 === 0) o.onProgress!(done);
        });
        const f: DedupFigures = d.figures;
        empty += f.empty;
        total.removed += f.removed;
        selfLsh = `${f.bands} bands x ${f.rowsPerBand} rows`;
        if (params.per_split && groups.size > 1) stats[`self duplicates: ${split || '(no split)'}`] = f.removed;
      }
      o.onProgress!(rows.length);
      stats['self duplicates'] = total.removed;
      stats['self threshold'] = params.threshold;
      stats['self lsh'] = selfLsh;
      stats['samples without text'] = empty;
    }

    if (params.cross) {
      const { from, against, threshold } = params.cross;
      const survivors = rows.map((_, i) => i).filter((i) => !removed.has(i));
      const fromRows = survivors.filter((i) => from.includes(rows[i].split ?? '')).map((i) => rows[i]);
      const refRows = survivors.filter((i) => against.includes(rows[i].split ?? '')).map((i) => rows[i]);
      const res = crossDedup(
        fromRows.map((r) => r.text),
        refRows.map((r) => r.text),
        options(threshold, `text dedup (${from.join('+')} near ${against.join('+')})`, fromRows.length),
      );
      for (const m of res.removed) record('cross', threshold, m, fromRows, refRows);
      stats[`cross duplicates: ${from.join('+')} near ${against.join('+')}`] = res.figures.removed;
      stats['cross threshold'] = threshold;
      stats['cross lsh'] = `${res.figures.bands} bands x ${res.figures.rowsPerBand} rows`;
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
