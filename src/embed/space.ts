import { dirname, join } from 'node:path';
import type { Catalog } from '../catalog/catalog.js';
import { VectorIndex, type Neighbour, type Quantization } from '../index/vector.js';
import { modelFileStem } from './models-dir.js';
import { chooseModel, loadSampleEmbeddings, OF_IMAGE, type EmbeddingOf, type SampleEmbeddings } from './store.js';

/**
 * The active samples' embeddings of one model, with the persisted ANN index over their contents
 * (`<workdir>/index/<model>.usearch`, updated with the contents it lacks) and neighbour queries at
 * sample level: samples sharing a content are each other's neighbours at similarity 1.
 */

export interface SpaceOptions {
  /** Model id or name (default: the only model with embeddings for the active samples). */
  model?: string;
  /** Where `index/` lives (default: the catalog's directory; an in-memory catalog keeps the index in memory). */
  workdir?: string;
  quantization?: Quantization;
  /** The samples' images (default) or one of their texts. */
  of?: EmbeddingOf;
}

/** A neighbour of a sample: another sample's row in `data`, and the cosine similarity. */
export interface SampleNeighbour {
  row: number;
  similarity: number;
}

export class EmbeddingSpace {
  /** Distinct contents, in first-seen order, and the rows of the samples holding each. */
  readonly contents: string[] = [];
  readonly rowsOf: number[][] = [];
  /** Index key → position in `contents` (or -1 for a key whose content is not active). */
  private readonly byKey: Int32Array;

  private constructor(
    readonly data: SampleEmbeddings,
    readonly index: VectorIndex,
    readonly indexAdded: number,
  ) {
    const pos = new Map<string, number>();
    data.contents.forEach((c, row) => {
      let p = pos.get(c);
      if (p === undefined) {
        p = this.contents.length;
        pos.set(c, p);
        this.contents.push(c);
        this.rowsOf.push([]);
      }
      this.rowsOf[p].push(row);
    });
    this.byKey = new Int32Array(index.size).fill(-1);
    this.contents.forEach((c, p) => {
      const k = index.idOf(c);
      if (k !== undefined) this.byKey[k] = p;
    });
  }

  static async open(catalog: Catalog, options: SpaceOptions = {}): Promise<EmbeddingSpace> {
    const of = options.of ?? OF_IMAGE;
    const model = await chooseModel(catalog, options.model, of);
    const data = await loadSampleEmbeddings(catalog, model, of);
    const workdir = options.workdir ?? (catalog.path === ':memory:' ? undefined : dirname(catalog.path));
    const dir = workdir ? join(workdir, 'index') : undefined;
    const stem = modelFileStem(model);
    const opts = { dim: data.dim, quantization: options.quantization };
    const index = dir ? (await VectorIndex.open(dir, stem, opts)).index : await VectorIndex.create(opts);
    // One vector per content: the first sample's (all samples of a content share it).
    const seen = new Set<string>();
    const keys: string[] = [];
    const rows: number[] = [];
    data.contents.forEach((c, row) => {
      if (seen.has(c) || index.has(c)) return;
      seen.add(c);
      keys.push(c);
      rows.push(row);
    });
    const vecs = new Float32Array(rows.length * data.dim);
    rows.forEach((r, j) => vecs.set(data.vectors.subarray(r * data.dim, (r + 1) * data.dim), j * data.dim));
    const added = index.addMissing(keys, vecs);
    if (dir && added > 0) await index.save(dir, stem);
    return new EmbeddingSpace(data, index, added);
  }

  get size(): number {
    return this.data.ids.length;
  }

  vector(row: number): Float32Array {
    const d = this.data.dim;
    return this.data.vectors.subarray(row * d, (row + 1) * d);
  }

  /** Position in `contents` of an index key, or -1 for an inactive content. */
  contentOfKey(key: number): number {
    return key < this.byKey.length ? this.byKey[key] : -1;
  }

  /** Vectors of the distinct contents, one row each (n_contents × dim). */
  contentVectors(): Float32Array {
    const d = this.data.dim;
    const out = new Float32Array(this.contents.length * d);
    this.rowsOf.forEach((rows, p) => out.set(this.vector(rows[0]), p * d));
    return out;
  }

  /**
   * For each distinct content (by position), its k + 1 nearest samples, most similar first, its own
   * samples included (a sample's k neighbours: `forRow(list, row).slice(0, k)`); `acceptRow`
   * narrows which samples count (e.g. only train samples).
   */
  nearest(k: number, acceptRow: (row: number) => boolean = () => true, queries?: number[]): SampleNeighbour[][] {
    const which = queries ?? this.contents.map((_, p) => p);
    const qv = this.queryVectors(which);
    const acceptKey = (key: number) => {
      const p = this.contentOfKey(key);
      return p >= 0 && this.rowsOf[p].some(acceptRow);
    };
    // k contents give at least k samples; +1 for the query's own content.
    const hits = this.index.search(qv, k + 1, acceptKey);
    return which.map((p, i) => this.expand(p, hits[i], acceptRow).slice(0, k + 1));
  }

  /** For each distinct content (by position), every sample at similarity >= threshold other than itself. */
  within(threshold: number, acceptRow: (row: number) => boolean = () => true, queries?: number[]): SampleNeighbour[][] {
    const which = queries ?? this.contents.map((_, p) => p);
    const qv = this.queryVectors(which);
    const acceptKey = (key: number) => {
      const p = this.contentOfKey(key);
      return p >= 0 && this.rowsOf[p].some(acceptRow);
    };
    const hits = this.index.within(qv, threshold, acceptKey);
    return which.map((p, i) => this.expand(p, hits[i], acceptRow));
  }

  /** Nearest samples to an arbitrary vector (a text query, or a sample's own vector). */
  search(vector: Float32Array, k: number, acceptRow: (row: number) => boolean = () => true): SampleNeighbour[] {
    const acceptKey = (key: number) => {
      const p = this.contentOfKey(key);
      return p >= 0 && this.rowsOf[p].some(acceptRow);
    };
    const [hits] = this.index.search(vector, k, acceptKey);
    const out: SampleNeighbour[] = [];
    for (const h of hits) for (const r of this.rowsOf[this.contentOfKey(h.key)]) if (acceptRow(r)) out.push({ row: r, similarity: h.similarity });
    return out.slice(0, k);
  }

  private queryVectors(which: number[]): Float32Array {
    const d = this.data.dim;
    const qv = new Float32Array(which.length * d);
    which.forEach((p, i) => qv.set(this.vector(this.rowsOf[p][0]), i * d));
    return qv;
  }

  /** Content hits → sample neighbours: the query content's other samples first (similarity 1). */
  private expand(p: number, hits: Neighbour[], acceptRow: (row: number) => boolean): SampleNeighbour[] {
    const out: SampleNeighbour[] = [];
    const own = this.rowsOf[p];
    // Samples of the query's own content are neighbours of each other; the caller drops the query row itself.
    for (const r of own) if (acceptRow(r)) out.push({ row: r, similarity: 1 });
    for (const h of hits) {
      const q = this.contentOfKey(h.key);
      if (q < 0 || q === p) continue;
      for (const r of this.rowsOf[q]) if (acceptRow(r)) out.push({ row: r, similarity: Math.min(1, h.similarity) });
    }
    return out;
  }
}

/** A content's neighbour list seen from one of its samples: without that sample itself. */
export function forRow(list: SampleNeighbour[], row: number): SampleNeighbour[] {
  return list.filter((n) => n.row !== row);
}
