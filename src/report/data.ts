import type { Catalog } from '../catalog/catalog.js';
import { hasRunSamples, useRecordedRun } from '../catalog/run-view.js';
import { UsageError } from '../errors.js';
import type { BuildSummary, StepSummary } from './summary.js';

/**
 * Everything the report shows, gathered from the catalog with aggregate queries (and LIMITed
 * example queries), so it stays fast on catalogs of millions of samples.
 */

export interface SampleRef {
  id: string;
  path: string | null;
  label: string | null;
  split: string | null;
  /** Where the image bytes are (null when the sample has no image file). */
  uri: string | null;
  score: number | null;
}

export interface FunnelStage {
  name: string;
  kind: 'source' | 'map' | 'reduce' | 'other';
  /** Samples in the dataset after this stage. */
  after: number;
  removed: number;
  /** Removed samples by drop reason. */
  reasons: Record<string, number>;
}

export interface IssueStat {
  type: string;
  source: string;
  /** Distinct run samples with this issue flagged. */
  flagged: number;
  /** Distinct run samples with a score for it (flagged or not). */
  scored: number;
  examples: SampleRef[];
}

export interface Histogram {
  type: string;
  min: number;
  max: number;
  bins: Array<{ lo: number; hi: number; n: number; flagged: number }>;
}

export interface PairExample {
  a: SampleRef;
  b: SampleRef;
  similarity: number | null;
  distance: number | null;
  method: string | null;
}

export interface PairStat {
  type: string;
  flagged: number;
  /** Flagged samples whose evidence names the other sample of the pair. */
  withPartner: number;
  /** Distinct partners (for duplicates: about the number of clusters). */
  partners: number;
  byMethod: Record<string, number>;
  /** 'train ↔ test' → count. */
  bySplits: Record<string, number>;
  examples: PairExample[];
}

export interface ReportData {
  generatedAt: string;
  run: { id: number; name: string | null; status: string; started: string | null; finished: string | null };
  summary: BuildSummary | null;
  /** Samples the run's source listed. */
  listed: number;
  /** Samples kept (the run's active set). */
  kept: number;
  funnel: FunnelStage[];
  splits: Array<{ split: string; count: number; percent: number }>;
  labels: Array<{ label: string; counts: Record<string, number>; total: number }>;
  labelCount: number;
  issues: IssueStat[];
  flaggedSamples: number;
  histograms: Histogram[];
  pairs: PairStat[];
  review: { tags: Record<string, number>; decisions: Record<string, number>; imports: Array<{ source: string; issues: number }> };
  /** Steps whose stats look like image-pair alignment (name or stat keys mention align/homography/inliers). */
  alignment: StepSummary[];
}

export interface CollectOptions {
  /** Example thumbnails per issue type (default 4). */
  examplesPerIssue?: number;
  /** Example pairs per duplicate/leak type (default 6). */
  examplesPerPair?: number;
  /** Histogram bins (default 20). */
  bins?: number;
  /** Summary to use when the run stored none (e.g. called by build before it stores one). */
  summary?: BuildSummary;
}

/** Issue types shown as pairs: their evidence names the other sample. */
export const PAIR_TYPE = /dup|leak/i;
/** Evidence keys that may name the other sample of a duplicate or leak, in order of preference. */
export const PARTNER_KEYS = ['other', 'other_id', 'duplicate_of', 'keep', 'kept', 'original', 'match', 'matched', 'train_sample', 'train_id', 'of'];
const SIMILARITY_KEYS = ['similarity', 'cosine', 'jaccard'];
const DISTANCE_KEYS = ['distance', 'hamming', 'hamming_distance'];
const ALIGN = /align|homograph|inlier|reproj|registration/i;

const coalesceKeys = (keys: string[]) => `coalesce(${keys.map((k) => `i.evidence->>'${k}'`).join(', ')})`;

