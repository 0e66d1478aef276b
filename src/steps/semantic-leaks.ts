import type { Catalog } from '../catalog/catalog.js';
import { useRun } from '../catalog/run-view.js';
import { EmbeddingSpace, type SpaceOptions } from '../embed/space.js';

/**
 * Semantic train/test leaks: samples of the evaluation splits whose embedding is within a cosine
 * threshold of a training sample's (the same scene re-shot, re-edited or re-encoded beyond what
 * hashes catch). Meant for the leaks step's `methods: [semantic]` with `semantic_threshold`.
 */

/** One leaking pair: `sample` (in an evaluation split) matches `train_sample` (in a reference split). */
export interface SemanticLeakPair {
  sample: string;
  split: string;
  train_sample: string;
  train_split: string;
  /** Cosine similarity of the two embeddings (1 for identical content). */
  similarity: number;
  method: 'semantic';
  model: string;
}

/** `[reference splits, evaluation splits]`, e.g. `['train', ['dev', 'test']]`. */
export type Between = readonly [string | readonly string[], string | readonly string[]];

const list = (x: string | readonly string[]) => (typeof x === 'string' ? [x] : [...x]);

/**
 * Every (evaluation sample, reference sample) pair at similarity >= threshold among run `runId`'s
 * active samples, most similar first per sample; samples ordered as ingested. Needs embeddings
 * from an `embed` step of the run (throws an ImgsiftError saying so otherwise).
 */
export async function semanticLeaks(
  catalog: Catalog,
  runId: number,
  between: Between,
  threshold: number,
  options: SpaceOptions = {},
): Promise<SemanticLeakPair[]> {
  if (!(threshold > 0 && threshold <= 1)) throw new RangeError(`semantic threshold must be in (0, 1], got ${threshold}`);
  const ref = new Set(list(between[0]));
  const evalSplits = new Set(list(between[1]));
  const overlap = [...ref].filter((s) => evalSplits.has(s));
  if (overlap.length) throw new RangeError(`split(s) ${overlap.join(', ')} on both sides of 'between'`);
  await useRun(catalog, runId);
  const space = await EmbeddingSpace.open(catalog, options);
  const { ids, splits } = space.data;
  const isRef = (row: number) => splits[row] !== null && ref.has(splits[row]!);
  const isEval = (row: number) => splits[row] !== null && evalSplits.has(splits[row]!);
  // Query with the contents that have an evaluation sample; neighbours restricted to reference samples.
  const queries = space.rowsOf.map((rows, p) => (rows.some(isEval) ? p : -1)).filter((p) => p >= 0);
  const hits = space.within(threshold, isRef, queries);
  const pairs: SemanticLeakPair[] = [];
  queries.forEach((p, i) => {
    for (const row of space.rowsOf[p].filter(isEval)) {
      for (const h of hits[i]) {
        pairs.push({
          sample: ids[row], split: splits[row]!, train_sample: ids[h.row], train_split: splits[h.row]!,
          similarity: Math.round(h.similarity * 10000) / 10000, method: 'semantic', model: space.data.model,
        });
      }
    }
  });
  const order = new Map(ids.map((id, i) => [id, i]));
  return pairs.sort((a, b) => order.get(a.sample)! - order.get(b.sample)! || b.similarity - a.similarity || order.get(a.train_sample)! - order.get(b.train_sample)!);
}
