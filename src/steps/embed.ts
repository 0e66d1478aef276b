import { z } from 'zod';
import { dirname } from 'node:path';
import { getEncoder } from '../embed/encoder.js';
import { encodeF16 } from '../embed/float16.js';
import { resolveModel } from '../embed/models-dir.js';
import { storeEmbedResults } from '../embed/store.js';
import { errorMessage } from '../errors.js';
import type { MapStep } from './types.js';

/**
 * Image embeddings with an ONNX encoder on CPU. The model is resolved when the recipe is read
 * (a missing or unknown model fails there, saying what file to put where), and its id — name plus
 * the file's content hash — and manifest become part of the parameters, so the step's cache key
 * changes when the file or the preprocessing does: reruns and new samples embed only what is new.
 *
 * Each worker thread keeps one onnxruntime session per model; the executor hands it groups of
 * `batch_size` samples, embedded as one inference batch (an unreadable image fails alone). The
 * vectors travel back as float16 in the results; afterAll moves them into the `embeddings` table.
 * The cache key is the model id and manifest: neither the batch size nor where the file lies
 * changes an embedding.
 */

export const EmbedParams = z
  .object({
    /** A model name in the models directory ($IMGSIFT_MODELS), or a path to a .onnx file or model directory (relative to the working directory). */
    model: z.string().min(1, { message: 'model: name a model (e.g. clip-vit-b32) or give a path to a .onnx file' }),
    /** The preset to use when the model has no manifest of its own. */
    preset: z.string().optional(),
    /** Images per inference batch. */
    batch_size: z.number().int().min(1).max(512).default(16),
  })
  .strict()
  .transform((p, ctx) => {
    try {
      const r = resolveModel(p);
      if (r.manifest.kind !== 'image') throw new Error(`model '${p.model}' is a ${r.manifest.kind} model; the embed step needs an image model`);
      return { model: p.model, ...(p.preset ? { preset: p.preset } : {}), batch_size: p.batch_size, model_id: r.id, path: r.path, manifest: r.manifest };
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: errorMessage(err), path: ['model'] });
      return z.NEVER;
    }
  });

/** The parameters as resolved: plus `model_id` (`<name>@<sha256 prefix>`), the file and its manifest. */
export type EmbedParamsResolved = z.output<typeof EmbedParams>;

/** The result JSON of the step (f16 is removed once the vector is in the embeddings table). */
export interface EmbedResult {
  model: string;
  dim: number;
  /** Base64 of the little-endian float16 vector. */
  f16?: string;
}

/** onnxruntime intra-op threads per worker (IMGSIFT_ORT_THREADS, default 1). */
function ortThreads(): number {
  const n = Number(process.env.IMGSIFT_ORT_THREADS ?? 1);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

export const embedStep: MapStep<EmbedParamsResolved> = {
  kind: 'map',
  name: 'embed',
  version: 1,
  description: 'image embeddings with an ONNX encoder (CLIP, DINOv2, SigLIP presets) on CPU, stored as float16',
  params: EmbedParams,

  async run(input, params) {
    const [out] = await embedStep.runBatch!([input], params);
    if (out instanceof Error) throw out;
    return out;
  },

  batchSize: (params) => params.batch_size,

  async runBatch(inputs, params) {
    const encoder = await getEncoder({ id: params.model_id, path: params.path, dir: dirname(params.path), manifest: params.manifest }, { threads: ortThreads() });
    const vectors = await encoder.embedImagesEach(inputs.map((i) => i.bytes));
    return vectors.map((v) => {
      if (v instanceof Error) return v;
      const result: EmbedResult = { model: params.model_id, dim: v.length, f16: encodeF16(v).toString('base64') };
      return { result: { ...result } };
    });
  },

  cacheKey: (params) => ({ model_id: params.model_id, manifest: params.manifest }),

  async afterAll(ctx, _params, paramsHash) {
    await storeEmbedResults(ctx.catalog, 'embed', paramsHash);
  },

  async stats(ctx, params) {
    const embedded = await ctx.catalog.scalar(
      `SELECT count(*) FROM active a JOIN files f ON f.sample_id = a.id AND f.role = 'image'
       JOIN file_status fs ON fs.uri = f.uri JOIN embeddings e ON e.content_hash = fs.sha256 AND e.model = ?`,
      [params.model_id],
    );
    return { model: params.model_id, 'samples with embeddings': embedded };
  },
};
