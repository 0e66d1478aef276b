import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { Reporter } from '../../src/exec/reporter.js';
import { filterStep, FilterParams } from '../../src/steps/filter.js';
import { textDedupStep, TextDedupParams } from '../../src/steps/text-dedup.js';
import type { StepContext } from '../../src/steps/types.js';
import { tempDir } from '../helpers/tmp.js';

interface Spec { id: string; split?: string; text?: string; meta?: Record<string, unknown> }

async function catalogWith(samples: Spec[]): Promise<StepContext> {
  const dir = await tempDir('imgsift-text-dedup-');
  const catalog = await Catalog.open(dir);
  await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 't', now(), 'running')`);
  await catalog.append('samples', COLUMNS.samples, samples.map((s, i) => ({
    id: s.id, source: 'test', path: `${s.id}.png`, split: s.split, text: s.text, meta: s.meta, ord: i, first_run: 1, seen_run: 1,
  })));
  await useRun(catalog, 1);
  return { catalog, runId: 1, workdir: dir, baseDir: dir, reporter: new Reporter({ mode: 'quiet' }) };
}

const SAMPLES: Spec[] = [
  { id: 't1', split: 'train', text: 'a red car in the rain' },
  { id: 't2', split: 'train', text: 'A red car in the rain!' },
  { id: 't3', split: 'train', text: 'a blue sky over the sea' },
  { id: 't4', split: 'train', text: 'portrait of a greek hero' },
  { id: 'v1', split: 'validation', text: 'a blue sky over the sea.' },
  { id: 'v2', split: 'validation', text: 'an owl reading a book' },
  { id: 'v3', split: 'validation', text: 'an owl reading a book' },
  // Same text as t4 but in another split: per-split self-dedup leaves it alone.
  { id: 'x1', split: 'test', text: 'portrait of a greek hero' },
];

test('text_dedup flags self and cross duplicates; filter drops them', async () => {
  const ctx = await catalogWith(SAMPLES);
  try {
    const stats = await textDedupStep.run(ctx, TextDedupParams.parse({ cross: { against: ['validation'], from: ['train'] } }));
    const issues = await ctx.catalog.all<{ sample_id: string; type: string; score: number; flagged: boolean; evidence: string; step: string }>(
      `SELECT sample_id, type, score, flagged, evidence::VARCHAR AS evidence, step FROM issues ORDER BY sample_id`,
    );
    assert.deepEqual(issues.map((i) => [i.sample_id, JSON.parse(i.evidence).kind, JSON.parse(i.evidence).matched]), [
      ['t2', 'self', 't1'], ['t3', 'cross', 'v1'], ['v3', 'self', 'v2'],
    ]);
    for (const i of issues) {
      assert.equal(i.type, 'text_duplicate');
      assert.equal(i.flagged, true);
      assert.equal(i.step, 'text_dedup');
      assert.equal(i.score, 1);
      assert.equal(JSON.parse(i.evidence).similarity, 1);
    }
    assert.equal(stats['self duplicates'], 2);
    assert.equal(stats['self duplicates: train'], 1);
    assert.equal(stats['self duplicates: validation'], 1);
    assert.equal(stats['cross duplicates: train near validation'], 1);
    assert.equal(stats['samples kept'], 5);

    // A rerun replaces the findings instead of adding to them.
    await textDedupStep.run(ctx, TextDedupParams.parse({ cross: { against: ['validation'], from: ['train'] } }));
    assert.equal(await ctx.catalog.scalar(`SELECT count(*) FROM issues`), 3);

    await filterStep.run(ctx, FilterParams.parse({ drop: ['text_duplicate'] }));
    const active = await ctx.catalog.all<{ id: string }>(`SELECT id FROM active ORDER BY id`);
    assert.deepEqual(active.map((r) => r.id), ['t1', 't4', 'v1', 'v2', 'x1']);
  } finally {
    ctx.catalog.close();
  }
});

test('text_dedup across all splits, on a meta field, without cross', async () => {
  const ctx = await catalogWith([
    { id: 'a', split: 'train', meta: { prompt: 'a cat' } },
    { id: 'b', split: 'test', meta: { prompt: 'A cat.' } },
    { id: 'c', split: 'train', meta: { prompt: 'a dog' } },
    { id: 'd', split: 'train', meta: {} },
  ]);
  try {
    const stats = await textDedupStep.run(ctx, TextDedupParams.parse({ field: 'prompt', per_split: false }));
    const rows = await ctx.catalog.all<{ sample_id: string; evidence: string }>(`SELECT sample_id, evidence::VARCHAR AS evidence FROM issues`);
    assert.deepEqual(rows.map((r) => [r.sample_id, JSON.parse(r.evidence).matched, JSON.parse(r.evidence).field]), [['b', 'a', 'prompt']]);
    assert.equal(stats['samples without text'], 1);
    assert.equal(stats['samples kept'], 3);
  } finally {
    ctx.catalog.close();
  }
});

test('text_dedup parameters are checked', () => {
  assert.throws(() => TextDedupParams.parse({ threshold: 0 }));
  assert.throws(() => TextDedupParams.parse({ cross: { from: ['train'], against: ['train'] } }), /both `from` and `against`/);
  assert.throws(() => TextDedupParams.parse({ self: false }), /cross/);
  assert.throws(() => TextDedupParams.parse({ field: "x'); DROP" }), /field must be/);
  const p = TextDedupParams.parse({ cross: {} });
  assert.deepEqual(p.cross, { against: ['validation'], from: ['train'], threshold: 0.75 });
  assert.equal(p.threshold, 0.85);
});
