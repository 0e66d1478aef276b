import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchMatches, Index } from 'usearch';

/**
 * Approximate nearest neighbours by cosine similarity (usearch HNSW), keyed by strings (content
 * hashes). Persisted as three files under a directory: `<stem>.usearch` (the graph and vectors),
 * `<stem>.keys` (one key per line; line i is usearch key i) and `<stem>.json` (its settings).
 * `addMissing` adds only keys not already there, so a rerun with new samples updates the index
 * instead of rebuilding it. Vectors stay in the index after their samples leave the dataset;
 * searches take a filter and look further until they have enough results that pass it.
 */

export type Quantization = 'f32' | 'f16' | 'i8';

export interface VectorIndexOptions {
  dim: number;
  /** HNSW edges per node (default 16). */
  connectivity?: number;
  /** Candidate list size when adding (default 128) and searching (default 64): recall vs speed. */
  expansionAdd?: number;
  expansionSearch?: number;
  /** How vectors are stored in the index (default f16: half the memory, recall barely changes). */
  quantization?: Quantization;
  /** Threads for add and search (0 = all cores). */
  threads?: number;
}

export interface Neighbour {
  /** Position of the key (see `keyAt`). */
  key: number;
  /** Cosine similarity. */
  similarity: number;
}

interface Settings {
  dim: number;
  connectivity: number;
  expansionAdd: number;
  expansionSearch: number;
  quantization: Quantization;
  count: number;
}

type Usearch = typeof import('usearch');
let usearchModule: Promise<Usearch> | undefined;
const loadUsearch = () => (usearchModule ??= import('usearch'));

export class VectorIndex {
  private readonly keyIds = new Map<string, number>();

  private constructor(
    private readonly index: Index,
    private readonly keys: string[],
    readonly settings: Settings,
    private readonly threads: number,
  ) {
    keys.forEach((k, i) => this.keyIds.set(k, i));
  }

  static async create(options: VectorIndexOptions): Promise<VectorIndex> {
    const settings: Settings = {
      dim: options.dim,
      connectivity: options.connectivity ?? 16,
      expansionAdd: options.expansionAdd ?? 128,
      expansionSearch: options.expansionSearch ?? 64,
      quantization: options.quantization ?? 'f16',
      count: 0,
    };
    return new VectorIndex(await newIndex(settings), [], settings, options.threads ?? 0);
  }

  /**
   * Open the index saved at `<dir>/<stem>.*`, or start an empty one when there is none or it was
   * built with other settings (dimension, connectivity, quantization) or is incomplete.
   */
  static async open(dir: string, stem: string, options: VectorIndexOptions): Promise<{ index: VectorIndex; reused: boolean }> {
    const paths = filesOf(dir, stem);
    const fresh = async () => ({ index: await VectorIndex.create(options), reused: false });
    if (!existsSync(paths.index) || !existsSync(paths.keys) || !existsSync(paths.settings)) return fresh();
    let saved: Settings;
    try {
      saved = JSON.parse(await readFile(paths.settings, 'utf8')) as Settings;
    } catch {
      return fresh();
    }
    const want = await VectorIndex.create(options);
    const same = (['dim', 'connectivity', 'expansionAdd', 'quantization'] as const).every((k) => saved[k] === want.settings[k]);
    if (!same) return fresh();
    const text = await readFile(paths.keys, 'utf8');
    const keys = text.length ? text.split('\n').filter(Boolean) : [];
    if (keys.length !== saved.count) return fresh();
    const index = await newIndex(saved);
    try {
      index.load(paths.index);
    } catch {
      return fresh();
    }
    if (index.size() !== keys.length) return fresh();
    return { index: new VectorIndex(index, keys, { ...saved, expansionSearch: want.settings.expansionSearch }, options.threads ?? 0), reused: true };
  }

  get size(): number {
    return this.keys.length;
  }

  get dim(): number {
    return this.settings.dim;
  }

  has(key: string): boolean {
    return this.keyIds.has(key);
  }

  keyAt(i: number): string {
    return this.keys[i];
  }

  idOf(key: string): number | undefined {
    return this.keyIds.get(key);
  }

  /** Add the vectors (n × dim, row-major) of the keys not yet in the index; returns how many were added. */
  addMissing(keys: readonly string[], vectors: Float32Array): number {
    const d = this.settings.dim;
    if (vectors.length !== keys.length * d) throw new Error(`addMissing: ${keys.length} keys but ${vectors.length / d} vectors of dim ${d}`);
    const ids: bigint[] = [];
    const rows: number[] = [];
    const seen = new Set<string>();
    keys.forEach((k, i) => {
      if (this.keyIds.has(k) || seen.has(k)) return;
      seen.add(k);
      ids.push(BigInt(this.keys.length + ids.length));
      rows.push(i);
    });
    if (ids.length === 0) return 0;
    const batch = new Float32Array(rows.length * d);
    rows.forEach((r, j) => batch.set(vectors.subarray(r * d, (r + 1) * d), j * d));
    this.index.add(BigUint64Array.from(ids), batch, this.threads);
    rows.forEach((r) => {
      this.keyIds.set(keys[r], this.keys.length);
      this.keys.push(keys[r]);
    });
    this.settings.count = this.keys.length;
    return ids.length;
  }

