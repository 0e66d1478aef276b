import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Catalog } from '../../src/catalog/catalog.js';
import { generateDemoDataset, type DemoTruth } from '../../src/demo/dataset.js';
import { build } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { readClusters, type ClusterRecord } from '../../src/steps/dedup.js';
import { tempDir } from '../helpers/tmp.js';

// At top level: tempDir's clean-up hook must belong to the file, not to the before hook.
const dir = await tempDir();
let truth: DemoTruth;
let clusters: ClusterRecord[];
let catalog: Catalog;
let runId: number;
let stats: Record<string, number | string>;

const recipe = (workdir: string, dedup: Record<string, unknown> = {}, extra: unknown[] = []) =>
  recipeFromObject({
    name: 'dedup-test', workdir,
    source: { format: 'imagefolder', path: dir, fields: { text: 'text', label: 'label' } },
    steps: [{ probe: {} }, { hash: {} }, { dedup_signals: {} }, { dedup }, ...extra],
  });

before(async () => {
  truth = await generateDemoDataset(join(dir), { count: 60, seed: 7 });
  const workdir = join(dir, '.work');
  const result = await build(recipe(workdir, { keep: 'largest' }, [{ filter: { drop: ['duplicate'] } }]), { reporter: new Reporter({ mode: 'quiet' }), workers: 2 });
  runId = result.runId;
  stats = result.summary.steps.find((s) => s.name === 'dedup')!.stats;
  catalog = await Catalog.open(workdir);
  clusters = await readClusters(catalog, runId);
});

/** Every planted duplicate group (exact, near, leaks) as a set of paths. */
function truthGroups(): string[][] {
  return [
    ...truth.exactDuplicates.map((g) => [g.original, ...g.copies.map((c) => c.file)]),
    ...truth.nearDuplicates.map((g) => [g.original, ...g.copies.map((c) => c.file)]),
    ...truth.leaks.map((l) => [l.train, l.test]),
  ];
}

test('every planted copy is clustered with its original, whatever the transform', () => {
  const clusterOf = new Map<string, number>();
  for (const c of clusters) for (const m of c.members) clusterOf.set(m, c.cluster);
  const transforms = new Set<string>();
  for (const g of [...truth.exactDuplicates, ...truth.nearDuplicates]) {
    for (const c of g.copies) {
      assert.ok(clusterOf.has(c.file), `${c.transform} copy ${c.file} is in a cluster`);
      assert.equal(clusterOf.get(c.file), clusterOf.get(g.original), `${c.transform} copy ${c.file} is with its original ${g.original}`);
      transforms.add(c.transform);
    }
  }
  for (const l of truth.leaks) assert.equal(clusterOf.get(l.test), clusterOf.get(l.train), `leak ${l.test}`);
  assert.deepEqual([...transforms].sort(), [
    'blurred', 'brightened', 'copy', 'cropped', 'greyscale', 'letterboxed', 'mirrored', 'recompressed', 'resized', 'rotated', 'watermarked',
  ]);
});

test('no cluster merges different photos', () => {
  const groups = truthGroups().map((g) => new Set(g));
  for (const c of clusters) {
    assert.ok(groups.some((g) => c.members.every((m) => g.has(m))), `cluster ${c.cluster} (${c.members.join(', ')}) is one planted group`);
  }
  assert.equal(clusters.length, groups.length);
});

test('each cluster records its kept image, the reason, min similarity and per-member evidence', () => {
  for (const c of clusters) {
    assert.equal(c.members[0], c.keep);
    assert.ok(c.keep_reason.length > 0);
    assert.ok(c.min_similarity > 0.8 && c.min_similarity <= 1);
    assert.equal(c.evidence.length, c.members.length - 1);
    for (const e of c.evidence) {
      assert.ok(['sha256', 'pixels', 'phash', 'phash_mirrored', 'phash_trimmed', 'phash_centre', 'geometric'].includes(e.method), e.method);
      assert.ok(e.distance <= 10);
      assert.ok(e.similarity >= c.min_similarity);
    }
  }
  const byFile = new Map(clusters.flatMap((c) => c.evidence.map((e) => [e.path, e] as const)));
  const methodOf = (transform: string) => {
    const g = truth.nearDuplicates.find((x) => x.copies[0].transform === transform)!;
    return byFile.get(g.copies[0].file)?.method ?? byFile.get(g.original)?.method;
  };
  assert.equal(methodOf('mirrored'), 'phash_mirrored');
  assert.equal(methodOf('letterboxed'), 'phash_trimmed');
  assert.equal(byFile.get(truth.exactDuplicates[0].copies[0].file)?.method ?? byFile.get(truth.exactDuplicates[0].original)?.method, 'sha256');
  // keep: largest — the resized copy is smaller than its original, so the original is kept.
  const resized = truth.nearDuplicates.find((g) => g.copies[0].transform === 'resized')!;
  assert.equal(clusters.find((c) => c.members.includes(resized.original))!.keep, resized.original);
});

test('non-kept members carry a flagged duplicate issue, which filter drops', async () => {
  // Copies in another split than the kept one (the planted leaks) are left to the leaks step.
  const cross = clusters.reduce((n, c) => n + c.evidence.filter((e) => e.cross_split === true).length, 0);
  assert.equal(cross, truth.leaks.length);
  assert.equal(stats['cross-split copies left to leaks'], cross);
  const dups = clusters.reduce((n, c) => n + c.members.length - 1, 0) - cross;
  assert.equal(stats['duplicates flagged'], dups);
  assert.equal(stats.clusters, clusters.length);
  const issues = await catalog.all<{ path: string; evidence: string }>(
    `SELECT s.path, i.evidence FROM issues i JOIN samples s ON s.id = i.sample_id WHERE i.type = 'duplicate' AND i.flagged`,
  );
  assert.equal(issues.length, dups);
  const kept = new Set(clusters.map((c) => c.keep));
  for (const i of issues) {
    assert.ok(!kept.has(i.path));
    const ev = JSON.parse(i.evidence) as { cluster: number; kept: string; method: string; distance: number };
    assert.ok(ev.cluster >= 1 && typeof ev.kept === 'string' && typeof ev.method === 'string' && typeof ev.distance === 'number');
  }
  const dropped = await catalog.scalar(`SELECT count(*) FROM drops WHERE run_id = ? AND reason = 'duplicate'`, [runId]);
  assert.equal(dropped, dups);
});

test('exact_only finds only byte- and pixel-identical copies; a recipe without dedup_signals is refused', async () => {
  const workdir = join(dir, '.work-exact');
  const r = await build(recipe(workdir, { exact_only: true, geometric: false }), { reporter: new Reporter({ mode: 'quiet' }), workers: 2 });
  const cat = await Catalog.open(workdir);
  try {
    const exact = await readClusters(cat, r.runId);
    for (const c of exact) for (const e of c.evidence) assert.ok(['sha256', 'pixels'].includes(e.method));
    // Exact groups plus the exact leak.
    assert.equal(exact.length, truth.exactDuplicates.length + truth.leaks.filter((l) => l.kind === 'exact').length);
  } finally {
    cat.close();
  }
  const bad = recipeFromObject({
    name: 'x', workdir: join(dir, '.work-bad'), source: { format: 'imagefolder', path: dir }, steps: [{ hash: {} }, { dedup: {} }],
  });
  await assert.rejects(build(bad, { reporter: new Reporter({ mode: 'quiet' }), workers: 1 }), /needs the per-sample step 'dedup_signals'/);
});
