import type { EmbeddingSpace } from '../embed/space.js';
import type { TextMatch } from './dedup.js';

/**
 * Near-duplicate texts by embedding similarity (cosine of text-tower vectors), with the same rules
 * as the MinHash passes in ./dedup.ts so the two methods are interchangeable in text_dedup:
 *  - self: rows are taken in order; a row is removed when it is within the threshold of an earlier
 *    row that was kept (never of a removed one: no chains), and names the most similar such row;
 *  - cross: a row of `from` is removed when it is within the threshold of any row of `against`.
 * Rows are indexes into the caller's list; `rowOf` maps them to rows of the space (-1: no vector,
 * i.e. no text; such rows are kept and never matched).
 */

/** Self-dedup of `members` (indexes into the caller's rows, in order). */
export function embeddingSelfDedup(space: EmbeddingSpace, rowOf: Int32Array, members: number[], threshold: number): TextMatch[] {
  const position = new Map<number, number>(); // space row → position in members
  members.forEach((m, k) => {
    if (rowOf[m] >= 0) position.set(rowOf[m], k);
  });
  const kept = new Uint8Array(members.length);
  const out: TextMatch[] = [];
  const near = neighboursOf(space, members.map((m) => rowOf[m]), threshold, (row) => position.has(row));
  members.forEach((m, k) => {
    const row = rowOf[m];
    if (row < 0) return;
    const match = bestMatch(near.get(row), position, (j) => j < k && kept[j] === 1);
    if (match) out.push({ index: k, ...match });
    else kept[k] = 1;
  });
  return out;
}

/** Rows of `from` within the threshold of a row of `against`; `matched` indexes `against`. */
export function embeddingCrossDedup(space: EmbeddingSpace, rowOf: Int32Array, from: number[], against: number[], threshold: number): TextMatch[] {
  const position = new Map<number, number>();
  against.forEach((m, k) => {
    if (rowOf[m] >= 0) position.set(rowOf[m], k);
  });
  const near = neighboursOf(space, from.map((m) => rowOf[m]), threshold, (row) => position.has(row));
  const out: TextMatch[] = [];
  from.forEach((m, k) => {
    const match = bestMatch(near.get(rowOf[m]), position, () => true);
    if (match) out.push({ index: k, ...match });
  });
  return out;
}

/** The most similar allowed neighbour (the earliest on ties), as a position in the caller's list. */
function bestMatch(
  near: Array<{ row: number; similarity: number }> | undefined,
  position: Map<number, number>,
  allowed: (j: number) => boolean,
): { matched: number; similarity: number } | undefined {
  let best: { matched: number; similarity: number } | undefined;
  for (const n of near ?? []) {
    const j = position.get(n.row)!;
    if (!allowed(j)) continue;
    if (!best || n.similarity > best.similarity || (n.similarity === best.similarity && j < best.matched)) best = { matched: j, similarity: n.similarity };
  }
  return best;
}

/** For each given space row, the accepted rows within the threshold (itself excluded). */
function neighboursOf(space: EmbeddingSpace, rows: number[], threshold: number, accept: (row: number) => boolean) {
  const contentOfRow = new Map<number, number>();
  space.rowsOf.forEach((rs, p) => rs.forEach((r) => contentOfRow.set(r, p)));
  const queries = [...new Set(rows.filter((r) => r >= 0).map((r) => contentOfRow.get(r)!))];
  const hits = space.within(threshold, accept, queries);
  const out = new Map<number, Array<{ row: number; similarity: number }>>();
  queries.forEach((p, i) => {
    for (const r of space.rowsOf[p]) out.set(r, hits[i].filter((h) => h.row !== r));
  });
  return out;
}
