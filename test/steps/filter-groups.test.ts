import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../../src/exec/build.js';
import { parseRecipe, recipeFromObject, RecipeError } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { InputError } from '../../src/errors.js';
import { checkFilterSql, FilterParams, recipeFilterSqlProblems } from '../../src/steps/filter.js';
import { formatSummary } from '../../src/report/summary.js';
import { tempDir } from '../helpers/tmp.js';
import { SKU_LOOKUPS, writeSkuDataset } from '../helpers/sku-dataset.js';

const quiet = () => new Reporter({ mode: 'quiet' });

function recipe(dir: string, manifest: string, filter: unknown) {
  return recipeFromObject(
    {
      name: 'groups',
      workdir: join(dir, 'work'),
      source: { format: 'jsonl', path: manifest, fields: { id: 'id', image: 'image' } },
      lookups: SKU_LOOKUPS,
      steps: [{ derive: { fields: { sku_id: '{pair_id:06d}_{style:02d}_{category_id:02d}' } } }, { filter }],
      export: [{ format: 'manifest', to: join(dir, 'out', 'all.jsonl'), include_dropped: true }],
    },
    dir,
  );
}

async function dropReasons(dir: string): Promise<Map<string, string[]>> {
  const text = await readFile(join(dir, 'out', 'all.jsonl'), 'utf8');
  const rows = text.trim().split('\n').map((l) => JSON.parse(l) as { id: string; dropped_for: string[] | null });
  return new Map(rows.map((r) => [r.id, r.dropped_for ?? []]));
}

test("group require keeps only SKUs with both a catalog and a query crop (seed 001's --only_pairs)", async () => {
  const dir = await tempDir();
  const { manifest, rows } = await writeSkuDataset(dir, { skus: 8, catalogOnly: [2, 6, 7] });
  const res = await build(recipe(dir, manifest, { groups: { by: 'sku_id', require: { domain: ['catalog', 'query'] } } }), {
    reporter: quiet(), workers: 1,
  });
  assert.equal(res.exitCode, 0);
  assert.equal(res.summary.total, 15);
  assert.deepEqual(res.summary.dropped, { 'group: require domain': 9 });
  const stats = res.summary.steps.find((s) => s.name === 'filter')!.stats;
  assert.equal(stats['dropped: group: require domain'], 9);
  assert.equal(stats['groups kept'], 5);
  const reasons = await dropReasons(dir);
  for (const r of rows) {
    const shopOnly = ['sku2', 'sku6', 'sku7'].some((p) => r.id.startsWith(`${p}_`));
    assert.deepEqual(reasons.get(r.id), shopOnly ? ['group: require domain'] : [], r.id);
  }
});

test('drop_where rules are counted by name (never the SQL) and run before group sizes', async () => {
  const dir = await tempDir();
  const { manifest } = await writeSkuDataset(dir, {
    skus: 6,
    edit: (r, i) => {
      // SKU 1 loses two crops to the junk rule (one left: under min_size); SKU 4 gets two more crops' worth of
      // one SKU by sharing SKU 5's identity (six members: over max_size).
      if (i === 3 || i === 4) r.category_name = 'JUNK';
      if (i >= 15) Object.assign(r, { pair_id: 14, style: 1, category_id: 2 });
    },
  });
  const junkSql = `meta->>'category_name' = 'JUNK'`;
  const res = await build(
    recipe(dir, manifest, {
      drop_where: [
        { name: 'junk_prompt', sql: junkSql },
        { name: 'tiny_box', sql: `(meta->'item'->'bbox'->>2)::INTEGER < 101` },
      ],
      groups: { by: 'sku_id', min_size: 2, max_size: 5 },
    }),
    { reporter: quiet(), workers: 1 },
  );
  // Row 0 has bbox[2] = 100: tiny_box. SKU 0 keeps rows 1-2.
  assert.deepEqual(res.summary.dropped, { junk_prompt: 2, tiny_box: 1, 'group: min_size': 1, 'group: max_size': 6 });
  assert.equal(res.summary.total, 18 - 10);
  const stats = res.summary.steps.find((s) => s.name === 'filter')!.stats;
  assert.equal(stats['dropped: junk_prompt'], 2);
  assert.equal(stats['dropped: tiny_box'], 1);
  const reasons = await dropReasons(dir);
  assert.deepEqual(reasons.get('sku1_crop0'), ['junk_prompt']);
  assert.deepEqual(reasons.get('sku1_crop2'), ['group: min_size']);
  assert.deepEqual(reasons.get('sku5_crop2'), ['group: max_size']);
  assert.deepEqual(reasons.get('sku0_crop1'), []);
  const text = formatSummary(res.summary);
  assert.match(text, /junk_prompt: 2/);
  assert.ok(!JSON.stringify(res.summary).includes('JUNK') && !text.includes('JUNK'), 'the SQL is not in the summary');
});

