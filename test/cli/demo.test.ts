import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

test('imgsift demo generates data, builds it, finds the planted problems and writes outputs', async () => {
  const out = join(await tempDir(), 'demo');
  const r = runCli(['demo', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /DATASET BUILDING COMPLETE/);
  assert.match(r.stdout, /broken files .*: 4 planted, 4 flagged/);
  assert.match(r.stdout, /cmyk: 1 planted, 1 flagged/);
  assert.match(r.stdout, /wrong extension: 1 planted, 1 flagged/);
  assert.match(r.stdout, /exact duplicate copies: 4 planted, 4 clustered with their original/);
  assert.match(r.stdout, /near-duplicate copies: 10 planted, 10 clustered with their original/);
  assert.match(r.stdout, /train\/test leaks: 2 planted, 2 flagged/);
  assert.match(r.stdout, /Report: +.*report\.html/);
  const truth = JSON.parse(await readFile(join(out, 'data', 'truth.json'), 'utf8'));
  const manifest = (await readFile(join(out, 'out', 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  // Broken files, duplicate copies and leaked test images are filtered out.
  assert.ok(manifest.length < truth.count - truth.broken.length);
  assert.ok(manifest.every((m: { issues: string[] | null }) => !(m.issues ?? []).some((i) => ['corrupt', 'duplicate', 'leak'].includes(i))));
  const report = await readFile(join(out, 'out', 'report.html'), 'utf8');
  assert.match(report, /<svg/);
  assert.ok((await readdir(join(out, 'out', 'wds', 'train'))).some((f) => f.endsWith('.tar')));

  // The second run reuses the data and the cache.
  const again = runCli(['demo', '--out', out, '--json']);
  assert.equal(again.code, 0, again.stderr);
  const summary = JSON.parse(again.stdout).summary;
  assert.equal(summary.steps.find((s: { name: string }) => s.name === 'probe').stats['samples computed'], 0);
});
