/**
 * The dedup matching as it was before the per-image state was packed into typed arrays (one object
 * per image, hex codes parsed up front, every image sorted): kept verbatim as the oracle that
 * test/steps/dedup-compact.test.ts compares the packed path with. Not used by imgsift itself.
 */
import { HammingIndex } from '../../src/index/hamming.js';
import type { GeometricResult } from '../../src/image/geometric.js';
import {
  bestExtraPair, bestVariantPair, parseExtraCodes, parseVariantCodes, similarityOf,
  type Cluster, type ClusterMember, type ClusterOptions, type KeepRule, type MatchItem, type MatchMethod, type MatchThresholds,
  type PairVerdict, type VariantCodes,
} from '../../src/steps/dedup-match.js';

type ClusterStats = { candidatePairs: number; geometricChecks: number; geometricConfirmed: number };

function perceptualMethod(variants: string): MatchMethod {
  if (variants.includes('mirror')) return 'phash_mirrored';
  if (variants.includes('trimmed')) return 'phash_trimmed';
  if (variants.includes('centre')) return 'phash_centre';
  return 'phash';
}


/** Pair verdict from the signals alone (a borderline pair needs the geometric check to decide). */
function judgePair(a: MatchItem, b: MatchItem, t: MatchThresholds, codes?: [VariantCodes[], VariantCodes[]]): PairVerdict & { mirror: boolean } {
  if (a.sha256 === b.sha256) return { verdict: 'duplicate', method: 'sha256', distance: 0, evidence: { signal: 'sha256' }, mirror: false };
  if (a.signals.pixel_sha256 && a.signals.pixel_sha256 === b.signals.pixel_sha256) {
    return { verdict: 'duplicate', method: 'pixels', distance: 0, evidence: { signal: 'pixels' }, mirror: false };
  }
  const m = bestVariantPair(codes?.[0] ?? parseVariantCodes(a.signals), codes?.[1] ?? parseVariantCodes(b.signals));
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
  if (er >= 0 && (a.signals.extra?.length || b.signals.extra?.length)) {
    const ca = codes?.[0] ?? parseVariantCodes(a.signals);
    const cb = codes?.[1] ?? parseVariantCodes(b.signals);
    const e = bestExtraPair(ca, parseExtraCodes(a.signals), cb, parseExtraCodes(b.signals));
    if (e.phash <= er) {
      return { verdict: 'borderline', method: null, distance: e.phash, evidence: { signal: 'none', variants: e.variants, phash: e.phash }, mirror: e.mirror };
    }
  }
  return { verdict: 'different', method: null, distance: m.phash, evidence: { signal: 'none', ...evidence }, mirror: m.mirror };
}


/** Orders images best-first for keeping; returns a comparator over items. */
function keeperOrder(rule: KeepRule): (a: MatchItem, b: MatchItem) => number {
  const byPath = (a: MatchItem, b: MatchItem) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  switch (rule) {
    case 'first':
      return (a, b) => a.ord - b.ord || byPath(a, b);
    case 'path':
      return byPath;
    case 'largest':
      return (a, b) =>
        b.signals.width * b.signals.height - a.signals.width * a.signals.height || b.signals.bytes - a.signals.bytes || byPath(a, b);
  }
}

/** Why `keep` was kept over the other members, in words. */
function keepReason(rule: KeepRule, keep: MatchItem, others: MatchItem[]): string {
  if (rule === 'first') return 'first in the dataset (keep: first)';
  if (rule === 'path') return 'first path in sort order (keep: path)';
  const px = (i: MatchItem) => i.signals.width * i.signals.height;
  const size = `${keep.signals.width}x${keep.signals.height}`;
  if (others.every((o) => px(o) < px(keep))) return `largest resolution (${size})`;
  const tied = others.filter((o) => px(o) === px(keep));
  if (tied.every((o) => o.signals.bytes < keep.signals.bytes)) return `largest file (${keep.signals.bytes} bytes) among the largest resolution (${size})`;
  return `first path among equal resolution (${size}) and file size`;
}


const MAX_ALL_PAIRS = 2000;

/**
 * Duplicate clusters that never chain. Images are visited best keeper first; each image not yet
 * in a cluster becomes a keeper and takes every unclustered image that is a duplicate of IT
 * (exact copy, perceptual match, or borderline confirmed geometrically). So every member is
 * within the thresholds of its kept image, however the members relate to each other.
 *
 * Candidates come from exact groups (same pixels, or same bytes) and from a pHash radius search
 * (HammingIndex) over every variant of one representative per exact group.
 */

