/**
 * Duplicate detection over images' signals, independent of the catalog: pair verdicts (exact
 * bytes, exact pixels, perceptual hashes over mirror/padding variants, geometric check for the
 * borderline) and non-chaining clusters around a kept image.
 */
import { HammingIndex, hamming64 } from '../index/hamming.js';
import type { GeometricResult } from '../image/geometric.js';
import type { DedupSignalsResult } from './dedup-signals.js';
import { SignalTableBuilder, VARIANT_NAMES, extraCodesAt, variantCodesAt, type SignalTable } from './dedup-table.js';

export const KEEP_RULES = ['largest', 'first', 'path'] as const;
export type KeepRule = (typeof KEEP_RULES)[number];

/** What the comparison needs of one image. */
export interface MatchItem {
  /** Caller's key (sample id). */
  id: string;
  path: string;
  /** Ingest order, for keep: first. */
  ord: number;
  sha256: string;
  signals: DedupSignalsResult;
}

export interface MatchThresholds {
  /** A pair is a duplicate when its best variant pair is within both of these... */
  phashThreshold: number;
  dhashThreshold: number;
  /** ...and borderline (geometric check) when within this pHash radius and `borderlineDhash`. */
  candidateRadius: number;
  borderlineDhash: number;
  /** Only exact copies (bytes or pixels). */
  exactOnly: boolean;
  /**
   * Also borderline: a variant of one image within this pHash distance of an extra view (crop,
   * rotation, band-free) of the other (-1: extra views unused). On real photos, copies cropped,
   * rotated or captioned come within 12 while different photos stay beyond (bench/matcher.ts).
   */
  extraRadius?: number;
}

export const DEFAULT_THRESHOLDS: MatchThresholds = {
  phashThreshold: 6, dhashThreshold: 12, candidateRadius: 10, borderlineDhash: 22, exactOnly: false, extraRadius: 12,
};

/** Which signal showed a pair to be duplicates. */
export type MatchMethod = 'sha256' | 'pixels' | 'phash' | 'phash_mirrored' | 'phash_trimmed' | 'phash_centre' | 'geometric';

/** How one pair compares. `distance` is the pHash distance of the best variant pair (0 when exact). */
export interface PairVerdict {
  verdict: 'duplicate' | 'borderline' | 'different';
  method: MatchMethod | null;
  distance: number;
  evidence: {
    signal: MatchMethod | 'none';
    /** Variant of the first image / of the second, e.g. 'plain/mirror'. */
    variants?: string;
    phash?: number;
    dhash?: number;
    inliers?: number;
    matches?: number;
    inlier_ratio?: number;
  };
}

type VariantKey = keyof DedupSignalsResult['variants'];
const VARIANTS: readonly VariantKey[] = VARIANT_NAMES;
const mirrored = (v: VariantKey) => v === 'mirror' || v === 'trimmed_mirror';

/** Parsed 64-bit codes of an item's variants. */
export interface VariantCodes {
  name: VariantKey;
  pHi: number;
  pLo: number;
  dHi: number;
  dLo: number;
}

export function parseVariantCodes(s: DedupSignalsResult): VariantCodes[] {
  const out: VariantCodes[] = [];
  for (const name of VARIANTS) {
    const v = s.variants[name];
    if (!v) continue;
    out.push({
      name, pHi: parseInt(v.phash.slice(0, 8), 16), pLo: parseInt(v.phash.slice(8), 16),
      dHi: parseInt(v.dhash.slice(0, 8), 16), dLo: parseInt(v.dhash.slice(8), 16),
    });
  }
  return out;
}

/** Parsed 64-bit codes of an item's extra views (none for signals from before version 3). */
export function parseExtraCodes(s: DedupSignalsResult): ExtraCode[] {
  return (s.extra ?? []).map((h, k) => ({ hi: parseInt(h.slice(0, 8), 16), lo: parseInt(h.slice(8), 16), k }));
}

export interface ExtraCode {
  hi: number;
  lo: number;
  /** Index into EXTRA_VIEWS. */
  k: number;
}

/**
 * The closest pair of a variant of one image and an extra view of the other, either way round:
 * pHash distance, whether the variant was a mirror, and which views (e.g. 'plain/extra:3').
 */
