import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRecipe, parseRecipe, RecipeError } from '../../src/recipe/load.js';
import { tempDir } from '../helpers/tmp.js';

const GOOD = `name: t
source:
  format: folder
  path: ./images
steps:
  - filter: { drop: [corrupt] }
  - filter
export:
  - { format: manifest, to: ./out/m.jsonl }
`;

test('a valid recipe parses, with defaults and steps resolved', () => {
  const r = parseRecipe(GOOD, 'r.yaml', '/base');
  assert.equal(r.name, 't');
  assert.equal(r.baseDir, '/base');
  assert.deepEqual(r.steps.map((s) => s.name), ['filter', 'filter']);
  assert.deepEqual(r.steps[1].params, { drop: [] });
  assert.equal(r.export[0].format, 'manifest');
  assert.equal(r.on_duplicate_id, 'error');
});

test('a wrong parameter type names file, line and field path', () => {
  const text = GOOD.replace('drop: [corrupt]', 'drop: 5');
  assert.throws(
    () => parseRecipe(text, 'r.yaml', '/'),
    (err: unknown) => {
      assert.ok(err instanceof RecipeError);
      assert.match(err.message, /^r\.yaml:6: steps\[0\]\.filter\.drop: .*expected array/m);
      assert.equal(err.exitCode, 2);
      return true;
    },
  );
});

test('an unknown step lists the known steps', () => {
  const text = GOOD.replace('  - filter\n', '  - dedupe: {}\n');
  assert.throws(() => parseRecipe(text, 'r.yaml', '/'), /r\.yaml:7: steps\[1\]\.dedupe: unknown step 'dedupe'; known steps: .*filter/);
});

test('unknown top-level keys, missing source and bad export formats are all reported', () => {
  const text = `name: t\nsteeps: []\nexport:\n  - { format: zip, to: x }\n`;
  assert.throws(
    () => parseRecipe(text, 'r.yaml', '/'),
    (err: unknown) => {
      const msg = (err as Error).message;
      assert.match(msg, /source/);
      assert.match(msg, /steeps/);
      assert.match(msg, /r\.yaml:4: export\[0\]\.format: unknown export format "zip"/);
      return true;
    },
  );
});

test('YAML syntax errors carry the line', () => {
  assert.throws(() => parseRecipe('name: t\nsource: [\n', 'bad.yaml', '/'), /bad\.yaml:\d+: .*YAML syntax/);
});

test('loadRecipe resolves the base directory from the file and reports unreadable files', async () => {
  const dir = await tempDir();
  const file = join(dir, 'r.yaml');
  await writeFile(file, GOOD);
  const r = await loadRecipe(file);
  assert.equal(r.baseDir, dir);
  await assert.rejects(loadRecipe(join(dir, 'missing.yaml')), /cannot read recipe .*ENOENT/);
});
