/**
 * Near-duplicate texts (prompts, captions) by MinHash-LSH on character (or word) n-grams, every
 * candidate verified with the exact Jaccard similarity of the two n-gram multisets, so the similarity reported for
 * a removal is exact and LSH only decides which pairs get compared.
 *
 * Self-dedup keeps the first row of each group in input order and never chains: a row is compared
 * only with rows already kept, so if B was removed as a near copy of A, a later C that is near B but
 * not near A is kept. A removed row records the kept row it matched best (highest similarity; the
 * earliest on ties; an identical normalised text matches its first kept occurrence).
 *
 * Cross-dedup removes the rows of one set (train) that are near any row of another (validation);
 * the reference rows are never removed.
 *
 * Rows whose text is empty after normalisation are not compared and are always kept.
 * "Near" means Jaccard ≥ threshold.
 */
import { makeNormalizer, resolveNormalize, type NormalizeOptions } from './normalize.js';
import { DEFAULT_LSH_WEIGHTS, DEFAULT_NGRAM, DEFAULT_NUM_PERM, MinHasher, bandKeys, intersectionSize, optimalLshParams, shingleSet, type LshWeights, type ShingleOptions, type ShingleUnit } from './minhash.js';
import { LshTable, SetPool } from './lsh-index.js';

export interface TextDedupOptions {
  /** Jaccard similarity at or above which two texts are near duplicates, in (0, 1]. */
  threshold: number;
  /** Shingles: character n-grams ('char', default) or word n-grams ('word'). */
  shingles?: ShingleUnit;
  /** n-gram length (default 3 characters, or 1 word: see bench/text-measures.ts). */
  ngram?: number;
  /**
   * Count repeated n-grams (default true): similarity is then the weighted Jaccard of n-gram counts,
   * so a prompt repeated several times is not a near copy of itself said once (see minhash.ts).
   */
  multiset?: boolean;
  /** MinHash permutations (default 128); LSH uses bands × rows of them. */
  numPerm?: number;
  normalize?: NormalizeOptions;
  /** How LSH banding trades unneeded comparisons against missed pairs (see minhash.ts). */
  lshWeights?: LshWeights;
  /** Called every PROGRESS_EVERY rows with the number of rows done. */
  onProgress?: (done: number) => void;
}

/** A removed row, the row it was found near, and their exact Jaccard similarity. */
export interface TextMatch {
  /** Index of the removed row in its input. */
  index: number;
  /** Index of the matched row: in the same input (self) or in the reference input (cross). */
  matched: number;
  similarity: number;
}

export interface DedupFigures {
  rows: number;
  /** Rows with no text after normalisation (kept, not compared). */
  empty: number;
  removed: number;
  kept: number;
  /** Candidate pairs whose exact similarity was computed. */
  verified: number;
  /** Removals found by identical normalised text (similarity 1, no MinHash needed). */
  exact: number;
  bands: number;
  rowsPerBand: number;
}

export interface DedupResult {
  /** Removed rows in input order. */
  removed: TextMatch[];
  figures: DedupFigures;
}

const PROGRESS_EVERY = 4096;

/** The parameters in force, with defaults filled in (for summaries and cache keys). */
export function resolveDedupOptions(o: TextDedupOptions) {
  if (!(o.threshold > 0 && o.threshold <= 1)) throw new RangeError(`threshold must be in (0, 1] (got ${o.threshold})`);
  const shingles: ShingleUnit = o.shingles ?? 'char';
  const ngram = o.ngram ?? (shingles === 'word' ? DEFAULT_WORD_NGRAM : DEFAULT_NGRAM);
  const multiset = o.multiset ?? true;
  const numPerm = o.numPerm ?? DEFAULT_NUM_PERM;
  if (!Number.isInteger(ngram) || ngram < 1 || ngram > 32) throw new RangeError(`ngram must be a whole number from 1 to 32 (got ${ngram})`);
  const lsh = optimalLshParams(o.threshold, numPerm, o.lshWeights ?? DEFAULT_LSH_WEIGHTS);
  return { threshold: o.threshold, shingles, ngram, multiset, numPerm, normalize: resolveNormalize(o.normalize), bands: lsh.bands, rowsPerBand: lsh.rows };
}