export function bestExtraPair(a: VariantCodes[], ae: ExtraCode[], b: VariantCodes[], be: ExtraCode[]): { phash: number; variants: string; mirror: boolean } {
  let best = { phash: 65, variants: '', mirror: false };
  for (const [vs, es, flip] of [[a, be, false], [b, ae, true]] as const) {
    for (const v of vs) {
      for (const e of es) {
        const p = hamming64(v.pHi, v.pLo, e.hi, e.lo);
        if (p < best.phash) best = { phash: p, variants: flip ? `extra:${e.k}/${v.name}` : `${v.name}/extra:${e.k}`, mirror: mirrored(v.name) };
      }
    }
  }
  return best;
}

/**
 * The closest variant pair of two images: smallest pHash distance, then dHash. Mirroring both
 * sides is the same as mirroring neither, so at most one side is a mirror variant; a centre crop
 * is compared only with the other's centre crop.
 */
export function bestVariantPair(a: VariantCodes[], b: VariantCodes[]): { phash: number; dhash: number; variants: string; mirror: boolean } {
  let best = { phash: 65, dhash: 65, variants: '', mirror: false };
  for (const x of a) {
    for (const y of b) {
      if (mirrored(x.name) && mirrored(y.name)) continue;
      if ((x.name === 'centre') !== (y.name === 'centre')) continue;
      const p = hamming64(x.pHi, x.pLo, y.pHi, y.pLo);
      if (p > best.phash) continue;
      const d = hamming64(x.dHi, x.dLo, y.dHi, y.dLo);
      if (p < best.phash || d < best.dhash) best = { phash: p, dhash: d, variants: `${x.name}/${y.name}`, mirror: mirrored(x.name) || mirrored(y.name) };
    }
  }
  return best;
}

function perceptualMethod(variants: string): MatchMethod {
  if (variants.includes('mirror')) return 'phash_mirrored';
  if (variants.includes('trimmed')) return 'phash_trimmed';
  if (variants.includes('centre')) return 'phash_centre';
  return 'phash';
}

/** One side of a pair, as judgeSides needs it: exact-copy keys, variant codes, extra views (on demand). */
export interface PairSide {
  /** Equal only for the same file bytes. */
  sha: string | number;
  /** Equal only for the same decoded pixels; null when unknown. */
  pixel: string | number | null;
  codes: VariantCodes[];
  extra: () => ExtraCode[];
}

/** Pair verdict from the signals alone (a borderline pair needs the geometric check to decide). */
export function judgePair(a: MatchItem, b: MatchItem, t: MatchThresholds, codes?: [VariantCodes[], VariantCodes[]]): PairVerdict & { mirror: boolean } {
  const side = (x: MatchItem, c: VariantCodes[] | undefined): PairSide => ({
    sha: x.sha256, pixel: x.signals.pixel_sha256 || null, codes: c ?? parseVariantCodes(x.signals), extra: () => parseExtraCodes(x.signals),
  });
  return judgeSides(side(a, codes?.[0]), side(b, codes?.[1]), t);
}

/** judgePair over any representation of the two images (MatchItem objects or the packed SignalTable). */
export function judgeSides(a: PairSide, b: PairSide, t: MatchThresholds): PairVerdict & { mirror: boolean } {
  if (a.sha === b.sha) return { verdict: 'duplicate', method: 'sha256', distance: 0, evidence: { signal: 'sha256' }, mirror: false };
  if (a.pixel !== null && a.pixel === b.pixel) {
    return { verdict: 'duplicate', method: 'pixels', distance: 0, evidence: { signal: 'pixels' }, mirror: false };
  }
  const m = bestVariantPair(a.codes, b.codes);
  const evidence = { variants: m.variants, phash: m.phash, dhash: m.dhash };
  if (t.exactOnly) return { verdict: 'different', method: null, distance: m.phash, evidence: { signal: 'none', ...evidence }, mirror: m.mirror };
  if (m.phash <= t.phashThreshold && m.dhash <= t.dhashThreshold) {
    const method = perceptualMethod(m.variants);
    return { verdict: 'duplicate', method, distance: m.phash, evidence: { signal: method, ...evidence }, mirror: m.mirror };
  }
  if (m.phash <= t.candidateRadius && m.dhash <= t.borderlineDhash) {
    return { verdict: 'borderline', method: null, distance: m.phash, evidence: { signal: 'none', ...evidence }, mirror: m.mirror };
  }
  const er = t.extraRadius ?? -1;
  if (er >= 0) {
    const ae = a.extra();
    const be = b.extra();
    if (ae.length || be.length) {
      const e = bestExtraPair(a.codes, ae, b.codes, be);
      if (e.phash <= er) {
        return { verdict: 'borderline', method: null, distance: e.phash, evidence: { signal: 'none', variants: e.variants, phash: e.phash }, mirror: e.mirror };
      }
    }
  }
  return { verdict: 'different', method: null, distance: m.phash, evidence: { signal: 'none', ...evidence }, mirror: m.mirror };
}