export async function referenceClusterDuplicates(items: MatchItem[], options: ClusterOptions): Promise<{ clusters: Cluster[]; stats: ClusterStats }> {
  const t = options.thresholds;
  const n = items.length;
  const codes = items.map((it) => parseVariantCodes(it.signals));

  // Exact groups: same decoded pixels (or, without a pixel hash, same bytes). Same bytes imply
  // same pixels, so this also holds every byte-identical group.
  const groupOf = new Int32Array(n);
  const groups: number[][] = [];
  const byKey = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const key = items[i].signals.pixel_sha256 ? `p:${items[i].signals.pixel_sha256}` : `b:${items[i].sha256}`;
    let g = byKey.get(key);
    if (g === undefined) {
      g = groups.length;
      byKey.set(key, g);
      groups.push([]);
    }
    groups[g].push(i);
    groupOf[i] = g;
  }

  // Near candidates between groups: radius search over every variant of each group's first image.
  const neighbours: Array<Set<number>> = groups.map(() => new Set());
  let candidatePairs = 0;
  if (!t.exactOnly && groups.length > 1) {
    const owner: number[] = [];
    const hi: number[] = [];
    const lo: number[] = [];
    groups.forEach((members, g) => {
      for (const c of codes[members[0]]) {
        owner.push(g);
        hi.push(c.pHi);
        lo.push(c.pLo);
      }
    });
    const link = (ga: number, gb: number) => {
      if (ga === gb || neighbours[ga].has(gb)) return;
      neighbours[ga].add(gb);
      neighbours[gb].add(ga);
      candidatePairs++;
    };
    const index = new HammingIndex({ hi: Uint32Array.from(hi), lo: Uint32Array.from(lo) });
    const pairs = index.pairsWithin(t.candidateRadius, { maxPairs: options.maxPairs });
    for (let k = 0; k < pairs.count; k++) link(owner[pairs.a[k]], owner[pairs.b[k]]);
    // Extra views are looked up among the variants only (view against view says nothing more),
    // so they add n queries rather than a wider all-pairs search.
    const er = t.extraRadius ?? -1;
    if (er >= 0) {
      groups.forEach((members, g) => {
        for (const e of parseExtraCodes(items[members[0]].signals)) {
          for (const id of index.query(e.hi, e.lo, er).ids) link(g, owner[id]);
        }
      });
    }
  }

  const cmp = keeperOrder(options.keep);
  const order = items.map((_, i) => i).sort((a, b) => cmp(items[a], items[b]));
  const clustered = new Uint8Array(n);
  const clusters: Cluster[] = [];
  const stats: ClusterStats = { candidatePairs, geometricChecks: 0, geometricConfirmed: 0 };

  for (const s of order) {
    if (clustered[s]) continue;
    clustered[s] = 1;
    const members: ClusterMember[] = [];
    for (const i of groups[groupOf[s]]) {
      if (clustered[i]) continue;
      const v = judgePair(items[s], items[i], t, [codes[s], codes[i]]);
      members.push({ index: i, verdict: v });
    }
    // Members of one exact group share every signal, so one verdict per group holds for all of them.
    const borderline: Array<{ g: number; v: PairVerdict & { mirror: boolean } }> = [];
    for (const g of [...neighbours[groupOf[s]]].sort((x, y) => x - y)) {
      const open = groups[g].filter((i) => !clustered[i]);
      if (open.length === 0) continue;
      const v = judgePair(items[s], items[open[0]], t, [codes[s], codes[open[0]]]);
      if (v.verdict === 'duplicate') for (const i of open) members.push({ index: i, verdict: v });
      else if (v.verdict === 'borderline' && options.geometric) borderline.push({ g, v });
    }
    for (const { g, v } of borderline) {
      const open = groups[g].filter((i) => !clustered[i]);
      stats.geometricChecks++;
      let geo: GeometricResult;
      try {
        geo = await options.geometric!(items[s], items[open[0]], v.mirror);
      } catch (err) {
        options.onGeometricError?.(items[s], items[open[0]], err);
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
    dups.sort((x, y) => cmp(items[x.index], items[y.index]));
    const all = [s, ...dups.map((m) => m.index)];
    const scope = all.length <= MAX_ALL_PAIRS ? 'all_pairs' : 'kept';
    let minSim = Math.min(...dups.map((m) => similarityOf(m.verdict)));
    if (scope === 'all_pairs') {
      for (let x = 1; x < all.length; x++) {
        for (let y = x + 1; y < all.length; y++) {
          const v = judgePair(items[all[x]], items[all[y]], { ...t, exactOnly: false }, [codes[all[x]], codes[all[y]]]);
          minSim = Math.min(minSim, similarityOf(v));
        }
      }
    }
    clusters.push({
      id: clusters.length + 1,
      keep: s,
      keepReason: keepReason(options.keep, items[s], dups.map((m) => items[m.index])),
      members: dups,
      minSimilarity: minSim,
      minSimilarityScope: scope,
    });
  }
  return { clusters, stats };
}