export const DEFAULT_WORD_NGRAM = 1;

/** The similarity measure in words, for summaries: "Jaccard of character 3-gram multisets (...)". */
export function describeMeasure(o: TextDedupOptions): string {
  const r = resolveDedupOptions(o);
  const n = r.normalize;
  const norm = [
    n.unicode !== 'none' ? n.unicode : '', n.lowercase ? 'lowercase' : '',
    n.punctuation === 'remove' ? 'punctuation removed' : '', n.whitespace ? 'spaces collapsed' : '',
  ].filter(Boolean).join(', ');
  const unit = r.shingles === 'word' ? 'word' : 'character';
  return `Jaccard of ${unit} ${r.ngram}-gram ${r.multiset ? 'multisets (repeats counted)' : 'sets'}` + (norm ? ` after ${norm}` : '');
}

/** The best match of a query among indexed texts. */
export interface IndexMatch {
  /** The `ref` the matched text was added with. */
  ref: number;
  similarity: number;
  /** Found by identical normalised text. */
  exact: boolean;
}

/** A shingled, normalised text, ready to query or add. */
export interface PreparedText {
  normalized: string;
  shingles: Uint32Array;
  keys: Uint32Array | null;
}

/**
 * Texts indexed for near-duplicate queries: LSH buckets for candidates, their shingle sets for the
 * exact check, and their normalised strings for the identical-text shortcut.
 */
export class NearDuplicateIndex {
  readonly threshold: number;
  readonly bands: number;
  readonly rowsPerBand: number;
  private readonly ngram: number;
  private readonly shingleOptions: ShingleOptions;
  private readonly normalize: (s: string) => string;
  private readonly hasher: MinHasher;
  private readonly table: LshTable;
  private readonly sets = new SetPool();
  private readonly refs: number[] = [];
  private readonly exactRefs = new Map<string, number>();
  private readonly sig: Int32Array;
  /** Candidate pairs verified so far. */
  verified = 0;

  constructor(options: TextDedupOptions, expectedItems = 1024) {
    const o = resolveDedupOptions(options);
    this.threshold = o.threshold;
    this.ngram = o.ngram;
    this.shingleOptions = { unit: o.shingles, multiset: o.multiset };
    this.bands = o.bands;
    this.rowsPerBand = o.rowsPerBand;
    this.normalize = makeNormalizer(o.normalize);
    // Only the permutations the bands use are computed.
    this.hasher = new MinHasher(o.bands * o.rowsPerBand);
    this.sig = new Int32Array(this.hasher.numPerm);
    this.table = new LshTable(o.bands, expectedItems);
  }

  get size(): number {
    return this.refs.length;
  }

  /** Normalise and shingle a text; null when nothing is left to compare. */
  prepare(text: string): PreparedText | null {
    const normalized = this.normalize(text);
    if (normalized.length === 0) return null;
    return { normalized, shingles: shingleSet(normalized, this.ngram, this.shingleOptions), keys: null };
  }

  /** The indexed text most similar to `t` at or above the threshold, or null. */
  best(t: PreparedText): IndexMatch | null {
    const same = this.exactRefs.get(t.normalized);
    if (same !== undefined) return { ref: same, similarity: 1, exact: true };
    const keys = this.keysOf(t);
    const q = t.shingles;
    const qn = q.length;
    const threshold = this.threshold;
    let bestItem = -1;
    let bestSim = -1;
    this.table.candidates(keys, (item) => {
      const n = this.sets.length(item);
      // Jaccard ≤ min/max of the set sizes: skip pairs that cannot reach the threshold.
      if (Math.min(n, qn) < threshold * Math.max(n, qn)) return;
      this.verified++;
      const inter = intersectionSize(q, this.sets.get(item));
      const sim = inter / (qn + n - inter);
      if (sim >= threshold && (sim > bestSim || (sim === bestSim && item < bestItem))) {
        bestSim = sim;
        bestItem = item;
      }
    });
    return bestItem < 0 ? null : { ref: this.refs[bestItem], similarity: bestSim, exact: false };
  }