/** 1 for exact copies, else 1 - pHash distance / 64. */
export function similarityOf(v: Pick<PairVerdict, 'method' | 'distance'>): number {
  return v.method === 'sha256' || v.method === 'pixels' ? 1 : Math.round((1 - v.distance / 64) * 1e4) / 1e4;
}

/** What the keep rules look at. */
export interface KeepFacts {
  path: string;
  ord: number;
  width: number;
  height: number;
  bytes: number;
}

/** The keep facts of image `i` of a signal table, whose path was fetched. */
export function tableFacts(table: SignalTable, i: number, path: string): KeepFacts {
  return { path, ord: table.ord[i], width: table.width[i], height: table.height[i], bytes: table.bytes[i] };
}

/** Orders images best-first for keeping, over their keep facts. */
export function factsOrder(rule: KeepRule): (a: KeepFacts, b: KeepFacts) => number {
  const byPath = (a: KeepFacts, b: KeepFacts) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  switch (rule) {
    case 'first':
      return (a, b) => a.ord - b.ord || byPath(a, b);
    case 'path':
      return byPath;
    case 'largest':
      return (a, b) => b.width * b.height - a.width * a.height || b.bytes - a.bytes || byPath(a, b);
  }
}

/** Why `keep` was kept over the other members, in words. */
export function keepReason(rule: KeepRule, keep: KeepFacts, others: KeepFacts[]): string {
  if (rule === 'first') return 'first in the dataset (keep: first)';
  if (rule === 'path') return 'first path in sort order (keep: path)';
  const px = (i: KeepFacts) => i.width * i.height;
  const size = `${keep.width}x${keep.height}`;
  if (others.every((o) => px(o) < px(keep))) return `largest resolution (${size})`;
  const tied = others.filter((o) => px(o) === px(keep));
  if (tied.every((o) => o.bytes < keep.bytes)) return `largest file (${keep.bytes} bytes) among the largest resolution (${size})`;
  return `first path among equal resolution (${size}) and file size`;
}

export interface ClusterMember {
  index: number;
  verdict: PairVerdict;
}

export interface Cluster {
  /** 1-based, in the order the kept images were visited (best keeper first). */
  id: number;
  keep: number;
  keepReason: string;
  /** The other members, each with how it matched the kept image. */
  members: ClusterMember[];
  /** Smallest similarity between any two images of the cluster (see `minSimilarityScope`). */
  minSimilarity: number;
  /** 'all_pairs', or 'kept' for clusters too large to compare every pair (more than MAX_ALL_PAIRS). */
  minSimilarityScope: 'all_pairs' | 'kept';
}

export interface ClusterStats {
  candidatePairs: number;
  geometricChecks: number;
  geometricConfirmed: number;
  /** Images in an exact group or a candidate pair: the only ones whose paths were asked for. */
  involved: number;
}

/** Verifies a borderline pair by looking at the images (ORB + RANSAC); may throw. */
export type GeometricCheck = (a: MatchItem, b: MatchItem, mirrorSecond: boolean) => Promise<GeometricResult>;

export interface ClusterOptions {
  thresholds: MatchThresholds;
  keep: KeepRule;
  /** Undefined: borderline pairs are not duplicates. */
  geometric?: GeometricCheck;
  /** Called when a geometric check fails to run (unreadable file): the pair is then not a duplicate. */
  onGeometricError?: (a: MatchItem, b: MatchItem, err: unknown) => void;
  maxPairs?: number;
}