export async function collectReportData(catalog: Catalog, runId: number, o: CollectOptions = {}): Promise<ReportData> {
  const run = Math.trunc(runId);
  const runRow = await catalog.one<{ id: number; name: string | null; status: string; started: string | null; finished: string | null; summary: string | null }>(
    `SELECT id, name, status, strftime(started, '%Y-%m-%d %H:%M:%S') AS started, strftime(finished, '%Y-%m-%d %H:%M:%S') AS finished,
            summary::VARCHAR AS summary FROM runs WHERE id = ?`,
    [run],
  );
  if (!runRow) throw new UsageError(`catalog ${catalog.path} has no run ${run}`);
  // The run's own dataset, as it recorded it: later runs move samples.seen_run and splits on.
  await useRecordedRun(catalog, run);
  const summary: BuildSummary | null = runRow.summary ? (JSON.parse(runRow.summary) as BuildSummary) : (o.summary ?? null);
  // The run's samples, kept or dropped: from its record when it has one (an older run's samples have moved on).
  const inRun = (await hasRunSamples(catalog, run))
    ? `(SELECT * FROM samples WHERE id IN (SELECT sample_id FROM run_samples WHERE run_id = ${run}) OR id IN (SELECT sample_id FROM drops WHERE run_id = ${run}))`
    : `(SELECT * FROM samples WHERE seen_run = ${run})`;

  const ing = summary?.ingest;
  const listed = ing ? ing.added + ing.updated : await catalog.scalar(`SELECT count(*) FROM samples WHERE seen_run = ${run}`);
  const kept = await catalog.scalar(`SELECT count(*) FROM active`);

  // Funnel: the source's listing, then each step with what it dropped (drops carry the step name).
  const dropRows = await catalog.all<{ step: string; reason: string; n: bigint }>(
    `SELECT step, reason, count(DISTINCT sample_id) AS n FROM drops WHERE run_id = ${run} GROUP BY step, reason ORDER BY step, n DESC, reason`,
  );
  const dropsByStep = new Map<string, Record<string, number>>();
  for (const r of dropRows) {
    const m = dropsByStep.get(r.step) ?? {};
    m[r.reason] = Number(r.n);
    dropsByStep.set(r.step, m);
  }
  const funnel: FunnelStage[] = [{ name: 'source', kind: 'source', after: listed, removed: 0, reasons: {} }];
  let remaining = listed;
  const stage = (name: string, kind: FunnelStage['kind']) => {
    const reasons = dropsByStep.get(name) ?? {};
    dropsByStep.delete(name);
    const removed = Object.values(reasons).reduce((a, b) => a + b, 0);
    remaining -= removed;
    funnel.push({ name, kind, after: remaining, removed, reasons });
  };
  for (const st of summary?.steps ?? []) {
    if (st.rows) {
      // Recorded per step (two filter steps each have their own figures).
      dropsByStep.delete(st.name);
      remaining = st.rows.out;
      funnel.push({ name: st.name, kind: st.kind === 'map' ? 'map' : 'reduce', after: st.rows.out, removed: st.rows.in - st.rows.out, reasons: st.rows.dropped });
    } else stage(st.name, st.kind === 'map' ? 'map' : 'reduce');
  }
  for (const name of [...dropsByStep.keys()]) stage(name, 'other');
  // A sample dropped by two steps is counted by each; the real kept count closes the funnel.
  if (funnel.length > 1 && funnel[funnel.length - 1].after !== kept) funnel[funnel.length - 1].after = kept;

  const splitRows = await catalog.all<{ split: string | null; n: bigint }>(
    `SELECT split, count(*) AS n FROM active GROUP BY split ORDER BY n DESC, split NULLS LAST`,
  );
  const splits = splitRows.map((r) => ({
    split: r.split ?? '(none)', count: Number(r.n), percent: kept ? Math.round((Number(r.n) / kept) * 1000) / 10 : 0,
  }));
  const labelCount = await catalog.scalar(`SELECT count(DISTINCT label) FROM active`);
  const labelRows = await catalog.all<{ label: string | null; split: string | null; n: bigint }>(
    `WITH top AS (SELECT label FROM active GROUP BY label ORDER BY count(*) DESC, label NULLS LAST LIMIT 30)
     SELECT a.label, a.split, count(*) AS n FROM active a JOIN top t ON t.label IS NOT DISTINCT FROM a.label GROUP BY a.label, a.split`,
  );
  const labels = new Map<string, { label: string; counts: Record<string, number>; total: number }>();
  for (const r of labelRows) {
    const key = r.label ?? '(none)';
    const e = labels.get(key) ?? { label: key, counts: {}, total: 0 };
    e.counts[r.split ?? '(none)'] = Number(r.n);
    e.total += Number(r.n);
    labels.set(key, e);
  }

  // Issues by (type, source) over the run's samples, kept or dropped.
  const issueRows = await catalog.all<{ type: string; source: string; flagged: bigint; scored: bigint }>(
    `SELECT i.type, i.source, count(DISTINCT i.sample_id) FILTER (WHERE i.flagged) AS flagged,
            count(DISTINCT i.sample_id) FILTER (WHERE i.score IS NOT NULL) AS scored
     FROM issues i JOIN ${inRun} s ON s.id = i.sample_id GROUP BY i.type, i.source
     HAVING count(*) FILTER (WHERE i.flagged) > 0 ORDER BY flagged DESC, i.type, i.source`,
  );
  const perIssue = o.examplesPerIssue ?? 4;
  const issues: IssueStat[] = [];
  for (const r of issueRows.slice(0, 40)) {
    const examples = await sampleRefs(
      catalog,
      `SELECT i.sample_id AS id, max(i.score) AS score FROM issues i JOIN ${inRun} s ON s.id = i.sample_id
       WHERE i.flagged AND i.type = ? AND i.source = ? GROUP BY i.sample_id ORDER BY score DESC NULLS LAST, id LIMIT ${perIssue}`,
      [r.type, r.source],
    );
    issues.push({ type: r.type, source: r.source, flagged: Number(r.flagged), scored: Number(r.scored), examples });
  }
  const flaggedSamples = await catalog.scalar(
    `SELECT count(DISTINCT i.sample_id) FROM issues i JOIN ${inRun} s ON s.id = i.sample_id WHERE i.flagged`,
  );

  const histograms = await collectHistograms(catalog, inRun, o.bins ?? 20);
  const pairs: PairStat[] = [];
  for (const type of [...new Set(issueRows.map((r) => r.type))].filter((t) => PAIR_TYPE.test(t))) {
    pairs.push(await collectPairs(catalog, inRun, type, o.examplesPerPair ?? 6));
  }

  const tagRows = await catalog.all<{ tag: string; n: bigint }>(
    `SELECT t.tag, count(*) AS n FROM tags t JOIN ${inRun} s ON s.id = t.sample_id GROUP BY t.tag ORDER BY n DESC, t.tag`,
  );
  const decisionRows = await catalog.all<{ action: string; n: bigint }>(
    `SELECT d.action, count(*) AS n FROM decisions d JOIN ${inRun} s ON s.id = d.sample_id GROUP BY d.action ORDER BY n DESC, d.action`,
  );
  const importRows = await catalog.all<{ source: string; n: bigint }>(
    `SELECT source, count(*) AS n FROM issues WHERE source <> 'imgsift' GROUP BY source ORDER BY source`,
  );
  const steps = summary?.steps ?? [];
  return {
    generatedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    run: { id: run, name: runRow.name, status: runRow.status, started: runRow.started, finished: runRow.finished },
    summary,
    listed,
    kept,
    funnel,
    splits,
    labels: [...labels.values()].sort((a, b) => b.total - a.total || a.label.localeCompare(b.label)),
    labelCount,
    issues,
    flaggedSamples,
    histograms,
    pairs,
    review: {
      tags: Object.fromEntries(tagRows.map((r) => [r.tag, Number(r.n)])),
      decisions: Object.fromEntries(decisionRows.map((r) => [r.action, Number(r.n)])),
      imports: importRows.map((r) => ({ source: r.source, issues: Number(r.n) })),
    },
    alignment: steps.filter((s) => ALIGN.test(s.name) || Object.keys(s.stats).some((k) => ALIGN.test(k))),
  };
}

