import { z } from 'zod';
import { COLUMNS, type Catalog, type Columns } from '../catalog/catalog.js';
import { errorMessage } from '../errors.js';
import { alignCheck } from '../image/overlay-match.js';
import { geometricMatch } from '../image/geometric.js';
import { readUri } from '../util/uri.js';
import {
  DEFAULT_THRESHOLDS,
  KEEP_RULES,
  clusterTable,
  factsOrder,
  tableFacts,
  similarityOf,
  type Cluster,
  type ClusterMember,
  type KeepFacts,
} from './dedup-match.js';
import { fetchImageInfo, loadSignalTable, type ImageInfo } from './dedup-load.js';
import type { GeometricResult } from '../image/geometric.js';
import type { ReduceStep, StepContext, StepStats } from './types.js';

const bits = (d: number) => z.number().int().min(0).max(64).default(d);

export const DedupParamsSchema = z
  .object({
    /** Which image of a cluster is kept: largest resolution (then file size, then path), first ingested, or first path. */
    keep: z.enum(KEEP_RULES).default('largest'),
    /**
     * A cluster whose copies are in several splits keeps a copy in this split (when it has one);
     * copies in other splits than the kept one are not flagged as duplicates but left to the
     * `leaks` step, so the two rules never remove every copy. null: ignore splits.
     */
    prefer_split: z.string().min(1).nullable().default('train'),
    /** Only exact copies: same bytes or same decoded pixels. */
    exact_only: z.boolean().default(false),
    /** Near duplicate when the closest variants are within this pHash distance... */
    phash_threshold: bits(DEFAULT_THRESHOLDS.phashThreshold),
    /** ...and this dHash distance. */
    dhash_threshold: bits(DEFAULT_THRESHOLDS.dhashThreshold),
    /** pHash radius of the candidate search; pairs beyond the thresholds but within it are borderline. */
    candidate_radius: bits(DEFAULT_THRESHOLDS.candidateRadius),
    /** Borderline pairs must also be within this dHash distance to be checked geometrically. */
    borderline_dhash: bits(DEFAULT_THRESHOLDS.borderlineDhash),
    /** Decide borderline pairs by looking at the images (off: they are not duplicates). */
    geometric: z.boolean().default(true),
    /** How: 'align' lays one on the other (similarity transform, region agreement); 'orb' matches ORB keypoints (RANSAC homography). */
    verify: z.enum(['align', 'orb']).default('align'),
    /** pHash radius between a variant of one image and an extra view (crop, rotation, band-free) of the other that makes a pair borderline (-1: off). */
    extra_radius: z.number().int().min(-1).max(20).default(DEFAULT_THRESHOLDS.extraRadius!),
    /** verify: orb — homography inliers needed to confirm a borderline pair. */
    min_inliers: z.number().int().min(4).default(20),
    /** verify: orb — share of ratio-test matches the inliers must make up. */
    min_inlier_ratio: z.number().min(0).max(1).default(0.3),
  })
  .strict()
  .refine((p) => p.candidate_radius >= p.phash_threshold, {
    message: 'candidate_radius must be at least phash_threshold', path: ['candidate_radius'],
  });
export type DedupParams = z.infer<typeof DedupParamsSchema>;

const CLUSTER_COLUMNS: Columns = {
  run_id: 'int', cluster: 'int', sample_id: 'varchar', kept: 'bool', method: 'varchar', distance: 'int',
  similarity: 'double', evidence: 'json', keep_reason: 'varchar', min_similarity: 'double',
};

/** The borderline pair's files laid one on the other (align) or matched by ORB + RANSAC, with the step's acceptance figures. */
function geometricCheck(params: DedupParams): (a: string, b: string, mirrorSecond: boolean) => Promise<GeometricResult> {
  return async (a, b, mirrorSecond) => {
    const [ba, bb] = await Promise.all([readUri(a), readUri(b)]);
    if (params.verify === 'align') return alignCheck(ba, bb, mirrorSecond);
    return geometricMatch(ba, bb, { mirrorSecond, minInliers: params.min_inliers, minInlierRatio: params.min_inlier_ratio });
  };
}

/** An image of a cluster: who it is and what the keep rule looks at. */
interface Member extends ImageInfo {
  facts: KeepFacts;
}

/** A cluster after the split rule: its keeper, its same-split duplicates, and copies left to leaks. */
interface ArrangedCluster {
  keep: number;
  keepReason: string;
  duplicates: ClusterMember[];
  crossSplit: ClusterMember[];
}