/** clusterTable's options: images are table indices, and their paths are asked for only when needed. */
export interface TableClusterOptions {
  thresholds: MatchThresholds;
  keep: KeepRule;
  /**
   * Paths of these images (ascending indices), for the keep order. Asked once, for the images
   * in an exact group or a candidate pair only: the others can neither keep nor be kept.
   */
  paths: (indices: number[]) => Promise<string[]>;
  geometric?: (a: number, b: number, mirrorSecond: boolean) => Promise<GeometricResult>;
  onGeometricError?: (a: number, b: number, err: unknown) => void;
  maxPairs?: number;
}

const MAX_ALL_PAIRS = 2000;

/** Pack MatchItems into a SignalTable (exact-copy keys from the sha256 strings). */
export function tableFromItems(items: MatchItem[]): SignalTable {
  const b = new SignalTableBuilder({ images: items.length, variants: 3, extras: 13 });
  const shaKeys = new Map<string, number>();
  const pixelKeys = new Map<string, number>();
  const key = (m: Map<string, number>, s: string) => {
    let k = m.get(s);
    if (k === undefined) m.set(s, (k = m.size));
    return k;
  };
  for (const it of items) {
    const s = it.signals;
    b.add({
      ord: it.ord, width: s.width, height: s.height, bytes: s.bytes,
      shaKey: key(shaKeys, it.sha256), pixelKey: s.pixel_sha256 ? key(pixelKeys, s.pixel_sha256) : -1,
    });
    for (const c of parseVariantCodes(s)) b.variant(VARIANTS.indexOf(c.name), c.pHi, c.pLo, c.dHi, c.dLo);
    for (const e of parseExtraCodes(s)) b.extra(e.hi, e.lo);
  }
  return b.finish();
}

/**
 * Duplicate clusters that never chain, over MatchItem objects: clusterTable on their packed
 * table (indices in `clusters` are positions in `items`).
 */
export async function clusterDuplicates(items: MatchItem[], options: ClusterOptions): Promise<{ clusters: Cluster[]; stats: ClusterStats }> {
  const geo = options.geometric;
  const onErr = options.onGeometricError;
  return clusterTable(tableFromItems(items), {
    thresholds: options.thresholds, keep: options.keep, maxPairs: options.maxPairs,
    paths: async (indices) => indices.map((i) => items[i].path),
    geometric: geo ? (a, b, mirror) => geo(items[a], items[b], mirror) : undefined,
    onGeometricError: onErr ? (a, b, err) => onErr(items[a], items[b], err) : undefined,
  });
}

/** Exact groups of a table: same decoded pixels (or, without a pixel hash, same bytes), in order of first member. */
interface ExactGroups {
  count: number;
  groupOf: Int32Array;
  /** Members of group g: members[start[g]..start[g+1]-1], ascending. */
  start: Uint32Array;
  members: Uint32Array;
}

function exactGroups(t: SignalTable): ExactGroups {
  const n = t.size;
  let maxSha = -1;
  let maxPixel = -1;
  for (let i = 0; i < n; i++) {
    if (t.shaKey[i] > maxSha) maxSha = t.shaKey[i];
    if (t.pixelKey[i] > maxPixel) maxPixel = t.pixelKey[i];
  }
  // Same bytes imply same pixels, so grouping by pixels also holds every byte-identical group.
  const byPixel = new Int32Array(maxPixel + 1).fill(-1);
  const bySha = new Int32Array(maxSha + 1).fill(-1);
  const groupOf = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const px = t.pixelKey[i];
    const slot = px >= 0 ? byPixel : bySha;
    const k = px >= 0 ? px : t.shaKey[i];
    if (slot[k] < 0) slot[k] = count++;
    groupOf[i] = slot[k];
  }
  const start = new Uint32Array(count + 1);
  for (let i = 0; i < n; i++) start[groupOf[i] + 1]++;
  for (let g = 0; g < count; g++) start[g + 1] += start[g];
  const fill = start.slice(0, count);
  const members = new Uint32Array(n);
  for (let i = 0; i < n; i++) members[fill[groupOf[i]]++] = i;
  return { count, groupOf, start, members };
}

/** Candidate pairs of groups, each once, as adjacency lists sorted ascending. */
interface GroupGraph {
  pairs: number;
  start: Uint32Array;
  adj: Uint32Array;
}

/**
 * Near candidates between groups: a pHash radius search over every variant of each group's first
 * image, and each extra view of it looked up among the variants (view against view says nothing
 * more, so they add queries rather than a wider all-pairs search).
 */
