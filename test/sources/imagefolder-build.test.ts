import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { photoJpeg } from '../../src/demo/synth.js';
import { tempDir } from '../helpers/tmp.js';

async function put(root: string, rel: string, seed: number): Promise<void> {
  const full = join(root, rel);
  await mkdir(dirname(full), { recursive: true });
  await writeFile(full, await photoJpeg({ seed, width: 48, height: 36 }));
}

const quiet = () => new Reporter({ mode: 'quiet' });

test('imagefolder build: a metadata row whose file is missing is a flagged missing_file issue, dropped, never exported; it clears once the file is there', async () => {
  const dir = await tempDir();
  const data = join(dir, 'data');
  await put(data, 'train/a.jpg', 1);
  await put(data, 'train/b.jpg', 2);
  await put(data, 'train/stray.jpg', 3);
  await writeFile(join(data, 'train', 'metadata.jsonl'), '{"file_name":"a.jpg","text":"alpha"}\n{"file_name":"gone.jpg","text":"lost"}\n{"file_name":"b.jpg","text":"beta"}\n');
  const recipe = (unlisted: 'skip' | 'ingest') => recipeFromObject({
    name: 't', workdir: join(dir, 'work'),
    source: { format: 'imagefolder', path: data, unlisted },
    steps: [],
    export: [{ format: 'manifest', to: join(dir, 'out', 'm.jsonl') }],
  }, dir);
  const manifestIds = async () => (await readFile(join(dir, 'out', 'm.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: string }).id).sort();

  const first = await build(recipe('skip'), { reporter: quiet(), workers: 1 });
  assert.deepEqual(await manifestIds(), ['train/a.jpg', 'train/b.jpg']);
  assert.deepEqual(first.summary.ingest.sourceIssues, { missing_file: 1 });
  assert.equal(first.summary.issues.missing_file, 1);
  assert.equal(first.summary.dropped.missing_file, 1);
  assert.ok(first.summary.attention.some((a) => /1 source row flagged missing_file/.test(a)), first.summary.attention.join('\n'));
  assert.deepEqual(first.summary.ingest.skipped, { 'image not in any metadata file': 1 });
  const catalog = await Catalog.open(join(dir, 'work'));
  try {
    const issues = await catalog.all<{ sample_id: string; evidence: string; step: string; flagged: boolean }>(
      `SELECT sample_id, evidence, step, flagged FROM issues WHERE type = 'missing_file'`,
    );
    assert.equal(issues.length, 1);
    assert.equal(issues[0].sample_id, 'train/gone.jpg');
    assert.equal(issues[0].step, 'ingest');
    assert.equal(issues[0].flagged, true);
    assert.deepEqual(JSON.parse(issues[0].evidence), { metadata: 'train/metadata.jsonl', line: 2, file: 'train/gone.jpg' });
    // The row is a sample of the catalog (its text kept for review) that the run dropped.
    assert.deepEqual(await catalog.all(`SELECT text, drop_run FROM samples WHERE id = 'train/gone.jpg'`), [{ text: 'lost', drop_run: first.runId }]);
  } finally {
    catalog.close();
  }

  // The file appears and the unlisted image is ingested: no issue left, all four exported.
  await put(data, 'train/gone.jpg', 4);
  const second = await build(recipe('ingest'), { reporter: quiet(), workers: 1 });
  assert.deepEqual(await manifestIds(), ['train/a.jpg', 'train/b.jpg', 'train/gone.jpg', 'train/stray.jpg']);
  assert.equal(second.summary.ingest.sourceIssues, undefined);
  assert.equal(second.summary.issues.missing_file, undefined);
  assert.deepEqual(second.summary.ingest.skipped, {});
});
