import type { Catalog } from '../catalog/catalog.js';
import { ImgsiftError } from '../errors.js';
import { decodeF16 } from './float16.js';
import { textFieldSql } from '../text/field.js';

/**
 * Embeddings in the catalog: the `embeddings` table holds one float16 vector per (content, model).
 * The embed step's results carry each vector from its worker (base64 in the result JSON);
 * `storeEmbedResults` moves them into the table, leaving the result row as the cache marker.
 */

/** Move the vectors of an embed step's results into `embeddings` (idempotent). Returns rows added. */
export async function storeEmbedResults(catalog: Catalog, step: string, paramsHash: string): Promise<number> {
  const where = `step = '${step.replace(/'/g, "''")}' AND params_hash = '${paramsHash.replace(/'/g, "''")}' AND ok
    AND json_extract_string(result, '$.f16') IS NOT NULL`;
  return catalog.transaction(async (tx) => {
    const before = await tx.all<{ n: bigint }>(`SELECT count(*) AS n FROM embeddings`);
    await tx.run(`INSERT OR IGNORE INTO embeddings
      SELECT content_hash, json_extract_string(result, '$.model'), CAST(json_extract(result, '$.dim') AS INTEGER),
             from_base64(json_extract_string(result, '$.f16'))
      FROM step_results WHERE ${where}`);
    await tx.run(`UPDATE step_results
      SET result = json_object('model', json_extract_string(result, '$.model'), 'dim', CAST(json_extract(result, '$.dim') AS INTEGER))
      WHERE ${where}`);
    const after = await tx.all<{ n: bigint }>(`SELECT count(*) AS n FROM embeddings`);
    return Number(after[0].n - before[0].n);
  });
}

/**
 * What an embedding is of: a sample's image (keyed by the file's content hash), or one of its
 * texts (keyed by the sha256 of the text's UTF-8 bytes, as the embed_text step stores it).
 */
export type EmbeddingOf = { kind: 'image' } | { kind: 'text'; field: string };
export const OF_IMAGE: EmbeddingOf = { kind: 'image' };

/** The active samples that have an embedding for one model, with their vectors as one matrix. */
export interface SampleEmbeddings {
  model: string;
  dim: number;
  /** Per row: sample id, content hash, split, label. Ordered by ingest order. */
  ids: string[];
  contents: string[];
  splits: (string | null)[];
  labels: (string | null)[];
  /** n × dim, row-major, as stored (normalised when the model's manifest says so). */
  vectors: Float32Array;
  /** Active samples with an image (or a text) but no embedding for this model (failed, unreadable, not embedded). */
  missing: number;
}

/** The active samples with something to embed: columns id, ord, split, label and `content` (its key). */
export function activeContents(of: EmbeddingOf): string {
  if (of.kind === 'image') {
    return `(SELECT a.id, a.ord, a.split, a.label, fs.sha256 AS content FROM active a
      JOIN files f ON f.sample_id = a.id AND f.role = 'image'
      JOIN file_status fs ON fs.uri = f.uri AND fs.sha256 IS NOT NULL)`;
  }
  const t = textFieldSql(of.field, 'a');
  return `(SELECT a.id, a.ord, a.split, a.label, sha256(${t}) AS content FROM active a WHERE trim(coalesce(${t}, '')) <> '')`;
}

const what = (of: EmbeddingOf) => (of.kind === 'image' ? 'images' : `texts (${of.field})`);
const stepHint = (of: EmbeddingOf) =>
  of.kind === 'image'
    ? 'add an `embed` step (e.g. `- embed: { model: clip-vit-b32 }`) before this one'
    : `add an \`embed_text\` step (e.g. \`- embed_text: { model: clip-vit-b32-text${of.field === 'text' ? '' : `, field: ${of.field}`} }\`) before this one`;

/**
 * Which model's embeddings to use: `wanted` is a model id (`name@sha`) or name; undefined means
 * the only model the active samples have embeddings for. Among versions of one name, the one
 * covering the most active samples wins.
 */
export async function chooseModel(catalog: Catalog, wanted?: string, of: EmbeddingOf = OF_IMAGE): Promise<string> {
  const rows = await catalog.all<{ model: string; n: bigint }>(
    `SELECT e.model, count(*) AS n FROM ${activeContents(of)} c JOIN embeddings e ON e.content_hash = c.content
     GROUP BY e.model ORDER BY n DESC, e.model`,
  );
  if (rows.length === 0) {
    throw new ImgsiftError(`no embeddings of the ${what(of)} of this run's samples: ${stepHint(of)}`);
  }
  if (wanted === undefined) {
    const names = new Set(rows.map((r) => r.model.split('@')[0]));
    if (names.size > 1) {
      throw new ImgsiftError(`the samples' ${what(of)} have embeddings from several models (${[...names].join(', ')}); name one with \`model:\``);
    }
    return rows[0].model;
  }
  const hit = rows.find((r) => r.model === wanted || r.model.split('@')[0] === wanted);
  if (!hit) {
    throw new ImgsiftError(`no embeddings from model '${wanted}' for this run's ${what(of)}; available: ${rows.map((r) => r.model).join(', ')}`);
  }
  return hit.model;
}

export async function loadSampleEmbeddings(catalog: Catalog, model: string, of: EmbeddingOf = OF_IMAGE): Promise<SampleEmbeddings> {
  const rows = await catalog.all<{ id: string; content: string; split: string | null; label: string | null; dim: number; vector: Buffer }>(
    `SELECT c.id, c.content, c.split, c.label, e.dim, e.vector
     FROM ${activeContents(of)} c JOIN embeddings e ON e.content_hash = c.content AND e.model = ?
     ORDER BY c.ord, c.id`,
    [model],
  );
  // Unreadable images count as missing too (they have no content hash to join on).
  const total = await catalog.scalar(
    of.kind === 'image' ? `SELECT count(*) FROM active a JOIN files f ON f.sample_id = a.id AND f.role = 'image'` : `SELECT count(*) FROM ${activeContents(of)} c`,
  );
  const dim = rows[0]?.dim ?? 0;
  const vectors = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => {
    if (r.dim !== dim || r.vector.length !== dim * 2) throw new Error(`embedding of ${r.content} for ${model} has ${r.vector.length / 2} values, expected ${dim}`);
    decodeF16(r.vector, vectors, i * dim);
  });
  return {
    model, dim, vectors, missing: total - rows.length,
    ids: rows.map((r) => r.id), contents: rows.map((r) => r.content),
    splits: rows.map((r) => r.split), labels: rows.map((r) => r.label),
  };
}