  /**
   * The k nearest neighbours of each query (n × dim) that pass `accept`, most similar first.
   * Searches wider for queries whose first candidates are mostly rejected.
   */
  search(queries: Float32Array, k: number, accept: (key: number) => boolean = () => true): Neighbour[][] {
    const d = this.settings.dim;
    const n = queries.length / d;
    if (!Number.isInteger(n)) throw new Error(`search: query length ${queries.length} is not a multiple of dim ${d}`);
    const out: Neighbour[][] = [];
    if (this.size === 0 || k <= 0) return Array.from({ length: n }, () => []);
    const width = Math.min(this.size, k + 8);
    const first = this.batch(queries, n, width);
    for (let q = 0; q < n; q++) {
      let found = first[q].filter((m) => accept(m.key));
      let w = width;
      while (found.length < k && w < this.size) {
        w = Math.min(this.size, w * 4);
        found = this.batch(queries.subarray(q * d, (q + 1) * d), 1, w)[0].filter((m) => accept(m.key));
      }
      out.push(found.slice(0, k));
    }
    return out;
  }

  /**
   * Every accepted neighbour at cosine similarity >= `threshold` of each query (up to `cap`), most
   * similar first: a radius search, by widening k until the last candidate falls below the threshold.
   */
  within(queries: Float32Array, threshold: number, accept: (key: number) => boolean = () => true, cap = 1000): Neighbour[][] {
    const d = this.settings.dim;
    const n = queries.length / d;
    const out: Neighbour[][] = [];
    if (this.size === 0) return Array.from({ length: n }, () => []);
    const first = this.batch(queries, n, Math.min(this.size, 16));
    for (let q = 0; q < n; q++) {
      let cand = first[q];
      let w = Math.min(this.size, 16);
      while (cand.length === w && cand[w - 1].similarity >= threshold && w < this.size && w < cap) {
        w = Math.min(this.size, cap, w * 4);
        cand = this.batch(queries.subarray(q * d, (q + 1) * d), 1, w)[0];
      }
      out.push(cand.filter((m) => m.similarity >= threshold && accept(m.key)));
    }
    return out;
  }

  /**
   * The k nearest of each query. HNSW keeps max(ef_search, k) candidates, so asking for
   * max(k, expansionSearch) and keeping k is a search at our ef_search: usearch's own setting is
   * not kept across save/load (a loaded index searches at its default) and cannot be changed from JS.
   */
  private batch(queries: Float32Array, n: number, k: number): Neighbour[][] {
    const d = this.settings.dim;
    const want = Math.min(this.size, Math.max(k, this.settings.expansionSearch));
    const res: Neighbour[][] = [];
    if (n === 1) {
      const m = this.index.search(queries.subarray(0, d), want, this.threads);
      res.push(toNeighbours(m.keys, m.distances, Math.min(k, m.keys.length)));
      return res;
    }
    // A flat n × dim array is searched as a batch (the typings only know the array-of-rows form).
    const m = this.index.search(queries.subarray(0, n * d), want, this.threads) as unknown as BatchMatches;
    for (let i = 0; i < n; i++) {
      const c = Math.min(k, Number(m.counts[i]));
      res.push(toNeighbours(m.keys.subarray(i * want, i * want + c), m.distances.subarray(i * want, i * want + c), c));
    }
    return res;
  }

  /** Write the index atomically-enough: settings last, so a torn save is detected and rebuilt. */
  async save(dir: string, stem: string): Promise<void> {
    const paths = filesOf(dir, stem);
    await mkdir(dir, { recursive: true });
    await rm(paths.settings, { force: true });
    this.index.save(paths.index + '.tmp');
    await rename(paths.index + '.tmp', paths.index);
    await writeFile(paths.keys + '.tmp', this.keys.join('\n') + (this.keys.length ? '\n' : ''));
    await rename(paths.keys + '.tmp', paths.keys);
    await writeFile(paths.settings, JSON.stringify(this.settings) + '\n');
  }
}

function toNeighbours(keys: BigUint64Array, distances: Float32Array, count: number): Neighbour[] {
  const out: Neighbour[] = [];
  for (let i = 0; i < count; i++) out.push({ key: Number(keys[i]), similarity: 1 - distances[i] });
  return out;
}

async function newIndex(s: Settings): Promise<Index> {
  const { Index, MetricKind, ScalarKind } = await loadUsearch();
  const q = { f32: ScalarKind.F32, f16: ScalarKind.F16, i8: ScalarKind.I8 }[s.quantization];
  return new Index({
    dimensions: s.dim, metric: MetricKind.Cos, quantization: q, connectivity: s.connectivity,
    expansion_add: s.expansionAdd, expansion_search: s.expansionSearch, multi: false,
  });
}

export function filesOf(dir: string, stem: string): { index: string; keys: string; settings: string } {
  return { index: join(dir, `${stem}.usearch`), keys: join(dir, `${stem}.keys`), settings: join(dir, `${stem}.json`) };
}
