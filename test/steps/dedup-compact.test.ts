import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Catalog } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { Reporter } from '../../src/exec/reporter.js';
import { DEFAULT_THRESHOLDS, KEEP_RULES, clusterDuplicates, type MatchItem, type MatchThresholds } from '../../src/steps/dedup-match.js';
import type { DedupSignalsResult } from '../../src/steps/dedup-signals.js';
import { DedupParamsSchema, dedupStep } from '../../src/steps/dedup.js';
import type { GeometricResult } from '../../src/image/geometric.js';
import { uint32Rng } from '../../src/util/random.js';
import { referenceClusterDuplicates } from '../helpers/dedup-reference.js';
import { writeSignalCatalog } from '../helpers/signal-catalog.js';
import { tempDir } from '../helpers/tmp.js';

const dir = await tempDir();

const hex8 = (x: number) => (x >>> 0).toString(16).padStart(8, '0');

/**
 * A varied set: originals (some padded, some without a pixel hash, sizes that tie) and copies of
 * them — byte copies, pixel copies, near copies, mirrors, letterboxed, crops (near an extra view
 * only), borderline pairs, copies of copies.
 */
function variedItems(seed: number, originals: number, copies: number): MatchItem[] {
  const rand = uint32Rng(seed);
  const code = () => hex8(rand()) + hex8(rand());
  const flip = (hex: string, bits: number) => {
    let v = BigInt('0x' + hex);
    const used = new Set<number>();
    while (used.size < bits) used.add(rand() % 64);
    for (const b of used) v ^= 1n << BigInt(b);
    return v.toString(16).padStart(16, '0');
  };
  const pick = <T>(xs: readonly T[]) => xs[rand() % xs.length];
  const items: MatchItem[] = [];
  const add = (signals: DedupSignalsResult, sha256 = code() + code()) => {
    const i = items.length;
    items.push({ id: `s${i}`, path: `${pick(['a', 'b', 'c'])}/${String(rand() % 1000).padStart(3, '0')}-${i}.jpg`, ord: i, sha256, signals });
  };
  for (let i = 0; i < originals; i++) {
    const padded = i % 5 === 0;
    add({
      width: pick([100, 200]), height: pick([100, 200]), bytes: pick([1000, 2000]),
      pixel_sha256: i % 7 === 0 ? null : code(), phash: null,
      variants: {
        plain: { phash: code(), dhash: code() }, mirror: { phash: code(), dhash: code() },
        ...(padded ? { trimmed: { phash: code(), dhash: code() }, trimmed_mirror: { phash: code(), dhash: code() } } : {}),
        centre: { phash: code(), dhash: code() },
      },
      extra: Array.from({ length: 13 }, code),
    });
  }
  const kinds = ['bytes', 'pixels', 'near', 'mirror', 'letterbox', 'crop', 'borderline', 'chain'] as const;
  for (let c = 0; c < copies; c++) {
    const kind = kinds[c % kinds.length];
    const o = kind === 'chain' ? originals + (rand() % Math.max(1, items.length - originals)) : rand() % originals;
    const src = items[o];
    const s = src.signals;
    const v = s.variants;
    const near = (x: { phash: string; dhash: string }, p: number, d: number) => ({ phash: flip(x.phash, p), dhash: flip(x.dhash, d) });
    const smaller = { width: s.width - (rand() % 2), height: s.height, bytes: s.bytes - (rand() % 2) * 10 };
    switch (kind) {
      case 'bytes':
        add(s, src.sha256);
        break;
      case 'pixels':
        add({ ...s, bytes: s.bytes + 7 });
        break;
      case 'near':
      case 'chain': {
        const p = 1 + (rand() % 6);
        const d = rand() % 12;
        add({ ...s, ...smaller, pixel_sha256: code(), variants: { plain: near(v.plain, p, d), mirror: near(v.mirror, p, d), centre: near(v.centre!, p, d) } });
        break;
      }
      case 'mirror':
        add({ ...s, ...smaller, pixel_sha256: code(), variants: { plain: near(v.mirror, 1 + (rand() % 3), 2), mirror: near(v.plain, 1 + (rand() % 3), 2), centre: { phash: code(), dhash: code() } } });
        break;
      case 'letterbox':
        add({
          ...s, ...smaller, pixel_sha256: code(),
          variants: { plain: { phash: code(), dhash: code() }, mirror: { phash: code(), dhash: code() }, trimmed: near(v.plain, 2, 3), trimmed_mirror: near(v.mirror, 2, 3), centre: near(v.centre!, 3, 3) },
        });
        break;
      case 'crop': {
        // Far in every variant; the original's extra view k is 7..11 bits from the crop's plain.
        const plain = flip(s.extra![rand() % 13], 7 + (rand() % 5));
        add({ ...s, ...smaller, pixel_sha256: code(), variants: { plain: { phash: plain, dhash: code() }, mirror: { phash: code(), dhash: code() }, centre: { phash: code(), dhash: code() } }, extra: Array.from({ length: 13 }, code) });
        break;
      }
      case 'borderline':
        add({ ...s, ...smaller, pixel_sha256: code(), variants: { plain: near(v.plain, 7 + (rand() % 4), 13 + (rand() % 8)), mirror: { phash: code(), dhash: code() }, centre: { phash: code(), dhash: code() } } });
        break;
    }
  }
  return items;
}

