import { Catalog } from '../catalog/catalog.js';
import { latestRunId, useRun } from '../catalog/run-view.js';
import { ImgsiftError, UsageError } from '../errors.js';
import { getEncoder } from './encoder.js';
import { PRESETS } from './manifest.js';
import { resolveModel } from './models-dir.js';
import { EmbeddingSpace } from './space.js';

/**
 * Similarity search over a workdir's embeddings: the samples nearest to a sample of the dataset,
 * or to a text query embedded by the text tower that goes with the image model.
 */

export interface SimilarQuery {
  workdir: string;
  /** A sample id of the dataset... */
  id?: string;
  /** ...or a text query (needs a text tower). */
  text?: string;
  k?: number;
  /** Image model id or name (default: the only one with embeddings). */
  model?: string;
  /** Text tower (name, path or preset); default: the image model's `text_model`, e.g. clip-vit-b32-text. */
  textModel?: string;
  /** Run whose active samples are searched (default: the latest). */
  runId?: number;
}

export interface SimilarHit {
  id: string;
  path: string | null;
  label: string | null;
  split: string | null;
  similarity: number;
}

export interface SimilarResult {
  model: string;
  query: { id: string } | { text: string; textModel: string };
  hits: SimilarHit[];
}

export async function similar(q: SimilarQuery): Promise<SimilarResult> {
  if ((q.id === undefined) === (q.text === undefined)) throw new UsageError('give exactly one of a sample id or a text query');
  const k = q.k ?? 10;
  const catalog = await Catalog.open(q.workdir);
  try {
    const runId = q.runId ?? (await latestRunId(catalog));
    if (runId === undefined) throw new UsageError(`workdir ${q.workdir} has no runs; run \`imgsift build\` first`);
    await useRun(catalog, runId);
    const space = await EmbeddingSpace.open(catalog, { model: q.model, workdir: q.workdir });
    const model = space.data.model;
    let vector: Float32Array;
    let query: SimilarResult['query'];
    let self = -1;
    if (q.id !== undefined) {
      self = space.data.ids.indexOf(q.id);
      if (self < 0) throw new UsageError(`sample '${q.id}' is not in run ${runId} or has no embedding from ${model}`);
      vector = space.vector(self);
      query = { id: q.id };
    } else {
      const name = model.split('@')[0];
      const textModel = q.textModel ?? installedTextModel(name) ?? PRESETS[name]?.text_model;
      if (!textModel) {
        throw new UsageError(`model ${name} has no known text tower; name one with --text-model (a text model in the models directory or a path)`);
      }
      const resolved = resolveModel({ model: textModel });
      if (resolved.manifest.kind !== 'text') throw new ImgsiftError(`model '${textModel}' is an ${resolved.manifest.kind} model, not a text model`);
      const enc = await getEncoder(resolved);
      [vector] = await enc.embedTexts([q.text!]);
      if (vector.length !== space.data.dim) {
        throw new ImgsiftError(`text model ${resolved.id} gives ${vector.length}-d embeddings, the image embeddings are ${space.data.dim}-d: they are not the same space`);
      }
      query = { text: q.text!, textModel: resolved.id };
    }
    const hits = space.search(vector, k + (self >= 0 ? 1 : 0), (row) => row !== self).slice(0, k);
    const ids = hits.map((h) => space.data.ids[h.row]);
    const meta = new Map<string, { path: string | null }>();
    if (ids.length) {
      const rows = await catalog.all<{ id: string; path: string | null }>(
        `SELECT id, path FROM active WHERE id IN (${ids.map(() => '?').join(',')})`,
        ids,
      );
      for (const r of rows) meta.set(r.id, r);
    }
    return {
      model, query,
      hits: hits.map((h) => ({
        id: space.data.ids[h.row], path: meta.get(space.data.ids[h.row])?.path ?? null,
        label: space.data.labels[h.row], split: space.data.splits[h.row], similarity: Math.round(h.similarity * 10000) / 10000,
      })),
    };
  } finally {
    catalog.close();
  }
}

/** The text tower named by an installed image model's manifest, if the model is installed. */
function installedTextModel(name: string): string | undefined {
  try {
    return resolveModel({ model: name }).manifest.text_model;
  } catch {
    return undefined;
  }
}
