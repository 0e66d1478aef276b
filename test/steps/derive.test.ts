import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../../src/exec/build.js';
import { parseRecipe, recipeFromObject, RecipeError } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { InputError } from '../../src/errors.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { tempDir } from '../helpers/tmp.js';
import { SKU_LOOKUPS, writeSkuDataset, type SkuRow } from '../helpers/sku-dataset.js';

const quiet = () => new Reporter({ mode: 'quiet' });

const SKU_FIELDS = {
  // Declared before the fields it uses: derive orders by dependency.
  sku_dir: '{domain}/{sku_id}',
  sku_id: '{pair_id:06d}_{style:02d}_{category_id:02d}',
  text: 'A {domain|map:domain_words} {category_name}{occlusion|map:occlusion_words} {viewpoint|map:viewpoint_words}.',
  bbox_w: '{item.bbox[2]}',
};

function skuRecipe(dir: string, manifest: string, extraSteps: unknown[] = [], fields: Record<string, string> = SKU_FIELDS) {
  return recipeFromObject(
    {
      name: 'sku',
      workdir: join(dir, 'work'),
      source: { format: 'jsonl', path: manifest, fields: { id: 'id', image: 'image' } },
      lookups: SKU_LOOKUPS,
      steps: [{ derive: { fields } }, ...extraSteps],
      export: [{ format: 'manifest', to: join(dir, 'out', 'manifest.jsonl') }],
    },
    dir,
  );
}

async function readManifest(dir: string): Promise<Array<Record<string, any>>> {
  const text = await readFile(join(dir, 'out', 'manifest.jsonl'), 'utf8');
  return text.trim().split('\n').map((l) => JSON.parse(l));
}

function expectedText(r: SkuRow): string {
  const occ = (SKU_LOOKUPS.occlusion_words as Record<string, string>)[r.occlusion];
  const vp = (SKU_LOOKUPS.viewpoint_words as Record<string, string>)[r.viewpoint];
  return `A ${SKU_LOOKUPS.domain_words[r.domain]} ${r.category_name}${occ} ${vp}.`;
}

test("derive computes seed 001's SKU ids and prompts; split, filters and exports see them", async () => {
  const dir = await tempDir();
  const { manifest, rows } = await writeSkuDataset(dir, { skus: 8 });
  const recipe = skuRecipe(dir, manifest, [
    { split: { ratios: { train: 0.5, test: 0.5 }, group_by: 'sku_id' } },
    // A later derive sees the split and the fields derived before it.
    { derive: { fields: { crop_path: '{split}/{sku_dir}/{id}.jpg' } } },
    { filter: { drop_where: [{ name: 'wide_box', sql: `(meta->>'bbox_w')::INTEGER >= 120` }] } },
  ]);
  const res = await build(recipe, { reporter: quiet(), workers: 1 });
  assert.equal(res.exitCode, 0);
  const derive = res.summary.steps.find((s) => s.name === 'derive')!;
  assert.equal(derive.stats.samples, 24);
  assert.equal(derive.stats['distinct sku_id'], 8);

  const out = await readManifest(dir);
  const byId = new Map(out.map((o) => [o.id as string, o]));
  // bbox_w = 100 + i, so rows 20..23 are dropped by the rule, counted by its name.
  assert.equal(res.summary.dropped.wide_box, 4);
  assert.equal(out.length, 20);
  for (const [i, r] of rows.entries()) {
    const o = byId.get(r.id);
    if (i >= 20) {
      assert.equal(o, undefined);
      continue;
    }
    assert.ok(o, r.id);
    const sku = `${String(r.pair_id).padStart(6, '0')}_0${r.style}_0${r.category_id}`;
    assert.equal(o.meta.sku_id, sku);
    assert.equal(o.text, expectedText(r), 'the text template writes the catalog column');
    assert.equal(o.meta.text, undefined, 'text is not duplicated into meta');
    assert.equal(o.meta.bbox_w, String(r.item.bbox[2]));
    assert.equal(o.meta.sku_dir, `${r.domain}/${sku}`, 'a field may use one declared after it');
    assert.equal(o.meta.crop_path, `${o.split}/${r.domain}/${sku}/${r.id}.jpg`);
    assert.equal(o.meta.pair_id, r.pair_id, 'source meta is kept');
  }
  // group_by: sku_id keeps every SKU in one split.
  const splitOf = new Map<string, string>();
  for (const o of out) {
    const s = splitOf.get(o.meta.sku_id);
    if (s) assert.equal(o.split, s, o.meta.sku_id);
    splitOf.set(o.meta.sku_id, o.split);
  }
  assert.equal(rows.filter((r) => r.occlusion === 3 && r.viewpoint === 1).length > 0, true);
  assert.equal(byId.get('sku0_crop2')?.text, 'A user photo of a person wearing a short sleeve top, heavily occluded laid flat.');

  // A rerun derives again from the source (no double application) and gives the same manifest.
  const first = await readFile(join(dir, 'out', 'manifest.jsonl'), 'utf8');
  const again = await build(recipe, { reporter: quiet(), workers: 1 });
  assert.equal(again.exitCode, 0);
  assert.equal(await readFile(join(dir, 'out', 'manifest.jsonl'), 'utf8'), first);
});

