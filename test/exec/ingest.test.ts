import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { InputError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';

const quiet = () => new Reporter({ mode: 'quiet' });

async function manifestDataset(lines: string[]) {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 4);
  await writeFile(join(dir, 'rows.jsonl'), lines.join('\n') + '\n');
  const recipe = (extra: Record<string, unknown> = {}) =>
    recipeFromObject({
      name: 'm', workdir: join(dir, 'work'),
      source: { format: 'jsonl', path: './rows.jsonl', root: './images', fields: { id: 'id', image: 'file', text: 'caption' } },
      steps: ['probe'],
      ...extra,
    }, dir);
  return { dir, recipe };
}

const row = (id: string, file: string) => JSON.stringify({ id, file, caption: `a photo ${id}` });

test('a malformed manifest line stops the build with file and line, and nothing is half-ingested', async () => {
  const { dir, recipe } = await manifestDataset([row('a', 'img_00000.jpg'), '{"id": "b", "file": ', row('c', 'img_00002.jpg')]);
  await assert.rejects(build(recipe(), { reporter: quiet() }), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.match(err.message, /rows\.jsonl:2/);
    assert.equal(err.exitCode, 2);
    return true;
  });
  const cat = await Catalog.open(join(dir, 'work'));
  assert.equal(await cat.scalar(`SELECT count(*) FROM samples`), 0);
  assert.equal(await cat.scalar(`SELECT count(*) FROM runs WHERE status = 'failed'`), 1);
  cat.close();
});

test('--skip-bad-rows goes on past bad rows, counts them, and exits 1 saying so', async () => {
  const { recipe } = await manifestDataset([
    row('a', 'img_00000.jpg'),
    'not json',
    row('escape', '../../etc/passwd'),
    row('abs', '/etc/passwd'),
    JSON.stringify({ id: 'nofile', caption: 'x' }),
    row('d', 'img_00003.jpg'),
  ]);
  const res = await build(recipe(), { reporter: quiet(), skipBadRows: true });
  assert.equal(res.summary.ingest.badRows, 4);
  assert.equal(res.summary.total, 2);
  assert.equal(res.exitCode, 1);
  assert.match(res.summary.attention.join('\n'), /4 source rows were malformed/);
  const examples = res.summary.ingest.badRowExamples.join('\n');
  assert.match(examples, /rows\.jsonl:2/);
  assert.match(examples, /rows\.jsonl:3.*escapes/);
});

test('duplicate ids are an error naming the rows, or keep the first when asked', async () => {
  const { recipe } = await manifestDataset([row('a', 'img_00000.jpg'), row('b', 'img_00001.jpg'), row('a', 'img_00002.jpg')]);
  await assert.rejects(build(recipe(), { reporter: quiet() }), /1 rows repeat an id.*\n\s+'a' ×2: .*rows\.jsonl:1, .*rows\.jsonl:3/);
  const res = await build(recipe({ on_duplicate_id: 'first' }), { reporter: quiet() });
  assert.equal(res.summary.total, 2);
  assert.equal(res.summary.ingest.duplicateIds, 1);
});

test('a mapped column that does not exist is reported before anything is ingested', async () => {
  const { recipe } = await manifestDataset([row('a', 'img_00000.jpg')]);
  const r = recipe();
  r.source.fields.label = 'klass';
  await assert.rejects(build(r, { reporter: quiet() }), /klass/);
});

test('--max-samples ingests only the first N samples; rerunning with more adds the rest', async () => {
  const { recipe } = await manifestDataset(['a', 'b', 'c', 'd'].map((id, i) => row(id, `img_0000${i}.jpg`)));
  const two = await build(recipe(), { reporter: quiet(), maxSamples: 2 });
  assert.equal(two.summary.total, 2);
  const all = await build(recipe(), { reporter: quiet() });
  assert.equal(all.summary.total, 4);
  assert.equal(all.summary.ingest.added, 2);
  const probe = all.summary.steps.find((s) => s.name === 'probe')!;
  assert.equal(probe.stats['samples from cache'], 2);
});
