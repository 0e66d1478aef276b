import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../../src/exec/build.js';
import { RecipeError, parseRecipe, recipeFromObject } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { diffRuns } from '../../src/catalog/versions.js';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';

const quiet = () => new Reporter({ mode: 'quiet' });

test('sources: names are required, unique, and each entry is checked as a source block', () => {
  const bad = `name: t
sources:
  - { format: folder, path: a }
  - { name: x, format: folder, path: b }
  - { name: x, format: folder, path: c, recursve: false }
`;
  assert.throws(() => parseRecipe(bad, 'r.yaml', '/tmp'), (err: unknown) => {
    assert.ok(err instanceof RecipeError);
    assert.match(err.message, /r\.yaml:3: sources\[0\]\.name: each source needs a name/);
    assert.match(err.message, /r\.yaml:5: sources\[2\]\.name: source name 'x' is used twice/);
    assert.match(err.message, /sources\[2\].*recursve/);
    return true;
  });
  assert.throws(() => parseRecipe('name: t\nsource: { format: folder, path: a }\nsources: [{ name: a, format: folder, path: a }]\n', 'r.yaml', '/tmp'), /either source: \(one\) or sources:/);
  const r = parseRecipe('name: t\nsources:\n  - { name: a, format: folder, path: a }\n  - { name: b, format: folder, path: b, enabled: false }\n', 'r.yaml', '/tmp');
  assert.deepEqual(r.sources.map((s) => s.name), ['a'], 'a disabled source is left out');
  assert.equal(r.source.path, 'a');
});

test('two sources with the same file names: ids <name>/<id>, source column, per-source counts and a diff between versions', async () => {
  const dir = await tempDir();
  // Both folders hold img_00000.jpg ... : without namespacing their ids would collide.
  await writePhotos(join(dir, 'a'), 4, { size: [64, 48] });
  await writePhotos(join(dir, 'b'), 3, { size: [64, 48], seed: 5000 });
  const recipe = (withB: boolean, tag: string) => recipeFromObject({
    name: 't', workdir: join(dir, 'work'), tag,
    sources: [
      { name: 'a', format: 'folder', path: join(dir, 'a') },
      { name: 'b', format: 'folder', path: join(dir, 'b'), enabled: withB },
    ],
    steps: [{ filter: { drop_where: [{ name: 'first_of_a', sql: "id = 'a/img_00000.jpg'" }] } }, { filter: { drop_where: [{ name: 'last_of_b', sql: "id = 'b/img_00002.jpg'" }] } }],
    export: [{ format: 'manifest', to: join(dir, 'out', 'm.jsonl') }],
  }, dir);

  const v1 = await build(recipe(false, 'v1'), { reporter: quiet(), workers: 1 });
  assert.deepEqual(v1.summary.sources, { a: { read: 4, in: 4, out: 3 } });
  const v2 = await build(recipe(true, 'v2'), { reporter: quiet(), workers: 1 });
  assert.deepEqual(v2.summary.sources, { a: { read: 4, in: 4, out: 3 }, b: { read: 3, in: 3, out: 2 } });
  // Two filter steps, each with its own figures.
  assert.deepEqual(v2.summary.steps.map((s) => [s.name, s.rows!.in, s.rows!.out, s.rows!.dropped]), [
    ['filter', 7, 6, { first_of_a: 1 }],
    ['filter', 6, 5, { last_of_b: 1 }],
  ]);
  const manifest = (await readFile(join(dir, 'out', 'm.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; source: string });
  assert.deepEqual(manifest.map((m) => m.id).sort(), ['a/img_00001.jpg', 'a/img_00002.jpg', 'a/img_00003.jpg', 'b/img_00000.jpg', 'b/img_00001.jpg']);

  const catalog = await Catalog.open(join(dir, 'work'));
  try {
    assert.deepEqual(await catalog.all(`SELECT DISTINCT source FROM samples ORDER BY source`), [{ source: 'a' }, { source: 'b' }]);
    const d = await diffRuns(catalog, v1.runId, v2.runId);
    assert.deepEqual(d.added.map((r) => r.id), ['b/img_00000.jpg', 'b/img_00001.jpg']);
    assert.deepEqual(d.removed, []);
    const back = await diffRuns(catalog, v2.runId, v1.runId);
    assert.deepEqual(back.removedBy, { 'first seen after run 1': 2 });
    assert.deepEqual(back.bySource, { b: { added: 0, removed: 2 } });
  } finally {
    catalog.close();
  }
});
