import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';

const quiet = () => new Reporter({ mode: 'quiet' });

function recipe(dir: string, probeParams: Record<string, unknown> = {}) {
  return recipeFromObject(
    {
      name: 't',
      workdir: join(dir, 'work'),
      source: { format: 'folder', path: join(dir, 'images') },
      steps: [{ probe: probeParams }, { filter: { drop: ['corrupt'] } }],
      export: [{ format: 'manifest', to: join(dir, 'out', 'manifest.jsonl') }],
    },
    dir,
  );
}

function phaseStats(summary: { steps: Array<{ name: string; stats: Record<string, number | string> }> }) {
  const probe = summary.steps.find((s) => s.name === 'probe')!;
  return { computed: probe.stats['samples computed'], cached: probe.stats['samples from cache'] };
}

test('build ingests, probes, filters and exports; a rerun is served from the cache', async () => {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 24, { extra: { 'broken.jpg': Buffer.from('not an image at all') } });

  const first = await build(recipe(dir), { reporter: quiet(), workers: 2 });
  assert.equal(first.exitCode, 0);
  assert.equal(first.summary.ingest.read, 25);
  assert.equal(first.summary.total, 24, 'the corrupt file is dropped');
  assert.equal(first.summary.issues.corrupt, 1);
  assert.equal(first.summary.dropped.corrupt, 1);
  assert.deepEqual(phaseStats(first.summary), { computed: 25, cached: 0 });

  const lines = (await readFile(join(dir, 'out', 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 24);
  assert.equal(new Set(lines.map((l) => l.id)).size, 24);
  assert.ok(lines.every((l) => l.format === 'jpeg' && l.width === 160 && l.height === 120 && /^[0-9a-f]{64}$/.test(l.sha256)));

  const second = await build(recipe(dir), { reporter: quiet(), workers: 2 });
  assert.deepEqual(phaseStats(second.summary), { computed: 0, cached: 25 });
  assert.equal(second.summary.total, 24);
  assert.equal(second.summary.issues.corrupt, 1, 'issues are derived again from cached results');

  // A changed parameter recomputes that step.
  const third = await build(recipe(dir, { max_pixels: 50_000_000 }), { reporter: quiet(), workers: 2 });
  assert.deepEqual(phaseStats(third.summary), { computed: 25, cached: 0 });

  const cat = await Catalog.open(join(dir, 'work'));
  assert.equal(await cat.scalar(`SELECT count(*) FROM runs WHERE status = 'finished'`), 3);
  assert.equal(await cat.scalar(`SELECT count(*) FROM step_results WHERE step = 'probe'`), 50, 'one result per content per params');
  cat.close();
});

test('a file that changes on disk is re-read; one that disappears becomes an unreadable issue', async () => {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 6);
  await build(recipe(dir), { reporter: quiet(), workers: 1 });
  const { writeFile, rm } = await import('node:fs/promises');
  const { photoJpeg } = await import('../../src/demo/synth.js');
  await writeFile(join(dir, 'images', 'img_00000.jpg'), await photoJpeg({ seed: 99, width: 200, height: 100 }));
  const res = await build(recipe(dir), { reporter: quiet(), workers: 1 });
  assert.deepEqual(phaseStats(res.summary), { computed: 1, cached: 5 });
  const lines = (await readFile(join(dir, 'out', 'manifest.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.find((l) => l.id === 'img_00000.jpg').width, 200);

  // Removing a file between listing and reading is the race a folder source cannot see; a manifest can.
  const manifest = [
    { id: 'a', file_name: 'img_00001.jpg' },
    { id: 'gone', file_name: 'missing.jpg' },
  ].map((r) => JSON.stringify(r)).join('\n');
  await writeFile(join(dir, 'images', 'list.jsonl'), manifest + '\n');
  const r2 = recipeFromObject({
    name: 'm', workdir: join(dir, 'work2'),
    source: { format: 'jsonl', path: join(dir, 'images', 'list.jsonl'), fields: { id: 'id', image: 'file_name' } },
    steps: ['probe'],
  }, dir);
  const res2 = await build(r2, { reporter: quiet(), workers: 1 });
  assert.equal(res2.summary.issues.unreadable, 1);
  assert.equal(res2.summary.total, 2);
  await rm(join(dir, 'images', 'list.jsonl'));
});