/** A deterministic stand-in for looking at the files: confirms some pairs, rejects some, fails on some. */
function geometricFor(log: string[]) {
  return async (a: MatchItem, b: MatchItem, mirror: boolean): Promise<GeometricResult> => {
    log.push(`${a.id}-${b.id}-${mirror}`);
    const h = (Number(a.id.slice(1)) * 31 + Number(b.id.slice(1)) * 17) % 11;
    if (h === 0) throw new Error(`unreadable ${b.path}`);
    const same = h % 3 !== 0;
    return { same, keypoints: [100, 100], matches: 50 + h, inliers: same ? 40 + h : h, inlierRatio: same ? 0.8 : 0.1 };
  };
}

async function both(items: MatchItem[], thresholds: MatchThresholds, keep: (typeof KEEP_RULES)[number], geometric: boolean) {
  const run = async (f: typeof referenceClusterDuplicates) => {
    const log: string[] = [];
    const r = await f(items, {
      thresholds, keep, geometric: geometric ? geometricFor(log) : undefined,
      onGeometricError: (a, b, err) => log.push(`error ${a.id}-${b.id}: ${String(err)}`),
    });
    return { clusters: r.clusters, stats: { candidatePairs: r.stats.candidatePairs, geometricChecks: r.stats.geometricChecks, geometricConfirmed: r.stats.geometricConfirmed }, log };
  };
  return { packed: await run(clusterDuplicates), reference: await run(referenceClusterDuplicates) };
}

test('the packed path gives the same clusters, verdicts, evidence and checks as the per-object one', async () => {
  const items = variedItems(11, 300, 400);
  const settings: Array<[string, MatchThresholds]> = [
    ['defaults', DEFAULT_THRESHOLDS],
    ['no extra views', { ...DEFAULT_THRESHOLDS, extraRadius: -1 }],
    ['radius 6', { ...DEFAULT_THRESHOLDS, candidateRadius: 6 }],
    ['exact only', { ...DEFAULT_THRESHOLDS, exactOnly: true }],
  ];
  const methods = new Set<string>();
  for (const [name, t] of settings) {
    for (const keep of KEEP_RULES) {
      for (const geometric of [true, false]) {
        const { packed, reference } = await both(items, t, keep, geometric);
        assert.deepEqual(packed, reference, `${name}, keep ${keep}, geometric ${geometric}`);
        for (const c of packed.clusters) for (const m of c.members) methods.add(m.verdict.method!);
        if (name === 'defaults' && geometric) {
          assert.ok(packed.stats.geometricChecks > 10 && packed.stats.geometricConfirmed > 0, 'borderline pairs were checked');
          assert.ok(packed.log.some((l) => l.startsWith('error')), 'a failing check was reported');
        }
      }
    }
  }
  // The set exercises every way of matching.
  assert.deepEqual([...methods].sort(), ['geometric', 'phash', 'phash_centre', 'phash_mirrored', 'phash_trimmed', 'pixels', 'sha256']);
});