/**
 * Apply `prefer_split` to a cluster: when it spans splits and has members in the preferred split,
 * the best of those (by the keep rule) becomes the keeper; members in a split other than the
 * keeper's are cross-split copies (train–test leaks), left to the leak rule. Verdicts are
 * symmetric, so a swapped-out keeper takes the verdict of the member that replaced it; the other
 * members keep the evidence of their match with the cluster's first keeper.
 */
function arrangeBySplit(c: Cluster, items: (i: number) => Member, params: DedupParams): ArrangedCluster {
  const all = [{ index: c.keep, verdict: null }, ...c.members] as Array<{ index: number; verdict: ClusterMember['verdict'] | null }>;
  const splits = new Set(all.map((m) => items(m.index).split));
  if (params.prefer_split === null || splits.size < 2 || splits.has(null)) {
    return { keep: c.keep, keepReason: c.keepReason, duplicates: c.members, crossSplit: [] };
  }
  let keep = c.keep;
  let keepReason = c.keepReason;
  let members = c.members;
  const preferred = all.filter((m) => items(m.index).split === params.prefer_split).map((m) => m.index);
  if (preferred.length && items(c.keep).split !== params.prefer_split) {
    const cmp = factsOrder(params.keep);
    keep = preferred.sort((a, b) => cmp(items(a).facts, items(b).facts))[0];
    const replaced = c.members.find((m) => m.index === keep)!;
    members = [{ index: c.keep, verdict: replaced.verdict }, ...c.members.filter((m) => m.index !== keep)];
    keepReason = `in the preferred split '${params.prefer_split}' (prefer_split); then ${c.keepReason}`;
  }
  const home = items(keep).split;
  return {
    keep, keepReason,
    duplicates: members.filter((m) => items(m.index).split === home),
    crossSplit: members.filter((m) => items(m.index).split !== home),
  };
}

/**
 * Duplicate clusters (exact bytes, exact pixels, near copies) with a kept image each. Writes the
 * run's clusters to `dup_clusters` and a flagged `duplicate` issue on every member that is not
 * kept, so `filter: {drop: [duplicate]}` removes them. Needs `hash` and `dedup_signals` before it.
 */
export const dedupStep: ReduceStep<DedupParams> = {
  kind: 'reduce',
  name: 'dedup',
  description: 'duplicate clusters (exact and near: resized, recompressed, edited, padded, cropped, mirrored) with a kept image each',
  params: DedupParamsSchema,
  async run(ctx: StepContext, params: DedupParams): Promise<StepStats> {
    const { table, missing, withSplit } = await loadSignalTable(ctx, 'dedup');
    // Who the images are, fetched only for those in an exact group or a candidate pair.
    const known = new Map<number, Member>();
    const items = (i: number) => known.get(i)!;
    const progress = ctx.reporter.progress('dedup', table.size);
    let geometricErrors = 0;
    const check = params.geometric ? geometricCheck(params) : undefined;
    const { clusters, stats } = await clusterTable(table, {
      keep: params.keep,
      thresholds: {
        phashThreshold: params.phash_threshold, dhashThreshold: params.dhash_threshold, candidateRadius: params.candidate_radius,
        borderlineDhash: params.borderline_dhash, exactOnly: params.exact_only, extraRadius: params.extra_radius,
      },
      paths: async (indices) => {
        const info = await fetchImageInfo(ctx, table, indices);
        indices.forEach((i, k) => known.set(i, { ...info[k], facts: tableFacts(table, i, info[k].path) }));
        return info.map((m) => m.path);
      },
      geometric: check ? (a, b, mirror) => check(items(a).uri, items(b).uri, mirror) : undefined,
      onGeometricError: (a, b, err) => {
        geometricErrors++;
        ctx.reporter.warn(`dedup: geometric check of ${items(a).path} and ${items(b).path} failed: ${errorMessage(err)}`);
      },
    });
    progress.tick(table.size);
    progress.finish();

    const clusterRows: Record<string, unknown>[] = [];
    const issueRows: Record<string, unknown>[] = [];
    const byMethod: Record<string, number> = {};
    let crossSplit = 0;
    for (const c of clusters) {
      const a = arrangeBySplit(c, items, params);
      const keep = items(a.keep);
      clusterRows.push({
        run_id: ctx.runId, cluster: c.id, sample_id: keep.id, kept: true, method: 'keep', distance: 0, similarity: 1,
        evidence: null, keep_reason: a.keepReason, min_similarity: c.minSimilarity,
      });
      const crossSet = new Set(a.crossSplit);
      for (const m of [...a.duplicates, ...a.crossSplit]) {
        const it = items(m.index);
        const method = m.verdict.method!;
        const similarity = similarityOf(m.verdict);
        const cross = crossSet.has(m);
        clusterRows.push({
          run_id: ctx.runId, cluster: c.id, sample_id: it.id, kept: false, method, distance: m.verdict.distance, similarity,
          evidence: cross ? { ...m.verdict.evidence, cross_split: true, kept_split: keep.split } : m.verdict.evidence,
          keep_reason: a.keepReason, min_similarity: c.minSimilarity,
        });
        // A copy in another split is a train–test leak: the leaks step records (and removes) it, once.
        if (cross) {
          crossSplit++;
          continue;
        }
        byMethod[method] = (byMethod[method] ?? 0) + 1;
        issueRows.push({
          sample_id: it.id, type: 'duplicate', score: similarity, flagged: true,
          evidence: { cluster: c.id, kept: keep.id, kept_path: keep.path, method, distance: m.verdict.distance, ...m.verdict.evidence },
          step: 'dedup', source: 'imgsift', run_id: ctx.runId,
        });
      }
    }
    await writeResults(ctx.catalog, ctx.runId, clusterRows, issueRows);

    const result: StepStats = {
      'images compared': table.size,
      clusters: clusters.length,
      'duplicates flagged': issueRows.length,
      'candidate pairs': stats.candidatePairs,
    };
    for (const [m, count] of Object.entries(byMethod).sort()) result[`by ${m}`] = count;
    if (params.geometric) {
      result['geometric checks'] = stats.geometricChecks;
      result['geometric confirmed'] = stats.geometricConfirmed;
      if (geometricErrors) result['geometric checks failed'] = geometricErrors;
    }
    if (crossSplit) result['cross-split copies left to leaks'] = crossSplit;
    if (params.prefer_split !== null && clusters.length && withSplit === 0) {
      // Without splits a train image and its evaluation copy look like plain duplicates.
      const note = "samples have no split yet, so copies across splits cannot be told from duplicates: put 'split' before 'dedup'";
      result['splits'] = note;
      ctx.reporter.warn(`dedup: ${note}`);
    }
    if (missing) result['images without signals (unreadable or undecodable)'] = missing;
    return result;
  },
};

