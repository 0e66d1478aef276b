import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alignStats, type AlignFigures } from '../../src/steps/align.js';
import { alignmentSummary, formatSummary, type BuildSummary } from '../../src/report/summary.js';

const ok = (ratio: number, matches: number): AlignFigures => ({ ok: true, reason: null, good_matches: matches, inliers: Math.round(ratio * matches), inlier_ratio: ratio });
const bad = (reason: string): AlignFigures => ({ ok: false, reason, good_matches: 3, inliers: 0, inlier_ratio: 0 });

test('alignStats: attempted, success and failure with percentages, means over successes, failures by reason', () => {
  const rows = [ok(0.8, 400), ok(0.9, 300), ok(0.7, 200), bad('too_few_matches'), bad('low_inlier_ratio'), bad('too_few_matches')];
  assert.deepEqual(alignStats(rows), {
    attempted: 6,
    succeeded: 3,
    'succeeded %': 50,
    'alignment failed': 3,
    'alignment failed %': 50,
    'avg inlier ratio': 0.8,
    'avg matches': 300,
    'failed: too_few_matches': 2,
    'failed: low_inlier_ratio': 1,
  });
  assert.deepEqual(alignStats([]), { attempted: 0, succeeded: 0, 'succeeded %': 0, 'alignment failed': 0, 'alignment failed %': 0, 'avg inlier ratio': 0, 'avg matches': 0 });
});

test('the closing block prints the seed alignment section, splits in train/dev/test order', () => {
  const stats = { 'samples computed': 30, ...alignStats([...Array(29).fill(ok(0.832, 402)), bad('degenerate_homography')]) };
  const steps = [{ name: 'align', kind: 'map' as const, stats, seconds: 1 }];
  const s: BuildSummary = {
    run: 1, recipe: 'r', workdir: '/w', seconds: 1,
    ingest: { read: 30, added: 30, updated: 0, badRows: 0, duplicateIds: 0, filtered: 0, skipped: {}, skippedExamples: [] } as never,
    total: 29,
    splits: [{ split: 'train', count: 27, percent: 93.1 }, { split: 'dev', count: 1, percent: 3.4 }, { split: 'test', count: 1, percent: 3.4 }],
    issues: {}, dropped: {}, steps, exports: [], attention: [], sources: {},
    alignment: alignmentSummary(steps),
  };
  assert.deepEqual(s.alignment, {
    attempted: 30, success: 29, successPercent: 96.7, failed: 1, failedPercent: 3.3,
    avgInlierRatio: 0.832, avgMatches: 402, failureReasons: { degenerate_homography: 1 },
  });
  const text = formatSummary(s);
  assert.ok(text.includes([
    'Split breakdown:',
    '  TRAIN: 27 samples (93.1%)',
    '  DEV: 1 samples (3.4%)',
    '  TEST: 1 samples (3.4%)',
    '',
    'Alignment Statistics:',
    '  Samples attempted: 30',
    '  Alignment success: 29 (96.7%)',
    '  Alignment failed:  1 (3.3%)',
    '',
    '  Failure reasons:',
    '    degenerate_homography: 1',
    '',
    '  Alignment quality:',
    '    Avg inlier ratio: 0.832',
    '    Avg matches: 402',
  ].join('\n')), text);
  // The align step's pass figures stay in its own block; its alignment figures are not printed twice.
  assert.match(text, /Align \(1\.0s\):\n {2}samples computed: 30\n/);
  assert.equal(text.match(/attempted/gi)?.length, 1);
  assert.equal(alignmentSummary([{ name: 'probe', kind: 'map', stats: {}, seconds: 0 }]), undefined);
});
