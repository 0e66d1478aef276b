import { availableParallelism } from 'node:os';
import { z } from 'zod';
import type { Catalog } from '../catalog/catalog.js';
import { getEncoder } from '../embed/encoder.js';
import { encodeF16 } from '../embed/float16.js';
import { resolveModel } from '../embed/models-dir.js';
import { activeContents } from '../embed/store.js';
import { errorMessage } from '../errors.js';
import { TextField, textFieldSql } from '../text/field.js';
import type { ReduceStep, StepStats } from './types.js';

/**
 * Text embeddings of the samples' captions or prompts with an ONNX text tower (CLIP's), the
 * counterpart of the `embed` step for text. Each distinct text is embedded once per model and kept
 * in the `embeddings` table under the sha256 of its UTF-8 bytes, so reruns and new samples embed
 * only texts not seen before. Texts go through the encoder in batches of `batch_size`, on the main
 * thread's onnxruntime session with every core (tokenising is cheap; inference dominates), and
 * each batch is committed as it completes: an interrupted run resumes where it stopped.
 *
 * `text_dedup` with `method: embedding` and `semantic` with `of: text` read these vectors.
 */

export const EmbedTextParams = z
  .object({
    /** A text model in the models directory ($IMGSIFT_MODELS) or a path, e.g. clip-vit-b32-text. */
    model: z.string().min(1, { message: 'model: name a text model (e.g. clip-vit-b32-text) or give a path to a .onnx file' }),
    /** The preset to use when the model has no manifest of its own. */
    preset: z.string().optional(),
    field: TextField,
    /** Texts per inference batch. */
    batch_size: z.number().int().min(1).max(4096).default(64),
  })
  .strict()
  .transform((p, ctx) => {
    try {
      const r = resolveModel(p);
      if (r.manifest.kind !== 'text') {
        const tower = r.manifest.text_model ? `; its text tower is '${r.manifest.text_model}'` : '';
        throw new Error(`model '${p.model}' is an ${r.manifest.kind} model; embed_text needs a text model${tower}`);
      }
      return { ...p, resolved: r };
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: errorMessage(err), path: ['model'] });
      return z.NEVER;
    }
  });
export type EmbedTextParams = z.output<typeof EmbedTextParams>;

/** Rows of new embeddings buffered before a commit. */
const COMMIT_ROWS = 1024;

export const embedTextStep: ReduceStep<EmbedTextParams> = {
  kind: 'reduce',
  name: 'embed_text',
  description: 'text embeddings of captions/prompts with an ONNX text tower (CLIP), cached per distinct text',
  params: EmbedTextParams,
  async run(ctx, params): Promise<StepStats> {
    const { catalog } = ctx;
    const of = { kind: 'text', field: params.field } as const;
    const contents = activeContents(of);
    const withText = await catalog.scalar(`SELECT count(*) FROM ${contents} c`);
    const active = await catalog.scalar(`SELECT count(*) FROM active`);
    const t = textFieldSql(params.field, 'a');
    // Distinct texts of the run without a vector from this model, in first-seen order.
    const todo = await catalog.all<{ content: string; text: string }>(
      `SELECT sha256(${t}) AS content, any_value(${t}) AS text, min(a.ord) AS first
       FROM active a WHERE trim(coalesce(${t}, '')) <> ''
         AND sha256(${t}) NOT IN (SELECT content_hash FROM embeddings WHERE model = ?)
       GROUP BY content ORDER BY first`,
      [params.resolved.id],
    );
    const distinct = await catalog.scalar(`SELECT count(DISTINCT content) FROM ${contents} c`);
    const stats: StepStats = {
      model: params.resolved.id, 'samples with text': withText, 'samples without text': active - withText,
      'distinct texts': distinct, 'texts embedded': 0, 'texts cached': distinct - todo.length,
    };
    if (todo.length === 0) return stats;

    const encoder = await getEncoder(params.resolved, { threads: availableParallelism() });
    const progress = ctx.reporter.progress('embed_text', todo.length);
    const pending: EmbeddingRow[] = [];
    let embedded = 0;
    try {
      for (let i = 0; i < todo.length; i += params.batch_size) {
        ctx.signal?.throwIfAborted();
        const batch = todo.slice(i, i + params.batch_size);
        const vectors = await encoder.embedTexts(batch.map((r) => r.text));
        vectors.forEach((v, k) => pending.push({ content_hash: batch[k].content, model: params.resolved.id, dim: v.length, f16: encodeF16(v).toString('base64') }));
        progress.tick(batch.length);
        if (pending.length >= COMMIT_ROWS) embedded += await commit(catalog, pending.splice(0));
      }
    } finally {
      // What was embedded before an interruption is kept.
      embedded += await commit(catalog, pending.splice(0));
      progress.finish();
    }
    stats['texts embedded'] = embedded;
    return stats;
  },
};

interface EmbeddingRow {
  content_hash: string;
  model: string;
  dim: number;
  /** Base64 of the little-endian float16 vector. */
  f16: string;
}

async function commit(catalog: Catalog, rows: EmbeddingRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  await catalog.transaction(async (tx) => {
    await tx.run(`CREATE TEMP TABLE IF NOT EXISTS stage_text_embeddings (content_hash VARCHAR, model VARCHAR, dim INTEGER, f16 VARCHAR)`);
    await tx.append('stage_text_embeddings', { content_hash: 'varchar', model: 'varchar', dim: 'int', f16: 'varchar' }, rows as unknown as Record<string, unknown>[]);
    await tx.run(`INSERT OR IGNORE INTO embeddings SELECT content_hash, model, dim, from_base64(f16) FROM stage_text_embeddings`);
    await tx.run(`DELETE FROM stage_text_embeddings`);
  });
  return rows.length;
}