/** Replace the run's clusters and every earlier dedup issue, in one transaction. */
async function writeResults(catalog: Catalog, runId: number, clusters: Record<string, unknown>[], issues: Record<string, unknown>[]): Promise<void> {
  await catalog.transaction(async (tx) => {
    await tx.run(`DELETE FROM dup_clusters WHERE run_id = ?`, [runId]);
    await tx.run(`DELETE FROM issues WHERE step = 'dedup' AND source = 'imgsift'`);
    await tx.append('dup_clusters', CLUSTER_COLUMNS, clusters);
    await tx.append('issues', COLUMNS.issues, issues);
  });
}

/** One cluster as `clusters.jsonl` has it: paths of the kept image and of all members (kept first). */
export interface ClusterRecord {
  cluster: number;
  keep: string;
  members: string[];
  min_similarity: number;
  keep_reason: string;
  evidence: Array<{ path: string; method: string; distance: number; similarity: number } & Record<string, unknown>>;
}

/** The clusters of a run, from the catalog, in cluster order; members kept first, then by path. */
export async function readClusters(catalog: Catalog, runId: number): Promise<ClusterRecord[]> {
  const rows = await catalog.all<{
    cluster: number; path: string | null; sample_id: string; kept: boolean; method: string; distance: number;
    similarity: number; evidence: string | null; keep_reason: string; min_similarity: number;
  }>(
    `SELECT c.cluster, s.path, c.sample_id, c.kept, c.method, c.distance, c.similarity, c.evidence, c.keep_reason, c.min_similarity
     FROM dup_clusters c JOIN samples s ON s.id = c.sample_id
     WHERE c.run_id = ? ORDER BY c.cluster, c.kept DESC, s.path, c.sample_id`,
    [runId],
  );
  const out: ClusterRecord[] = [];
  for (const r of rows) {
    const path = r.path ?? r.sample_id;
    if (r.kept) {
      out.push({ cluster: r.cluster, keep: path, members: [path], min_similarity: r.min_similarity, keep_reason: r.keep_reason, evidence: [] });
      continue;
    }
    const c = out[out.length - 1];
    c.members.push(path);
    const ev = r.evidence ? (JSON.parse(r.evidence) as Record<string, unknown>) : {};
    c.evidence.push({ path, method: r.method, distance: r.distance, similarity: r.similarity, ...ev });
  }
  return out;
}