test('a template naming a missing field stops the build with the template, the field and a sample id', async () => {
  const dir = await tempDir();
  const { manifest } = await writeSkuDataset(dir, {
    skus: 3,
    edit: (r, i) => {
      if (i === 4 || i === 7) r.pair_id = null;
    },
  });
  await assert.rejects(
    build(skuRecipe(dir, manifest), { reporter: quiet(), workers: 1 }),
    (e: InputError) => {
      assert.ok(e instanceof InputError, String(e));
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /derive\.fields\.sku_id/);
      assert.match(e.message, /"\{pair_id:06d\}_\{style:02d\}_\{category_id:02d\}"/);
      assert.match(e.message, /field 'pair_id' is missing \(absent or null\) in 2 samples, e\.g\. 'sku1_crop1'/);
      return true;
    },
  );
  // With a default the same data builds.
  const ok = await build(skuRecipe(dir, manifest, [], { sku_id: '{pair_id:06d|default:0}_{style:02d}' }), { reporter: quiet(), workers: 1 });
  assert.equal(ok.exitCode, 0);
  const out = await readManifest(dir);
  assert.equal(out.find((o) => o.id === 'sku1_crop1')!.meta.sku_id, '000000_02');
  assert.equal(out.find((o) => o.id === 'sku0_crop0')!.meta.sku_id, '000010_01');
});

test('a value that cannot be formatted or looked up names the sample', async () => {
  const dir = await tempDir();
  const { manifest } = await writeSkuDataset(dir, {
    skus: 2,
    edit: (r, i) => {
      if (i === 5) r.occlusion = 9;
    },
  });
  await assert.rejects(
    build(skuRecipe(dir, manifest, [], { occ: '{occlusion|map:occlusion_words}' }), { reporter: quiet(), workers: 1 }),
    /field 'occlusion': value "9" is not a key of lookup 'occlusion_words'.*\(sample 'sku1_crop2'\)/,
  );
  await assert.rejects(
    build(skuRecipe(dir, manifest, [], { n: '{category_name:03d}' }), { reporter: quiet(), workers: 1 }),
    /field 'category_name': cannot format "short sleeve top" with ':03d': not a number \(sample 'sku0_crop0'\)/,
  );
});

test('bad derive parameters are recipe errors with line and field, before any work', () => {
  const yaml = (fields: string, lookups = '') => `name: t
source: { format: jsonl, path: x.jsonl }
${lookups}steps:
  - derive:
      fields:
${fields}
`;
  const problem = (text: string) => {
    try {
      parseRecipe(text, 'r.yaml', '/tmp');
    } catch (e) {
      assert.ok(e instanceof RecipeError, String(e));
      return e.message;
    }
    assert.fail('recipe accepted');
  };
  assert.match(
    problem(yaml(`        a: "{b}_x"\n        b: "{c}"\n        c: "{a}"`)),
    /^r\.yaml:6: steps\[0\]\.derive\.fields: derived fields form a cycle: a → b → c → a/,
  );
  assert.match(problem(yaml(`        a: "{a}_x"`)), /r\.yaml:6: steps\[0\]\.derive\.fields: derived field 'a' uses itself/);
  assert.match(
    problem(yaml(`        ok: "{x}"\n        sku: "{pair_id:06q}"`)),
    /r\.yaml:7: steps\[0\]\.derive\.fields\.sku: template "\{pair_id:06q\}": format spec "06q" is not .* at column 10/,
  );
  assert.match(
    problem(yaml(`        text: "{domain|map:domain_wrds}"`, `lookups:\n  domain_words: { catalog: shop }\n`)),
    /r\.yaml:8: steps\[0\]\.derive\.fields\.text: lookup table 'domain_wrds' is not declared under the top-level 'lookups:' \(declared: domain_words\)/,
  );
  assert.match(problem(yaml(`        split: "{x}"`)), /'split' is a catalog column derive cannot write/);
  assert.match(problem(yaml(`        a: "{x}"`, `lookups:\n  t: { a: [1] }\n`)), /lookups\.t\.a/);
  // A valid one loads, with lookups numbers as strings.
  const r = parseRecipe(yaml(`        a: "{x|map:t}"`, `lookups:\n  t: { 1: one, two: 2 }\n`), 'r.yaml', '/tmp');
  assert.deepEqual(r.lookups, { t: { 1: 'one', two: '2' } });
});

test('derive streams many samples (more than one batch) and writes every one', async () => {
  const dir = await tempDir();
  const { manifest, rows } = await writeSkuDataset(dir, { skus: 1 });
  // 21,000 rows (two batches) sharing three images: no image is read (no per-sample step), so this tests batching.
  const lines: string[] = [];
  for (let i = 0; i < 21_000; i++) {
    lines.push(JSON.stringify({ ...rows[i % 3], id: `r${i}`, pair_id: i }));
  }
  await writeFile(manifest, lines.join('\n') + '\n');
  const res = await build(skuRecipe(dir, manifest, [], { sku_id: '{pair_id:06d}_{style:02d}' }), { reporter: quiet(), workers: 1 });
  assert.equal(res.summary.steps.find((s) => s.name === 'derive')!.stats['distinct sku_id'], 21_000);
  const cat = await Catalog.open(join(dir, 'work'));
  try {
    assert.equal(await cat.scalar(`SELECT count(*) FROM samples WHERE meta->>'sku_id' = lpad(CAST(meta->>'pair_id' AS VARCHAR), 6, '0') || '_01'`), 21_000);
    assert.equal(await cat.scalar(`SELECT count(*) FROM information_schema.tables WHERE table_name = 'derive_stage'`), 0);
  } finally {
    cat.close();
  }
});