test('checkFilterSql finds bad SQL without data, naming the rule and its parameter path', async () => {
  const params = FilterParams.parse({
    where: `label IS NOT NULL`,
    drop_where: [
      { name: 'ok', sql: `meta->>'domain' = 'query' AND id IN (SELECT sample_id FROM tags WHERE tag = 'x')` },
      { name: 'typo', sql: `lable = 'cat'` },
      { name: 'syntax', sql: `meta->>'a' = = 1` },
      { name: 'fn', sql: `no_such_fn(id)` },
    ],
  });
  const problems = await checkFilterSql(params);
  assert.deepEqual(problems.map((p) => p.path), [['drop_where', 1, 'sql'], ['drop_where', 2, 'sql'], ['drop_where', 3, 'sql']]);
  assert.match(problems[0].message, /^rule 'typo': invalid SQL condition: .*lable/);
  assert.match(problems[1].message, /^rule 'syntax': invalid SQL condition: .*syntax error/i);
  assert.match(problems[2].message, /no_such_fn/);
  assert.deepEqual(await checkFilterSql(FilterParams.parse({ where: 'nope(' })).then((p) => p.map((x) => x.path)), [['where']]);
  assert.deepEqual(await checkFilterSql(FilterParams.parse({ drop: ['corrupt'] })), []);
  // Over a whole recipe, paths start at the recipe's top.
  const recipe = recipeFromObject({
    name: 'r', source: { format: 'jsonl', path: 'x.jsonl' },
    steps: ['probe', { filter: { drop: ['corrupt'] } }, { filter: { drop_where: [{ name: 'a', sql: 'true' }, { name: 'b', sql: 'nope' }] } }],
  });
  const all = await recipeFilterSqlProblems(recipe.steps);
  assert.deepEqual(all.map((p) => p.path), [['steps', 2, 'filter', 'drop_where', 1, 'sql']]);
  assert.match(all[0].message, /rule 'b'/);
});

test('a SQL error is exit 2 naming the rule, before anything is ingested', async () => {
  const dir = await tempDir();
  const { manifest } = await writeSkuDataset(dir, { skus: 1 });
  await assert.rejects(
    build(recipe(dir, manifest, { drop_where: [{ name: 'bad_rule', sql: `nope = 1` }] }), { reporter: quiet(), workers: 1 }),
    (e: InputError) => e instanceof InputError && e.exitCode === 2 && /filter\.drop_where\[0\]\.sql.*rule 'bad_rule': invalid SQL/.test(e.message),
  );
});

test('bad filter parameters are recipe errors with line and field', () => {
  const problem = (filter: string) => {
    try {
      parseRecipe(`name: t\nsource: { format: jsonl, path: x.jsonl }\nsteps:\n  - filter:\n${filter}\n`, 'r.yaml', '/tmp');
    } catch (e) {
      assert.ok(e instanceof RecipeError, String(e));
      return e.message;
    }
    assert.fail('accepted');
  };
  assert.match(
    problem(`      drop_where:\n        - { name: a, sql: "x" }\n        - { name: a, sql: "y" }`),
    /r\.yaml:7: steps\[0\]\.filter\.drop_where\[1\]\.name: rule name 'a' is used twice/,
  );
  assert.match(problem(`      drop_where:\n        - { name: "a b", sql: "x" }`), /r\.yaml:6: steps\[0\]\.filter\.drop_where\[0\]\.name: a rule name/);
  assert.match(problem(`      drop_where:\n        - { name: a }`), /drop_where\[0\]\.sql/);
  assert.match(problem(`      groups: { by: sku_id }`), /r\.yaml:5: steps\[0\]\.filter\.groups: groups needs require, min_size or max_size/);
  assert.match(problem(`      groups: { by: sku_id, min_size: 3, max_size: 2 }`), /groups\.max_size: max_size 2 is below min_size 3/);
  assert.match(problem(`      groups: { by: "sku id", min_size: 2 }`), /groups\.by: a field name/);
  assert.match(problem(`      groups: { by: sku_id, require: { "do main": [a] } }`), /groups\.require\.do main: 'do main' is not a field name/);
  assert.match(problem(`      groups: { by: sku_id, require: { domain: [] } }`), /groups\.require\.domain/);
});