/** Score histograms of the issue types whose scores vary (a constant 1.0 says nothing). */
async function collectHistograms(catalog: Catalog, inRun: string, bins: number): Promise<Histogram[]> {
  const ranges = await catalog.all<{ type: string; lo: number; hi: number; n: bigint }>(
    `SELECT i.type, min(i.score) AS lo, max(i.score) AS hi, count(*) AS n
     FROM issues i JOIN ${inRun} s ON s.id = i.sample_id WHERE i.score IS NOT NULL AND isfinite(i.score)
     GROUP BY i.type HAVING min(i.score) < max(i.score) ORDER BY n DESC, i.type LIMIT 16`,
  );
  const out: Histogram[] = [];
  for (const r of ranges) {
    // Scores in [0, 1] (the convention) get fixed bins, so charts of different runs compare.
    const lo = r.lo >= 0 && r.hi <= 1 ? 0 : r.lo;
    const hi = r.lo >= 0 && r.hi <= 1 ? 1 : r.hi;
    const width = (hi - lo) / bins;
    const rows = await catalog.all<{ b: number; n: bigint; f: bigint }>(
      `SELECT least(${bins - 1}, CAST(floor((i.score - ?) / ?) AS INTEGER)) AS b, count(*) AS n, count(*) FILTER (WHERE i.flagged) AS f
       FROM issues i JOIN ${inRun} s ON s.id = i.sample_id WHERE i.type = ? AND i.score IS NOT NULL AND isfinite(i.score)
       GROUP BY b ORDER BY b`,
      [lo, width, r.type],
    );
    const hist = Array.from({ length: bins }, (_, k) => ({ lo: lo + k * width, hi: lo + (k + 1) * width, n: 0, flagged: 0 }));
    for (const row of rows) {
      const k = Math.max(0, Math.min(bins - 1, row.b));
      hist[k].n += Number(row.n);
      hist[k].flagged += Number(row.f);
    }
    out.push({ type: r.type, min: lo, max: hi, bins: hist });
  }
  return out;
}

