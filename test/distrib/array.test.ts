import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';
import { runCli, type CliRun } from '../helpers/cli.js';
import { distribRecipe, filesOf, start } from './fixture.js';

async function assertSameExport(a: string, b: string): Promise<void> {
  const fa = await filesOf(a);
  const fb = await filesOf(b);
  assert.deepEqual([...fa.keys()].sort(), [...fb.keys()].sort(), 'same files');
  assert.ok([...fa.keys()].filter((k) => k.endsWith('.tar')).length >= 4, 'several tar shards');
  for (const [k, bytes] of fa) assert.ok(bytes.equals(fb.get(k)!), `${k} differs`);
}

const summaryOf = (r: CliRun) => JSON.parse(r.stdout.trim().split('\n').pop()!) as {
  total: number; steps: Array<{ name: string; stats: Record<string, number | string> }>;
};
const computed = (s: ReturnType<typeof summaryOf>) =>
  s.steps.reduce((n, st) => n + (typeof st.stats['samples computed'] === 'number' ? st.stats['samples computed'] : 0), 0);

test('3 shards in parallel + merge = a single-process build, byte for byte; missing shards, --partial, reruns', async () => {
  const root = await tempDir();
  const images = join(root, 'images');
  await writePhotos(images, 40, { size: [192, 144] });
  // Two copies of one recipe: the array build (arr/) and the single-process build (single/).
  for (const d of ['arr', 'single']) {
    await mkdir(join(root, d));
    await writeFile(join(root, d, 'recipe.yaml'), distribRecipe('arr', images));
  }
  const recipe = join(root, 'arr', 'recipe.yaml');

  const [shards, single] = await Promise.all([
    Promise.all([0, 1, 2].map((i) => start(['build', recipe, '--shard', `${i}/3`, '--workers', '1', '--json']).done)),
    start(['build', join(root, 'single', 'recipe.yaml'), '--workers', '1', '--json']).done,
  ]);
  const stats = shards.map((r, i) => {
    assert.equal(r.code, 0, `shard ${i}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim()) as { samples: number; computed: number; skipped: boolean };
  });
  assert.equal(stats.reduce((n, s) => n + s.samples, 0), 40, 'every sample in exactly one shard');
  for (const s of stats) assert.equal(s.computed, s.samples);
  assert.equal(single.code, 0, single.stderr);
  for (const i of [0, 1, 2]) {
    const marker = JSON.parse(await readFile(join(root, 'arr', 'work', 'shards', String(i), 'done.json'), 'utf8'));
    assert.deepEqual(marker.shard, { index: i, count: 3 });
  }

  const merged = runCli(['build', recipe, '--merge', '--workers', '1', '--json']);
  assert.equal(merged.code, 0, merged.stderr);
  const ms = summaryOf(merged);
  assert.equal(ms.total, summaryOf(single).total);
  assert.equal(computed(ms), 0, 'the merged build found every per-sample result in the shards');
  assert.equal(ms.steps.find((s) => s.name === 'merge shards')?.stats['shards folded'], 3);
  assert.ok(computed(summaryOf(single)) >= 40);
  await assertSameExport(join(root, 'arr', 'wds'), join(root, 'single', 'wds'));

  // A finished shard run again does no image work.
  const again = runCli(['build', recipe, '--shard', '1/3', '--workers', '1']);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /shard 1\/3 of 'arr': already done, nothing to do/);

  // Another workdir with shards 0 and 1 only (copied: a shard folder may travel).
  const other = join(root, 'other');
  for (const i of [0, 1]) await cp(join(root, 'arr', 'work', 'shards', String(i)), join(other, 'shards', String(i)), { recursive: true });
  const refused = runCli(['build', recipe, '--merge', '--workdir', other]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /1 of 3 shards are not finished: 2 /);
  assert.match(refused.stderr, /--partial/);
  assert.equal((await readdir(other)).includes('catalog.duckdb'), false, 'refused before touching the catalog');

  const partial = runCli(['build', recipe, '--merge', '--partial', '--workdir', other, '--workers', '1', '--json']);
  assert.equal(partial.code, 0, partial.stderr);
  assert.match(partial.stderr, /shards 2 of 3 are missing/);
  const ps = summaryOf(partial);
  assert.equal(computed(ps), stats[2].samples, "only the missing shard's samples were computed");
  assert.equal(ps.steps.find((s) => s.name === 'merge shards')?.stats['shards missing'], '2');
  await assertSameExport(join(root, 'arr', 'wds'), join(root, 'single', 'wds'));
});
