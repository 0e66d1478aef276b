import { forRow, type EmbeddingSpace, type SampleNeighbour } from './space.js';

/**
 * What embeddings say about samples: semantic duplicate clusters, outliers and label
 * disagreement. Pure computations over an EmbeddingSpace; the `semantic` step turns them into issues.
 */

// ---------------------------------------------------------------------------------------------
// Semantic duplicates

export interface DuplicateOptions {
  /** Cosine similarity at or above which two samples are duplicates. */
  threshold: number;
  /**
   * 'greedy': non-chaining clusters — visiting samples in keep order, each unclaimed sample keeps
   * and claims the unclaimed samples within the threshold of *it*, so every member is within the
   * threshold of its keeper (no A~B~C chains).
   * 'semdedup': SemDeDup's pruning within each cluster (connected component at the threshold):
   * order members by similarity to the cluster centroid, least typical first, and remove every
   * member within the threshold of any earlier member (removes more; `kept` may itself be removed).
   */
  prune: 'greedy' | 'semdedup';
  /** Visiting order for 'greedy': row order (ingest order) unless a priority is given (higher first). */
  priority?: (row: number) => number;
}

export interface SemanticDuplicate {
  row: number;
  /** The row it duplicates (its keeper for 'greedy'). */
  kept: number;
  similarity: number;
  /** The keeper of its cluster (the first member in visiting order). */
  cluster: number;
}

export function semanticDuplicates(space: EmbeddingSpace, o: DuplicateOptions): SemanticDuplicate[] {
  const lists = space.within(o.threshold);
  // Sample-level adjacency: row → neighbours within the threshold.
  const adj: SampleNeighbour[][] = Array.from({ length: space.size }, () => []);
  space.rowsOf.forEach((rows, p) => {
    for (const r of rows) adj[r] = forRow(lists[p], r);
  });
  return o.prune === 'semdedup' ? semdedup(space, adj) : greedy(space.size, adj, o.priority);
}

function greedy(n: number, adj: SampleNeighbour[][], priority?: (row: number) => number): SemanticDuplicate[] {
  const order = Array.from({ length: n }, (_, i) => i);
  if (priority) {
    const pr = order.map(priority);
    order.sort((a, b) => pr[b] - pr[a] || a - b);
  }
  const claimed = new Uint8Array(n);
  const out: SemanticDuplicate[] = [];
  for (const s of order) {
    if (claimed[s]) continue;
    claimed[s] = 1;
    for (const nb of adj[s]) {
      if (claimed[nb.row]) continue;
      claimed[nb.row] = 1;
      out.push({ row: nb.row, kept: s, similarity: nb.similarity, cluster: s });
    }
  }
  return out.sort((a, b) => a.row - b.row);
}

function semdedup(space: EmbeddingSpace, adj: SampleNeighbour[][]): SemanticDuplicate[] {
  const n = space.size;
  const d = space.data.dim;
  const comp = components(n, adj);
  const out: SemanticDuplicate[] = [];
  for (const members of comp) {
    if (members.length < 2) continue;
    const centroid = new Float32Array(d);
    for (const r of members) {
      const v = space.vector(r);
      for (let j = 0; j < d; j++) centroid[j] += v[j];
    }
    const sim = members.map((r) => cosine(space.vector(r), centroid));
    const order = members.map((r, i) => ({ r, s: sim[i] })).sort((a, b) => a.s - b.s || a.r - b.r).map((x) => x.r);
    const rank = new Map(order.map((r, i) => [r, i]));
    for (const r of order.slice(1)) {
      // The most similar earlier member, if any is within the threshold.
      let best: SampleNeighbour | undefined;
      for (const nb of adj[r]) {
        if (rank.get(nb.row)! < rank.get(r)! && (!best || nb.similarity > best.similarity)) best = nb;
      }
      if (best) out.push({ row: r, kept: best.row, similarity: best.similarity, cluster: order[0] });
    }
  }
  return out.sort((a, b) => a.row - b.row);
}

function components(n: number, adj: SampleNeighbour[][]): number[][] {
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (let a = 0; a < n; a++) for (const nb of adj[a]) parent[find(a)] = find(nb.row);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    const g = groups.get(r);
    if (g) g.push(i);
    else groups.set(r, [i]);
  }
  return [...groups.values()];
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

// ---------------------------------------------------------------------------------------------
// Outliers and label disagreement (both from each sample's k nearest neighbours)

/** Each sample's k nearest other samples (rows), most similar first. */
export function kNearest(space: EmbeddingSpace, k: number): SampleNeighbour[][] {
  const lists = space.nearest(k);
  const out: SampleNeighbour[][] = Array.from({ length: space.size }, () => []);
  space.rowsOf.forEach((rows, p) => {
    for (const r of rows) out[r] = forRow(lists[p], r).slice(0, k);
  });
  return out;
}

export interface OutlierScore {
  row: number;
  /** Mean cosine distance (1 − similarity) to the k nearest neighbours. */
  distance: number;
  /** 1 − 2^(−distance / median distance): 0.5 for a typical sample, → 1 for far-off ones. */
  score: number;
}

/**
 * kNN outlier scores. The distance is made relative to the dataset's median, so one threshold
 * works across models whose similarity scales differ: score 0.9 means 3.3× the median distance.
 */
export function outlierScores(neighbours: SampleNeighbour[][], k: number): { scores: OutlierScore[]; median: number } {
  const dist = neighbours.map((nb) => {
    const top = nb.slice(0, k);
    return top.length ? top.reduce((s, x) => s + (1 - x.similarity), 0) / top.length : NaN;
  });
  const known = dist.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const median = known.length ? known[Math.floor((known.length - 1) / 2)] : 0;
  const scores = dist.map((d, row) => {
    const score = !Number.isFinite(d) ? 0 : median > 0 ? 1 - 2 ** (-Math.max(0, d) / median) : d > 0 ? 1 : 0.5;
    return { row, distance: Number.isFinite(d) ? d : 0, score };
  });
  return { scores, median };
}

export interface LabelDisagreement {
  row: number;
  label: string;
  /** Share of the labelled neighbours whose label differs from this sample's. */
  share: number;
  /** The most common label among the neighbours (ties: the larger summed similarity). */
  suggested: string;
  /** How many of the neighbours carry `suggested`. */
  support: number;
  neighbours: number;
}

/** For each labelled sample with labelled neighbours: how much its neighbourhood disagrees. */
export function labelDisagreement(labels: (string | null)[], neighbours: SampleNeighbour[][], k: number): LabelDisagreement[] {
  const out: LabelDisagreement[] = [];
  neighbours.forEach((nb, row) => {
    const label = labels[row];
    if (label === null || label === undefined) return;
    const top = nb.filter((x) => labels[x.row] !== null && labels[x.row] !== undefined).slice(0, k);
    if (top.length === 0) return;
    const votes = new Map<string, { n: number; w: number }>();
    for (const x of top) {
      const l = labels[x.row]!;
      const v = votes.get(l) ?? { n: 0, w: 0 };
      v.n++;
      v.w += x.similarity;
      votes.set(l, v);
    }
    const [suggested, best] = [...votes.entries()].sort((a, b) => b[1].n - a[1].n || b[1].w - a[1].w || (a[0] < b[0] ? -1 : 1))[0];
    const differing = top.filter((x) => labels[x.row] !== label).length;
    out.push({ row, label, share: differing / top.length, suggested, support: best.n, neighbours: top.length });
  });
  return out;
}
