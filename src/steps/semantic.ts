import { z } from 'zod';
import { COLUMNS, type Row } from '../catalog/catalog.js';
import { EmbeddingSpace } from '../embed/space.js';
import { OF_IMAGE } from '../embed/store.js';
import { TextField } from '../text/field.js';
import { kNearest, labelDisagreement, outlierScores, semanticDuplicates } from '../embed/semantic.js';
import type { Json, ReduceStep, StepContext, StepStats } from './types.js';

/**
 * Whole-dataset signals from the embeddings of an earlier `embed` step (or, with `of: text`, of an
 * `embed_text` step: the same signals on captions/prompts, as `text_`-prefixed issue types):
 * - `semantic_duplicate` on each sample that repeats another's content in meaning (cosine >= threshold),
 *   evidence naming the sample `kept`;
 * - `outlier` on every sample: a score in [0,1] from the mean distance to its k nearest neighbours;
 * - `label_disagreement` on every labelled sample: the share of its k nearest neighbours with another
 *   label, flagged as a mislabel candidate with the neighbours' majority as `suggested_label`.
 * Neighbours come from the usearch HNSW index kept in `<workdir>/index/` and updated incrementally.
 */

const Similarity = z.number().gt(0).max(1);

export const SemanticParams = z
  .object({
    /** Model id or name whose embeddings to use (default: the only one the samples have). */
    model: z.string().optional(),
    /** The embeddings of the samples' images (embed step) or of their texts (embed_text step). */
    of: z.enum(['image', 'text']).default('image'),
    /** With of: text, which text: 'text' or a meta field (as embed_text's `field`). */
    field: TextField,
    dedup: z
      .object({
        threshold: Similarity.default(0.95),
        prune: z.enum(['greedy', 'semdedup']).default('greedy'),
        /** Which sample of a cluster is kept in 'greedy' mode: the first ingested, or the most pixels. */
        keep: z.enum(['first', 'largest']).default('first'),
      })
      .strict()
      .or(z.literal(false))
      .default({ threshold: 0.95, prune: 'greedy', keep: 'first' }),
    outliers: z
      .object({
        k: z.number().int().min(1).max(1000).default(10),
        /** Flag at this score (0.9 ≈ 3.3× the median neighbour distance). */
        threshold: z.number().min(0).max(1).default(0.9),
      })
      .strict()
      .or(z.literal(false))
      .default({ k: 10, threshold: 0.9 }),
    label_disagreement: z
      .object({
        k: z.number().int().min(1).max(1000).default(10),
        /** Flag when at least this share of the neighbours carry another label (and agree on one). */
        min_share: z.number().gt(0).max(1).default(0.6),
      })
      .strict()
      .or(z.literal(false))
      .default({ k: 10, min_share: 0.6 }),
  })
  .strict();
export type SemanticParams = z.infer<typeof SemanticParams>;

export const SEMANTIC_DUPLICATE = 'semantic_duplicate';
export const OUTLIER = 'outlier';
export const LABEL_DISAGREEMENT = 'label_disagreement';

/** Neighbours listed in evidence. */
const SHOWN = 5;
const round = (x: number) => Math.round(x * 10000) / 10000;

export const semanticStep: ReduceStep<SemanticParams> = {
  kind: 'reduce',
  name: 'semantic',
  description: 'semantic duplicates, outliers and label disagreement from image (or caption) embeddings (usearch HNSW)',
  params: SemanticParams,
  async run(ctx: StepContext, params: SemanticParams): Promise<StepStats> {
    const { catalog } = ctx;
    const of = params.of === 'text' ? ({ kind: 'text', field: params.field } as const) : OF_IMAGE;
    const space = await EmbeddingSpace.open(catalog, { model: params.model, workdir: ctx.workdir, of });
    const { ids, labels } = space.data;
    const model = space.data.model;
    // Text findings are their own issue types and step, so an image pass and a text pass coexist.
    const prefix = params.of === 'text' ? 'text_' : '';
    const stepName = params.of === 'text' ? 'semantic_text' : 'semantic';
    const issues: Row[] = [];
    const issue = (row: number, type: string, score: number, flagged: boolean, evidence: Json) =>
      issues.push({ sample_id: ids[row], type: prefix + type, score: round(score), flagged, evidence, step: stepName, source: 'imgsift', run_id: ctx.runId });
    const stats: StepStats = {
      model, 'samples with embeddings': space.size, 'samples without embeddings': space.data.missing,
      'index vectors': space.index.size, 'index vectors added': space.indexAdded,
    };

    if (params.dedup) {
      const d = params.dedup;
      const priority = d.keep === 'largest' ? await pixelPriority(ctx, ids) : undefined;
      const dups = semanticDuplicates(space, { threshold: d.threshold, prune: d.prune, priority });
      for (const x of dups) {
        issue(x.row, SEMANTIC_DUPLICATE, x.similarity, true, {
          kept: ids[x.kept], similarity: round(x.similarity), threshold: d.threshold, cluster: ids[x.cluster], prune: d.prune, model,
        });
      }
      stats['semantic duplicates'] = dups.length;
    }

    const k = Math.max(params.outliers ? params.outliers.k : 0, params.label_disagreement ? params.label_disagreement.k : 0);
    if (k > 0 && space.size > 1) {
      ctx.signal?.throwIfAborted();
      const nb = kNearest(space, k);
      const shown = (row: number) => nb[row].slice(0, SHOWN).map((x) => ({ id: ids[x.row], label: labels[x.row], similarity: round(x.similarity) }));
      if (params.outliers) {
        const o = params.outliers;
        const { scores, median } = outlierScores(nb, o.k);
        let flagged = 0;
        for (const s of scores) {
          const f = s.score >= o.threshold;
          flagged += f ? 1 : 0;
          issue(s.row, OUTLIER, s.score, f, { distance: round(s.distance), median_distance: round(median), k: o.k, neighbours: shown(s.row), model });
        }
        stats.outliers = flagged;
      }
      if (params.label_disagreement) {
        const l = params.label_disagreement;
        let flagged = 0;
        for (const x of labelDisagreement(labels, nb, l.k)) {
          const f = x.share >= l.min_share && x.suggested !== x.label;
          flagged += f ? 1 : 0;
          issue(x.row, LABEL_DISAGREEMENT, x.share, f, {
            label: x.label, suggested_label: x.suggested, share: round(x.share), support: x.support, k: l.k,
            neighbours: shown(x.row), model,
          });
        }
        stats['label disagreements'] = flagged;
      }
    }

    await catalog.transaction(async (tx) => {
      await tx.run(`DELETE FROM issues WHERE source = 'imgsift' AND step = '${stepName}'`);
      await tx.append('issues', COLUMNS.issues, issues);
    });
    return stats;
  },
};

/** Pixels per sample (from the probe's assets table), for keep: largest; 0 when unknown. */
async function pixelPriority(ctx: StepContext, ids: string[]): Promise<(row: number) => number> {
  const rows = await ctx.catalog.all<{ id: string; px: number | bigint | null }>(
    `SELECT a.id, CAST(s.width AS BIGINT) * s.height AS px FROM active a
     JOIN files f ON f.sample_id = a.id AND f.role = 'image' JOIN file_status fs ON fs.uri = f.uri
     JOIN assets s ON s.sha256 = fs.sha256`,
  );
  const px = new Map(rows.map((r) => [r.id, Number(r.px ?? 0)]));
  return (row) => px.get(ids[row]) ?? 0;
}
