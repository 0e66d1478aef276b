import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { Reporter } from '../../src/exec/reporter.js';
import { assignSplit, cumulative, hashUnit, splitCaseSql, splitStep, SplitParams } from '../../src/steps/split.js';
import type { StepContext } from '../../src/steps/types.js';

const RATIOS = { train: 0.9, dev: 0.05, test: 0.05 };

interface SampleSpec {
  id: string;
  group?: string;
  label?: string;
  source_split?: string;
  meta?: Record<string, unknown>;
}

async function catalogWith(samples: SampleSpec[]): Promise<{ ctx: StepContext; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-split-'));
  const catalog = await Catalog.open(dir);
  await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 't', now(), 'running')`);
  await addSamples(catalog, samples, 0);
  await useRun(catalog, 1);
  const ctx: StepContext = { catalog, runId: 1, workdir: dir, baseDir: dir, reporter: new Reporter({ mode: 'quiet' }) };
  return { ctx, dir };
}

async function addSamples(catalog: Catalog, samples: SampleSpec[], ord0: number): Promise<void> {
  await catalog.append(
    'samples',
    COLUMNS.samples,
    samples.map((s, i) => ({
      id: s.id, source: 'test', path: `${s.id}.jpg`, source_split: s.source_split, label: s.label,
      group_key: s.group, meta: s.meta, ord: ord0 + i, first_run: 1, seen_run: 1,
    })),
  );
}

async function splits(catalog: Catalog): Promise<Map<string, string>> {
  const rows = await catalog.all<{ id: string; split: string }>(`SELECT id, split FROM samples`);
  return new Map(rows.map((r) => [r.id, r.split]));
}

const params = (p: unknown): SplitParams => SplitParams.parse(p);

test('assignSplit hits the ratios within 0.5% on 100,000 ids', () => {
  const counts: Record<string, number> = { train: 0, dev: 0, test: 0 };
  const n = 100_000;
  for (let i = 0; i < n; i++) counts[assignSplit(`img_${i}`, RATIOS)]++;
  for (const [name, r] of Object.entries(RATIOS)) {
    assert.ok(Math.abs(counts[name] / n - r) < 0.005, `${name}: ${counts[name]} of ${n}, target ${r}`);
  }
});

test('hashUnit is the documented formula (node md5, first 8 hex digits over 2^32)', () => {
  const hex = createHash('md5').update('saltabc').digest('hex');
  assert.equal(hashUnit('abc', 'salt'), parseInt(hex.slice(0, 8), 16) / 4294967296);
  // A different salt gives a different, equally deterministic draw.
  assert.notEqual(assignSplitsOf(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], ''), assignSplitsOf(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'], 'x'));
});

function assignSplitsOf(ids: string[], salt: string): string {
  return ids.map((id) => assignSplit(id, { a: 0.5, b: 0.5 }, salt)).join(',');
}

test('the SQL path gives the same split as assignSplit for every sample', async () => {
  // Ids with non-ASCII characters and quotes check that DuckDB's md5 hashes the same UTF-8 bytes.
  const ids = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? `é/ü'${i}.jpg` : `sample-${i}`));
  for (const salt of ['', "s'1"]) {
    const { ctx, dir } = await catalogWith(ids.map((id) => ({ id })));
    try {
      const stats = await splitStep.run(ctx, params({ ratios: RATIOS, seed: salt }));
      const got = await splits(ctx.catalog);
      let mismatches = 0;
      for (const id of ids) if (got.get(id) !== assignSplit(id, RATIOS, salt)) mismatches++;
      assert.equal(mismatches, 0);
      assert.equal(stats.samples, 5000);
      assert.equal(
        (stats.train as number) + (stats.dev as number) + (stats.test as number),
        5000,
      );
      assert.equal(stats['train %'], Math.round(((stats.train as number) / 5000) * 10000) / 100);
    } finally {
      ctx.catalog.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('thresholds at the exact hash boundary agree between SQL and JS', async () => {
  // Ratios that are not representable exactly, with a split whose cumulative bound is ~1.
  const ratios = { a: 0.1, b: 0.2, c: 0.3, d: 0.4 - 1e-12, e: 1e-12 };
  const ids = Array.from({ length: 3000 }, (_, i) => `k${i}`);
  const { ctx, dir } = await catalogWith(ids.map((id) => ({ id })));
  try {
    await splitStep.run(ctx, params({ ratios }));
    const got = await splits(ctx.catalog);
    for (const id of ids) assert.equal(got.get(id), assignSplit(id, ratios), id);
  } finally {
    ctx.catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('SQL hex comparison agrees with u < cumulative at h = bound - 1, bound, bound + 1', async () => {
  // Hashes that hit a threshold exactly are too rare to find by hashing, so feed hex values directly.
  const ratios = { a: 0.1, b: 0.2, c: 0.3, d: 0.4 };
  const catalog = await Catalog.open(':memory:');
  try {
    for (const { upTo } of cumulative(ratios).slice(0, -1)) {
      const bound = Math.ceil(upTo * 2 ** 32);
      for (const h of [bound - 1, bound, bound + 1, Math.floor(upTo * 2 ** 32)]) {
        const hex = h.toString(16).padStart(8, '0');
        const sql = await catalog.scalar(`SELECT ascii(${splitCaseSql(`'${hex}'`, ratios)}) - ascii('a')`);
        const js = cumulative(ratios).findIndex((c) => h / 2 ** 32 < c.upTo);
        assert.equal(sql, js, `h = ${hex}`);
      }
    }
  } finally {
    catalog.close();
  }
});

test('group_by keeps every group in one split; null groups fall back to the id', async () => {
  const samples: SampleSpec[] = [];
  for (let g = 0; g < 300; g++) for (let k = 0; k < 5; k++) samples.push({ id: `g${g}_${k}`, group: `grp${g}` });
  samples.push({ id: 'lonely' });
  const { ctx, dir } = await catalogWith(samples);
  try {
    await splitStep.run(ctx, params({ ratios: RATIOS, group_by: 'group' }));
    const got = await splits(ctx.catalog);
    const seen = new Set<string>();
    for (let g = 0; g < 300; g++) {
      const s = new Set(Array.from({ length: 5 }, (_, k) => got.get(`g${g}_${k}`)));
      assert.equal(s.size, 1, `group grp${g} spans ${[...s].join(',')}`);
      assert.equal([...s][0], assignSplit(`grp${g}`, RATIOS));
      seen.add([...s][0]!);
    }
    assert.deepEqual([...seen].sort(), ['dev', 'test', 'train']);
    assert.equal(got.get('lonely'), assignSplit('lonely', RATIOS));
  } finally {
    ctx.catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('group_by a meta field hashes that field', async () => {
  const samples = Array.from({ length: 200 }, (_, i) => ({ id: `m${i}`, meta: { scene: `scene${i % 20}` } }));
  const { ctx, dir } = await catalogWith(samples);
  try {
    await splitStep.run(ctx, params({ ratios: RATIOS, group_by: 'scene' }));
    const got = await splits(ctx.catalog);
    for (const s of samples) assert.equal(got.get(s.id), assignSplit(s.meta.scene, RATIOS));
  } finally {
    ctx.catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('group_by a nested metadata path hashes the value at that path (numbers as their text)', async () => {
  const samples = Array.from({ length: 120 }, (_, i) => ({ id: `n${i}`, meta: { item: { pair: i % 12 } } }));
  const { ctx, dir } = await catalogWith(samples);
  try {
    await splitStep.run(ctx, params({ ratios: RATIOS, group_by: 'item.pair' }));
    const got = await splits(ctx.catalog);
    for (const s of samples) assert.equal(got.get(s.id), assignSplit(String(s.meta.item.pair), RATIOS));
  } finally {
    ctx.catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('adding samples never moves an existing one', async () => {
  const first = Array.from({ length: 2000 }, (_, i) => ({ id: `a${i}` }));
  const { ctx, dir } = await catalogWith(first);
  try {
    await splitStep.run(ctx, params({ ratios: RATIOS }));
    const before = await splits(ctx.catalog);
    await addSamples(ctx.catalog, Array.from({ length: 3000 }, (_, i) => ({ id: `b${i}` })), 2000);
    await splitStep.run(ctx, params({ ratios: RATIOS }));
    const after = await splits(ctx.catalog);
    assert.equal(after.size, 5000);
    for (const [id, s] of before) assert.equal(after.get(id), s, id);
  } finally {
    ctx.catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('keep_source_splits keeps the source split and hashes the rest', async () => {
  const samples = Array.from({ length: 100 }, (_, i) => ({ id: `s${i}`, source_split: i < 40 ? 'validation' : undefined }));
  const { ctx, dir } = await catalogWith(samples);
  try {
    const stats = await splitStep.run(ctx, params({ ratios: { train: 0.5, test: 0.5 }, keep_source_splits: true }));
    const got = await splits(ctx.catalog);
    for (let i = 0; i < 100; i++) {
      assert.equal(got.get(`s${i}`), i < 40 ? 'validation' : assignSplit(`s${i}`, { train: 0.5, test: 0.5 }));
    }
    assert.equal(stats.validation, 40);
    assert.equal(stats['kept source split'], 40);
  } finally {
    ctx.catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('stratify rank mode: per-label counts within one of the target', async () => {
  const samples: SampleSpec[] = [];
  const sizes = { cat: 20, dog: 200, bird: 7, fish: 1000 };
  for (const [label, n] of Object.entries(sizes)) for (let i = 0; i < n; i++) samples.push({ id: `${label}${i}`, label });
  const ratios = { train: 0.8, dev: 0.1, test: 0.1 };
  const { ctx, dir } = await catalogWith(samples);
  try {
    const stats = await splitStep.run(ctx, params({ ratios, stratify_by: 'label', stratify_mode: 'rank' }));
    const rows = await ctx.catalog.all<{ label: string; split: string; n: number }>(
      `SELECT label, split, count(*)::INTEGER AS n FROM samples GROUP BY ALL`,
    );
    for (const [label, n] of Object.entries(sizes)) {
      for (const [name, r] of Object.entries(ratios)) {
        const got = rows.find((x) => x.label === label && x.split === name)?.n ?? 0;
        assert.ok(Math.abs(got - n * r) <= 1, `${label}/${name}: ${got}, target ${n * r}`);
      }
    }
    assert.equal(stats.labels, 4);
    assert.ok((stats['worst label deviation %'] as number) < 15);
    // The default (hash) mode keeps the pure per-id assignment.
    await splitStep.run(ctx, params({ ratios, stratify_by: 'label' }));
    const got = await splits(ctx.catalog);
    for (const s of samples) assert.equal(got.get(s.id), assignSplit(s.id, ratios));
  } finally {
    ctx.catalog.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('invalid parameters are rejected with precise messages', () => {
  const msg = (p: unknown) => {
    const r = SplitParams.safeParse(p);
    assert.equal(r.success, false, `accepted ${JSON.stringify(p)}`);
    return r.error!.issues.map((i) => i.message).join('\n');
  };
  assert.match(msg({ ratios: { train: 0.9, test: 0.05 } }), /ratios must sum to 1 \(within 1e-9\), got 0\.95/);
  assert.match(msg({ ratios: { train: 1.1, test: -0.1 } }), /ratios\.test must be a positive number, got -0\.1/);
  assert.match(msg({ ratios: { Train: 1 } }), /split name 'Train' must match/);
  assert.match(msg({ ratios: {} }), /at least one split/);
  assert.match(msg({ ratios: { train: 1 }, group_by: 'a b' }), /group_by must be a field name/);
  assert.match(msg({ ratios: { train: 1 }, group_by: "x'y" }), /group_by must be a field name/);
  assert.match(msg({ ratios: { train: 1 }, stratify_by: 'group' }), /label/);
  assert.match(msg({ ratios: { train: 1 }, ratio: 1 }), /ratio/);
  // Accepted: sums within 1e-9, listed order kept.
  assert.deepEqual(Object.keys(params({ ratios: { b: 0.3, a: 0.7 + 1e-10 } }).ratios), ['b', 'a']);
});
