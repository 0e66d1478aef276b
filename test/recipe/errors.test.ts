import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../../src/errors.js';
import { planStages } from '../../src/exec/build.js';
import { parseRecipe, RecipeError } from '../../src/recipe/load.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

function problems(text: string): Array<[number | undefined, string, string]> {
  try {
    parseRecipe(text, 'r.yaml', '/base');
  } catch (err) {
    assert.ok(err instanceof RecipeError, String(err));
    return err.problems.map((p) => [p.line, p.path.map(String).join('.'), p.message]);
  }
  assert.fail('expected a RecipeError');
}

test('an unknown key points at its own line, not the enclosing mapping, one problem per key', () => {
  const text = [
    'name: t', //                       1
    'source:', //                       2
    '  format: folder', //              3
    '  path: ./images', //              4
    '  recursve: false', //             5  typo
    'steps:', //                        6
    '  - quality:', //                  7
    '      dark_threshold: 0.3', //     8
    '      blury_threshold: 0.2', //    9  typo
    'expot:', //                        10 typo, its value a block below
    '  - { format: manifest, to: m.jsonl }',
  ].join('\n');
  assert.deepEqual(problems(text), [
    [5, 'source.recursve', "unknown key 'recursve'"],
    [10, 'expot', "unknown key 'expot'"],
    [9, 'steps.0.quality.blury_threshold', "unknown key 'blury_threshold'"],
  ]);
});

/** Each level repeats the one before 9 times: 9^9 strings from a few lines (a "billion laughs"). */
const BOMB = ['name: bomb', 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
for (let i = 1; i < 9; i++) {
  const prev = String.fromCharCode(96 + i);
  const cur = String.fromCharCode(97 + i);
  BOMB.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
}

test('a YAML alias bomb is a recipe error at file:line, exit 2, quickly', async () => {
  const t0 = performance.now();
  const found = problems(BOMB.join('\n') + '\n');
  assert.ok(performance.now() - t0 < 2000);
  assert.equal(found.length, 1);
  assert.equal(found[0][0], 3, 'the line of the first alias');
  assert.match(found[0][2], /YAML aliases expand too much/);

  const dir = await tempDir();
  await writeFile(join(dir, 'bomb.yaml'), BOMB.join('\n') + '\n');
  const r = runCli(['build', join(dir, 'bomb.yaml')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^imgsift: ${dir}/bomb\\.yaml:3: \\(top level\\): YAML aliases expand too much`));
});

const NEEDS = `name: t
source: { format: folder, path: ./images }
steps:
  - probe: {}
  - dedup_signals: {}
  - hash: {}
`;

test('a step placed before a step it needs names the recipe line', async () => {
  const recipe = parseRecipe(NEEDS, 'r.yaml', '/base');
  assert.deepEqual(recipe.steps.map((s) => s.line), [4, 5, 6]);
  assert.throws(() => planStages(recipe), (err: unknown) => {
    assert.ok(err instanceof InputError);
    assert.equal(err.exitCode, 2);
    assert.equal(err.message, "r.yaml:5: step 'dedup_signals' needs step 'hash' to run before it in the recipe (add '- hash: {}' above it)");
    return true;
  });
  const dir = await tempDir();
  await writeFile(join(dir, 'r.yaml'), NEEDS);
  const r = runCli(['build', join(dir, 'r.yaml')]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^imgsift: ${dir}/r\\.yaml:5: step 'dedup_signals' needs step 'hash'`));
});