  /** Index a prepared text under `ref` (the caller's row number). */
  add(t: PreparedText, ref: number): void {
    this.table.add(this.keysOf(t));
    this.sets.add(t.shingles);
    this.refs.push(ref);
    if (!this.exactRefs.has(t.normalized)) this.exactRefs.set(t.normalized, ref);
  }

  private keysOf(t: PreparedText): Uint32Array {
    if (!t.keys) t.keys = bandKeys(this.hasher.signature(t.shingles, this.sig), { bands: this.bands, rows: this.rowsPerBand }, new Uint32Array(this.bands));
    return t.keys;
  }
}

/**
 * Self-dedup one row at a time, for inputs too large to hold: `push` each text in input order; it
 * returns the match when the row is a near duplicate of an earlier kept row (then drop it), or null
 * (the row is kept and indexed).
 */
export class SelfDeduper {
  private readonly index: NearDuplicateIndex;
  private readonly onProgress?: (done: number) => void;
  private readonly f: DedupFigures;

  constructor(options: TextDedupOptions, expectedRows?: number) {
    this.index = new NearDuplicateIndex(options, expectedRows);
    this.onProgress = options.onProgress;
    this.f = { rows: 0, empty: 0, removed: 0, kept: 0, verified: 0, exact: 0, bands: this.index.bands, rowsPerBand: this.index.rowsPerBand };
  }

  push(text: string | null | undefined): TextMatch | null {
    const index = this.f.rows++;
    if (this.onProgress && this.f.rows % PROGRESS_EVERY === 0) this.onProgress(this.f.rows);
    const t = text ? this.index.prepare(text) : null;
    if (!t) {
      this.f.empty++;
      this.f.kept++;
      return null;
    }
    const m = this.index.best(t);
    if (m) {
      this.f.removed++;
      if (m.exact) this.f.exact++;
      return { index, matched: m.ref, similarity: m.similarity };
    }
    this.index.add(t, index);
    this.f.kept++;
    return null;
  }

  get figures(): DedupFigures {
    return { ...this.f, verified: this.index.verified };
  }
}

/** Remove near duplicates within `texts`, keeping the first of each group in input order. */
export function selfDedup(texts: readonly (string | null | undefined)[], options: TextDedupOptions): DedupResult {
  const d = new SelfDeduper(options, texts.length);
  const removed: TextMatch[] = [];
  for (const text of texts) {
    const m = d.push(text);
    if (m) removed.push(m);
  }
  options.onProgress?.(texts.length);
  return { removed, figures: d.figures };
}

/**
 * Remove from `texts` (e.g. train) every row near some row of `reference` (e.g. validation);
 * `matched` indexes `reference`. The reference rows are all indexed, duplicates among them included.
 */
export function crossDedup(
  texts: readonly (string | null | undefined)[],
  reference: readonly (string | null | undefined)[],
  options: TextDedupOptions,
): DedupResult {
  const index = new NearDuplicateIndex(options, reference.length);
  reference.forEach((text, i) => {
    const t = text ? index.prepare(text) : null;
    if (t) index.add(t, i);
  });
  const removed: TextMatch[] = [];
  const f: DedupFigures = { rows: texts.length, empty: 0, removed: 0, kept: 0, verified: 0, exact: 0, bands: index.bands, rowsPerBand: index.rowsPerBand };
  texts.forEach((text, i) => {
    if (options.onProgress && (i + 1) % PROGRESS_EVERY === 0) options.onProgress(i + 1);
    const t = text ? index.prepare(text) : null;
    if (!t) {
      f.empty++;
      return;
    }
    const m = index.best(t);
    if (!m) return;
    removed.push({ index: i, matched: m.ref, similarity: m.similarity });
    if (m.exact) f.exact++;
  });
  options.onProgress?.(texts.length);
  f.removed = removed.length;
  f.kept = texts.length - removed.length;
  f.verified = index.verified;
  return { removed, figures: f };
}