function candidateGraph(t: SignalTable, g: ExactGroups, th: MatchThresholds, maxPairs?: number): GroupGraph {
  const edgesA = new Grow32();
  const edgesB = new Grow32();
  if (!th.exactOnly && g.count > 1) {
    let codes = 0;
    for (let k = 0; k < g.count; k++) {
      const i = g.members[g.start[k]];
      codes += t.variantStart[i + 1] - t.variantStart[i];
    }
    const owner = new Uint32Array(codes);
    const hi = new Uint32Array(codes);
    const lo = new Uint32Array(codes);
    let c = 0;
    for (let k = 0; k < g.count; k++) {
      const i = g.members[g.start[k]];
      for (let r = t.variantStart[i]; r < t.variantStart[i + 1]; r++, c++) {
        owner[c] = k;
        hi[c] = t.pHi[r];
        lo[c] = t.pLo[r];
      }
    }
    const link = (a: number, b: number) => {
      if (a === b) return;
      edgesA.push(a < b ? a : b);
      edgesB.push(a < b ? b : a);
    };
    const index = new HammingIndex({ hi, lo });
    const pairs = index.pairsWithin(th.candidateRadius, { maxPairs });
    for (let k = 0; k < pairs.count; k++) link(owner[pairs.a[k]], owner[pairs.b[k]]);
    const er = th.extraRadius ?? -1;
    if (er >= 0) {
      for (let k = 0; k < g.count; k++) {
        const i = g.members[g.start[k]];
        for (let r = t.extraStart[i]; r < t.extraStart[i + 1]; r++) {
          for (const id of index.query(t.eHi[r], t.eLo[r], er).ids) link(k, owner[id]);
        }
      }
    }
  }
  // Sort the edges by (a, b) and drop repeats (a pair found through several variants).
  const m = edgesA.length;
  const keys = new Float64Array(m);
  for (let k = 0; k < m; k++) keys[k] = edgesA.data[k] * g.count + edgesB.data[k];
  keys.sort();
  const start = new Uint32Array(g.count + 1);
  let pairs = 0;
  for (let k = 0; k < m; k++) {
    if (k > 0 && keys[k] === keys[k - 1]) continue;
    keys[pairs++] = keys[k];
  }
  const ea = new Uint32Array(pairs);
  const eb = new Uint32Array(pairs);
  for (let k = 0; k < pairs; k++) {
    ea[k] = Math.floor(keys[k] / g.count);
    eb[k] = keys[k] - ea[k] * g.count;
    start[ea[k] + 1]++;
    start[eb[k] + 1]++;
  }
  for (let v = 0; v < g.count; v++) start[v + 1] += start[v];
  // In (a, b) order each list gets its smaller neighbours first, then its larger ones: ascending.
  const fill = start.slice(0, g.count);
  const adj = new Uint32Array(pairs * 2);
  for (let k = 0; k < pairs; k++) {
    adj[fill[ea[k]]++] = eb[k];
    adj[fill[eb[k]]++] = ea[k];
  }
  return { pairs, start, adj };
}