async function collectPairs(catalog: Catalog, inRun: string, type: string, limit: number): Promise<PairStat> {
  const pairs = `
    SELECT i.sample_id AS a, ${coalesceKeys(PARTNER_KEYS)} AS b,
           TRY_CAST(${coalesceKeys(SIMILARITY_KEYS)} AS DOUBLE) AS similarity,
           TRY_CAST(${coalesceKeys(DISTANCE_KEYS)} AS DOUBLE) AS distance,
           i.evidence->>'method' AS method, i.score
    FROM issues i JOIN ${inRun} s ON s.id = i.sample_id WHERE i.flagged AND i.type = ?`;
  const stats = await catalog.one<{ flagged: bigint; with_partner: bigint; partners: bigint }>(
    `SELECT count(DISTINCT p.a) AS flagged, count(DISTINCT p.a) FILTER (WHERE o.id IS NOT NULL) AS with_partner,
            count(DISTINCT o.id) AS partners
     FROM (${pairs}) p LEFT JOIN samples o ON o.id = p.b`,
    [type],
  );
  const methods = await catalog.all<{ method: string | null; n: bigint }>(
    `SELECT method, count(*) AS n FROM (${pairs}) p GROUP BY method ORDER BY n DESC, method`,
    [type],
  );
  const splitPairs = await catalog.all<{ sa: string | null; sb: string | null; n: bigint }>(
    `SELECT sa.split AS sa, sb.split AS sb, count(*) AS n FROM (${pairs}) p
     JOIN samples sa ON sa.id = p.a JOIN samples sb ON sb.id = p.b GROUP BY ALL ORDER BY n DESC, sa, sb`,
    [type],
  );
  const ex = await catalog.all<{ a: string; b: string; similarity: number | null; distance: number | null; method: string | null }>(
    `SELECT p.a, p.b, p.similarity, p.distance, p.method FROM (${pairs}) p JOIN samples o ON o.id = p.b
     ORDER BY p.similarity DESC NULLS LAST, p.distance NULLS LAST, p.a LIMIT ${limit}`,
    [type],
  );
  const refs = await refsByIds(catalog, [...new Set(ex.flatMap((e) => [e.a, e.b]))]);
  return {
    type,
    flagged: Number(stats?.flagged ?? 0),
    withPartner: Number(stats?.with_partner ?? 0),
    partners: Number(stats?.partners ?? 0),
    byMethod: Object.fromEntries(methods.map((m) => [m.method ?? '(unspecified)', Number(m.n)])),
    bySplits: Object.fromEntries(splitPairs.map((s) => [`${s.sa ?? '(none)'} ↔ ${s.sb ?? '(none)'}`, Number(s.n)])),
    examples: ex.map((e) => ({ a: refs.get(e.a)!, b: refs.get(e.b)!, similarity: e.similarity, distance: e.distance, method: e.method })),
  };
}

/** Samples (id + score) chosen by `select`, with what the report shows of them, in its order. */
async function sampleRefs(catalog: Catalog, select: string, params: string[]): Promise<SampleRef[]> {
  return catalog.all<SampleRef>(
    `SELECT x.id, s.path, s.label, s.split, f.uri, x.score FROM (${select}) x
     JOIN samples s ON s.id = x.id LEFT JOIN files f ON f.sample_id = x.id AND f.role = 'image'
     ORDER BY x.score DESC NULLS LAST, x.id`,
    params,
  );
}

async function refsByIds(catalog: Catalog, ids: string[]): Promise<Map<string, SampleRef>> {
  if (ids.length === 0) return new Map();
  const rows = await catalog.all<SampleRef>(
    `SELECT s.id, s.path, s.label, s.split, f.uri, NULL::DOUBLE AS score FROM samples s
     LEFT JOIN files f ON f.sample_id = s.id AND f.role = 'image'
     WHERE s.id IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`,
    [JSON.stringify(ids)],
  );
  return new Map(rows.map((r) => [r.id, r]));
}