/** The dedup step over these items in a fresh catalog gives the reference clusters, for every keep rule. */
async function assertStepMatchesReference(items: MatchItem[], workdir: string): Promise<void> {
  const catalog = await Catalog.open(workdir);
  try {
    await writeSignalCatalog(catalog, items.map((it) => ({ ...it, split: null })), { batch: 97 });
    await useRun(catalog, 1);
    for (const keep of KEEP_RULES) {
      const params = DedupParamsSchema.parse({ keep, geometric: false, prefer_split: null });
      const stats = await dedupStep.run({ catalog, runId: 1, workdir, baseDir: dir, reporter: new Reporter({ mode: 'quiet' }) }, params);
      const { clusters, stats: ref } = await referenceClusterDuplicates(items, { thresholds: DEFAULT_THRESHOLDS, keep });
      assert.ok(clusters.length > 50);
      assert.equal(stats.clusters, clusters.length);
      assert.equal(stats['candidate pairs'], ref.candidatePairs);
      assert.equal(stats['images compared'], items.length);
      const rows = await catalog.all<Record<string, unknown>>(
        `SELECT cluster, sample_id, kept, method, distance, similarity, evidence, keep_reason, min_similarity FROM dup_clusters WHERE run_id = 1 ORDER BY cluster, kept DESC, sample_id`,
      );
      const expected = clusters.flatMap((c) => [
        { cluster: c.id, sample_id: items[c.keep].id, kept: true, method: 'keep', distance: 0, similarity: 1, evidence: null, keep_reason: c.keepReason, min_similarity: c.minSimilarity },
        ...c.members.map((m) => ({
          cluster: c.id, sample_id: items[m.index].id, kept: false, method: m.verdict.method, distance: m.verdict.distance,
          similarity: m.verdict.method === 'sha256' || m.verdict.method === 'pixels' ? 1 : Math.round((1 - m.verdict.distance / 64) * 1e4) / 1e4,
          evidence: m.verdict.evidence, keep_reason: c.keepReason, min_similarity: c.minSimilarity,
        })),
      ]).sort((a, b) => a.cluster - b.cluster || Number(b.kept) - Number(a.kept) || (a.sample_id < b.sample_id ? -1 : 1));
      assert.deepEqual(rows.map((r) => ({ ...r, evidence: r.evidence === null ? null : JSON.parse(r.evidence as string) })), expected, `keep ${keep}`);
      const flagged = await catalog.scalar(`SELECT count(*) FROM issues WHERE type = 'duplicate' AND step = 'dedup' AND flagged`);
      assert.equal(flagged, expected.filter((r) => !r.kept).length);
    }
  } finally {
    catalog.close();
  }
}

test('the dedup step, reading a catalog in chunks, writes the clusters the per-object path finds', async () => {
  await assertStepMatchesReference(variedItems(23, 200, 240), `${dir}/catalog`);
});

test('images sharing an ingest order (ord) are still told apart when the step fetches who they are', async () => {
  // Ids that sort as the items do, four images per ord: the table orders ties by id.
  const items = variedItems(29, 120, 150).map((it, i) => ({ ...it, id: `s${String(i).padStart(4, '0')}`, ord: Math.floor(i / 4) }));
  await assertStepMatchesReference(items, `${dir}/catalog-ties`);
});