/** Growable Uint32 list. */
class Grow32 {
  length = 0;
  data = new Uint32Array(1024);
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

/**
 * Duplicate clusters that never chain. Images are visited best keeper first; each image not yet
 * in a cluster becomes a keeper and takes every unclustered image that is a duplicate of IT
 * (exact copy, perceptual match, or borderline confirmed geometrically). So every member is
 * within the thresholds of its kept image, however the members relate to each other.
 *
 * Candidates come from exact groups (same pixels, or same bytes) and from a pHash radius search
 * (HammingIndex) over every variant of one representative per exact group. An image in neither
 * can neither keep nor be kept, so only the others are ordered (and their paths asked for).
 */
export async function clusterTable(table: SignalTable, options: TableClusterOptions): Promise<{ clusters: Cluster[]; stats: ClusterStats }> {
  const t = options.thresholds;
  const n = table.size;
  const groups = exactGroups(table);
  const graph = candidateGraph(table, groups, t, options.maxPairs);
  const groupSize = (g: number) => groups.start[g + 1] - groups.start[g];

  const involved: number[] = [];
  for (let i = 0; i < n; i++) {
    const g = groups.groupOf[i];
    if (groupSize(g) > 1 || graph.start[g + 1] > graph.start[g]) involved.push(i);
  }
  const paths = involved.length ? await options.paths(involved) : [];
  if (paths.length !== involved.length) throw new Error(`clusterTable: asked for ${involved.length} paths, got ${paths.length}`);
  const facts = new Map<number, KeepFacts>();
  involved.forEach((i, k) => facts.set(i, tableFacts(table, i, paths[k])));
  const factsAt = (i: number) => facts.get(i)!;
  const cmpFacts = factsOrder(options.keep);
  const cmp = (a: number, b: number) => cmpFacts(factsAt(a), factsAt(b));
  // Array sort is stable, so ties keep index order, as when every image was sorted.
  const order = involved.slice().sort(cmp);

  const side = (i: number): PairSide => ({
    sha: table.shaKey[i], pixel: table.pixelKey[i] >= 0 ? table.pixelKey[i] : null, codes: variantCodesAt(table, i), extra: () => extraCodesAt(table, i),
  });
  const clustered = new Uint8Array(n);
  const clusters: Cluster[] = [];
  const stats: ClusterStats = { candidatePairs: graph.pairs, geometricChecks: 0, geometricConfirmed: 0, involved: involved.length };
  const openOf = (g: number) => {
    const open: number[] = [];
    for (let k = groups.start[g]; k < groups.start[g + 1]; k++) if (!clustered[groups.members[k]]) open.push(groups.members[k]);
    return open;
  };

  for (const s of order) {
    if (clustered[s]) continue;
    clustered[s] = 1;
    const sSide = side(s);
    const members: ClusterMember[] = [];
    const gs = groups.groupOf[s];
    for (const i of openOf(gs)) members.push({ index: i, verdict: judgeSides(sSide, side(i), t) });
    // Members of one exact group share every signal, so one verdict per group holds for all of them.
    const borderline: Array<{ g: number; v: PairVerdict & { mirror: boolean } }> = [];
    for (let k = graph.start[gs]; k < graph.start[gs + 1]; k++) {
      const g = graph.adj[k];
      const open = openOf(g);
      if (open.length === 0) continue;
      const v = judgeSides(sSide, side(open[0]), t);
      if (v.verdict === 'duplicate') for (const i of open) members.push({ index: i, verdict: v });
      else if (v.verdict === 'borderline' && options.geometric) borderline.push({ g, v });
    }
    for (const { g, v } of borderline) {
      const open = openOf(g);
      stats.geometricChecks++;
      let geo: GeometricResult;
      try {
        geo = await options.geometric!(s, open[0], v.mirror);
      } catch (err) {
        options.onGeometricError?.(s, open[0], err);
        continue;
      }
      if (!geo.same) continue;
      stats.geometricConfirmed++;
      const confirmed: PairVerdict = {
        verdict: 'duplicate', method: 'geometric', distance: v.distance,
        evidence: { ...v.evidence, signal: 'geometric', inliers: geo.inliers, matches: geo.matches, inlier_ratio: geo.inlierRatio },
      };
      for (const i of open) members.push({ index: i, verdict: confirmed });
    }
    const dups = members.filter((m) => m.verdict.verdict === 'duplicate');
    if (dups.length === 0) continue;
    for (const m of dups) clustered[m.index] = 1;
    dups.sort((x, y) => cmp(x.index, y.index));
    const all = [s, ...dups.map((m) => m.index)];
    const scope = all.length <= MAX_ALL_PAIRS ? 'all_pairs' : 'kept';
    let minSim = Math.min(...dups.map((m) => similarityOf(m.verdict)));
    if (scope === 'all_pairs') {
      const sides = all.map(side);
      const loose = { ...t, exactOnly: false };
      for (let x = 1; x < all.length; x++) {
        for (let y = x + 1; y < all.length; y++) minSim = Math.min(minSim, similarityOf(judgeSides(sides[x], sides[y], loose)));
      }
    }
    clusters.push({
      id: clusters.length + 1,
      keep: s,
      keepReason: keepReason(options.keep, factsAt(s), dups.map((m) => factsAt(m.index))),
      members: dups,
      minSimilarity: minSim,
      minSimilarityScope: scope,
    });
  }
  return { clusters, stats };
}
