import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRecipe, RecipeError } from '../../src/recipe/load.js';
import { parseSetPath, substitute } from '../../src/recipe/variables.js';
import { UsageError } from '../../src/errors.js';

const RECIPE = `name: v
workdir: \${WORK:-.imgsift/v}
source:
  format: folder
  path: \${DF2_ROOT:-data/DeepFashion2_original}
steps:
  - probe: {}
  - quality:
      min_side: \${MIN_SIDE:-512}
  - split: { ratios: { train: 0.9, test: 0.1 } }
  - filter:
      drop: \${DROP:-corrupt duplicate}
`;

test('${NAME} and ${NAME:-default} come from the environment; a substituted number is a number', () => {
  const r = parseRecipe(RECIPE, 'r.yaml', '/base', { env: { DF2_ROOT: '/data/df2', MIN_SIDE: '768' } });
  assert.equal(r.source.path, '/data/df2');
  assert.equal(r.workdir, '.imgsift/v');
  const quality = r.steps.find((s) => s.name === 'quality')!.params as { min_side: number };
  assert.equal(quality.min_side, 768);
  // A list key accepts a whitespace- or comma-separated string.
  const filter = r.steps.find((s) => s.name === 'filter')!.params as { drop: string[] };
  assert.deepEqual(filter.drop, ['corrupt', 'duplicate']);
  const other = parseRecipe(RECIPE, 'r.yaml', '/base', { env: { DROP: 'corrupt,leak' } });
  assert.deepEqual((other.steps.find((s) => s.name === 'filter')!.params as { drop: string[] }).drop, ['corrupt', 'leak']);
});

test('an unset variable without a default is exit 2 naming it and the recipe line', () => {
  const text = 'name: v\nsource:\n  format: folder\n  path: ${SKU_ROOT}\n';
  assert.throws(() => parseRecipe(text, 'r.yaml', '/base', { env: {} }), (err: unknown) => {
    assert.ok(err instanceof RecipeError);
    assert.equal((err as RecipeError).exitCode, 2);
    assert.match((err as Error).message, /^r\.yaml:4: source\.path: variable \$\{SKU_ROOT\} is not set and has no default/);
    return true;
  });
});

test('--set replaces values by path, parsed as YAML scalars, and refuses paths that do not exist', () => {
  const r = parseRecipe(RECIPE, 'r.yaml', '/base', { env: {}, set: ['steps[1].quality.min_side=1024', 'source.path=/data/x', 'steps[2].split.ratios.train=0.8', 'steps[2].split.ratios.test=0.2'] });
  assert.equal((r.steps[1].params as { min_side: number }).min_side, 1024);
  assert.equal(r.source.path, '/data/x');
  assert.equal((r.steps[2].params as { ratios: Record<string, number> }).ratios.train, 0.8);
  assert.throws(() => parseRecipe(RECIPE, 'r.yaml', '/base', { env: {}, set: ['steps[9].quality.min_side=1'] }), UsageError);
  assert.throws(() => parseRecipe(RECIPE, 'r.yaml', '/base', { env: {}, set: ['nothing'] }), /expected KEY=VALUE/);
  // A bad value is a validation error located at the step's line.
  assert.throws(() => parseRecipe(RECIPE, 'r.yaml', '/base', { env: {}, set: ['steps[1].quality.min_side=big'] }), /r\.yaml:9: steps\[1\]\.quality\.min_side/);
});

test('path syntax and substitution details', () => {
  assert.deepEqual(parseSetPath('steps[2].quality.min_side'), ['steps', 2, 'quality', 'min_side']);
  assert.deepEqual(parseSetPath('source.path'), ['source', 'path']);
  assert.throws(() => parseSetPath('steps..x'));
  assert.throws(() => parseSetPath('[1]'));
  assert.equal(substitute('$${HOME} ${A:-x}/${B}', { B: 'b' }, () => assert.fail('no unset')), '${HOME} x/b');
  const unset: string[] = [];
  substitute('${A}${B:-}', {}, (n) => unset.push(n));
  assert.deepEqual(unset, ['A'], 'an empty default is a default');
});

test('fields.files with prefixes and main: the main role is stored as image', () => {
  const text = `name: p
source:
  format: jsonl
  path: sft.jsonl
  fields:
    files:
      input: open_image_input_url
      output: { from: output_image, prefix: "\${PB_CDN:-https://cdn.example}/" }
    main: input
`;
  const r = parseRecipe(text, 'r.yaml', '/base', { env: {} });
  assert.equal(r.source.fields.image, 'open_image_input_url');
  assert.deepEqual(r.source.fields.files, { output: 'output_image' });
  assert.deepEqual(r.source.fields.prefixes, { output: 'https://cdn.example/' });
  assert.equal(r.source.fields.main, 'input');
  assert.throws(() => parseRecipe(text.replace('main: input', 'main: nope'), 'r.yaml', '/base', { env: {} }), /main role 'nope' is not one of fields\.files/);
});
