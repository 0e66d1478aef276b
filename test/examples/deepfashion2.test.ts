import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { build } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';
import { loadRecipe, parseRecipe } from '../../src/recipe/load.js';
import { generateDeepFashion2 } from '../../examples/deepfashion2/generate.js';
import { tempDir } from '../helpers/tmp.js';

const RECIPE = fileURLToPath(new URL('../../examples/deepfashion2/recipe.yaml', import.meta.url));
const quiet = () => new Reporter({ mode: 'quiet' });

// ---------------------------------------------------------------------------------------------
// Seed 001's rules, re-implemented over the annotation files as its scripts read them.

interface Crop {
  split: string;
  sku_id: string;
  pair_id: number;
  style: number;
  category_id: number;
  category_name: string;
  domain: 'catalog' | 'query';
  image_path: string;
  orig_image_path: string;
  image_id: string;
  item_idx: number;
  bbox: number[];
  occlusion: number;
  viewpoint: number;
  text: string;
}

const OCCLUSION: Record<number, string> = { 1: '', 2: 'partially occluded ', 3: 'heavily occluded ' };
const VIEWPOINT: Record<number, string> = { 1: 'shown flat with no one wearing it', 2: 'from the front', 3: 'from the side or back' };

interface Expected {
  /** Kept crops of each split. */
  crops: Map<string, Crop[]>;
  /** What the rules decided on, to check the sample covers every case. */
  seen: { style0: number; oneDomainSkus: number; multiItemImages: number; borderBoxes: number };
}

async function seedRules(df2Root: string, splits: string[]): Promise<Expected> {
  const crops = new Map<string, Crop[]>();
  const seen = { style0: 0, oneDomainSkus: 0, multiItemImages: 0, borderBoxes: 0 };
  for (const split of splits) {
    const skus = new Map<string, Crop[]>();
    for (const file of (await readdir(join(df2Root, split, 'annos'))).sort()) {
      const anno = JSON.parse(await readFile(join(df2Root, split, 'annos', file), 'utf8'));
      const imageId = file.replace(/\.json$/, '');
      const meta = await sharp(join(df2Root, split, 'image', `${imageId}.jpg`)).metadata();
      const items = Object.keys(anno).filter((k) => k.startsWith('item'));
      if (items.length > 1) seen.multiItemImages++;
      for (const key of items) {
        const it = anno[key];
        if (it.style <= 0) {
          seen.style0++;
          continue;
        }
        const skuId = `${String(anno.pair_id).padStart(6, '0')}_${String(it.style).padStart(2, '0')}_${String(it.category_id).padStart(2, '0')}`;
        const domain = anno.source === 'shop' ? 'catalog' : 'query';
        const idx = Number(key.slice(4));
        const [x1, y1, x2, y2] = it.bounding_box;
        if (x1 === 0 || y1 === 0 || x2 === meta.width || y2 === meta.height) seen.borderBoxes++;
        const lead = domain === 'catalog' ? 'A shop photo of a' : 'A user photo of a person wearing a';
        const crop: Crop = {
          split, sku_id: skuId, pair_id: anno.pair_id, style: it.style, category_id: it.category_id, category_name: it.category_name,
          domain, image_path: `${split}/${domain}/${skuId}/${imageId}_item${idx}.jpg`, orig_image_path: `${split}/image/${imageId}.jpg`,
          image_id: imageId, item_idx: idx, bbox: it.bounding_box, occlusion: it.occlusion, viewpoint: it.viewpoint,
          text: `${lead} ${OCCLUSION[it.occlusion]}${it.category_name} ${VIEWPOINT[it.viewpoint]}.`,
        };
        if (!skus.has(skuId)) skus.set(skuId, []);
        skus.get(skuId)!.push(crop);
      }
    }
    const kept: Crop[] = [];
    for (const list of skus.values()) {
      if (list.some((c) => c.domain === 'catalog') && list.some((c) => c.domain === 'query')) kept.push(...list);
      else seen.oneDomainSkus++;
    }
    crops.set(split, kept);
  }
  return { crops, seen };
}

/** The seed's `<split>_sku_metadata.json`, built from the expected crops. */
function expectedMetadata(split: string, crops: Crop[], df2Root: string, skuRoot: string): unknown {
  const skus: Record<string, unknown> = {};
  for (const c of [...crops].sort((a, b) => (a.sku_id < b.sku_id ? -1 : a.sku_id > b.sku_id ? 1 : 0))) {
    const entry = (skus[c.sku_id] ??= { pair_id: c.pair_id, style: c.style, category_id: c.category_id, category_name: c.category_name, catalog: [], query: [] }) as Record<string, unknown[]>;
    entry[c.domain].push({ crop_path: c.image_path, orig_image_path: c.orig_image_path, image_id: c.image_id, item_idx: c.item_idx, bbox: c.bbox, occlusion: c.occlusion, viewpoint: c.viewpoint });
  }
  for (const e of Object.values(skus) as Array<Record<string, Array<{ image_id: string; item_idx: number }>>>) {
    for (const d of ['catalog', 'query']) e[d].sort((a, b) => a.image_id.localeCompare(b.image_id) || a.item_idx - b.item_idx);
  }
  return { split, df2_root: df2Root, out_root: skuRoot, num_skus: Object.keys(skus).length, skus };
}

async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  }
  return out.sort();
}

const byPath = (a: { image_path: string }, b: { image_path: string }) => (a.image_path < b.image_path ? -1 : 1);

// ---------------------------------------------------------------------------------------------

test('deepfashion2 example: the seed-001 outputs, checked against its rules re-implemented', async () => {
  const dir = await tempDir('imgsift-df2-');
  const df2Root = join(dir, 'DeepFashion2_original');
  const skuRoot = join(dir, 'DeepFashion2_SKU');
  await generateDeepFashion2(df2Root);
  const splits = ['train', 'validation', 'test'];
  const expected = await seedRules(df2Root, splits);
  // The generated sample exercises every rule.
  assert.ok(expected.seen.style0 > 0 && expected.seen.oneDomainSkus > 0 && expected.seen.multiItemImages > 0 && expected.seen.borderBoxes > 0, JSON.stringify(expected.seen));

  const env: NodeJS.ProcessEnv = { ...process.env, DF2_ROOT: df2Root, SKU_ROOT: skuRoot, DF2_WORKDIR: join(dir, 'work') };
  delete env.SPLITS;
  const first = await build(await loadRecipe(RECIPE, { env }), { reporter: quiet(), workers: 1 });
  assert.equal(first.exitCode, 0, JSON.stringify(first.summary.attention));

  const allCrops = [...expected.crops.values()].flat();
  for (const split of splits) {
    const want = expected.crops.get(split)!;
    assert.ok(want.length > 0, `split ${split} has kept crops`);
    // <split>_image_text.jsonl: the seed's fields in its order, one line per kept crop.
    const lines = (await readFile(join(skuRoot, `${split}_image_text.jsonl`), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(Object.keys(lines[0]), Object.keys(want[0]));
    assert.deepEqual(lines.sort(byPath), [...want].sort(byPath));
    // <split>_sku_metadata.json
    const doc: object = JSON.parse(await readFile(join(skuRoot, `${split}_sku_metadata.json`), 'utf8'));
    assert.deepEqual(doc, expectedMetadata(split, want, df2Root, skuRoot));
    assert.deepEqual(Object.keys(doc), ['split', 'df2_root', 'out_root', 'num_skus', 'skus']);
  }

  // Exactly the expected crops are on disk next to the JSON files (the exports share the folder).
  const tree = (await listTree(skuRoot)).filter((p) => !p.startsWith('.imgsift/'));
  const jsonFiles = splits.flatMap((s) => [`${s}_image_text.jsonl`, `${s}_sku_metadata.json`]);
  assert.deepEqual(tree, [...allCrops.map((c) => c.image_path), ...jsonFiles].sort());

  // Crop pixels: a direct sharp extract of the box from the stored pixel grid, encoded as the crop step does.
  for (const c of allCrops) {
    const [x1, y1, x2, y2] = c.bbox;
    const direct = await sharp(join(df2Root, c.orig_image_path)).extract({ left: x1, top: y1, width: x2 - x1, height: y2 - y1 }).jpeg({ quality: 95 }).toBuffer();
    const written = await readFile(join(skuRoot, c.image_path));
    assert.ok(direct.equals(written), `crop ${c.image_path} differs from a direct extract of ${JSON.stringify(c.bbox)}`);
  }

  // A rerun changes nothing and removes nothing (no export deletes another's files).
  const before = await Promise.all(tree.map((p) => readFile(join(skuRoot, p))));
  const second = await build(await loadRecipe(RECIPE, { env }), { reporter: quiet(), workers: 1 });
  assert.equal(second.exitCode, 0);
  const treeAgain = (await listTree(skuRoot)).filter((p) => !p.startsWith('.imgsift/'));
  assert.deepEqual(treeAgain, tree);
  const after = await Promise.all(tree.map((p) => readFile(join(skuRoot, p))));
  assert.ok(after.every((b, i) => b.equals(before[i])), 'a rerun writes the same bytes');
});

test('deepfashion2 example: new splits keep every crop of a SKU and of a pair_id in one split', async () => {
  const dir = await tempDir('imgsift-df2-split-');
  const df2Root = join(dir, 'DeepFashion2_original');
  const skuRoot = join(dir, 'DeepFashion2_SKU');
  await generateDeepFashion2(df2Root, { pairs: { train: 12 }, seed: 5 });
  // The user's new split, as the example's README shows: one line after the filter.
  const text = (await readFile(RECIPE, 'utf8')).replace('  - crop:', '  - split: { ratios: { train: 0.7, test: 0.3 }, group_by: pair_id }\n  - crop:');
  assert.notEqual(text, await readFile(RECIPE, 'utf8'));
  const env = { ...process.env, DF2_ROOT: df2Root, SKU_ROOT: skuRoot, DF2_WORKDIR: join(dir, 'work'), SPLITS: 'train' };
  const result = await build(parseRecipe(text, RECIPE, dirname(RECIPE), { env }), { reporter: quiet(), workers: 1 });
  assert.equal(result.exitCode, 0);

  const expected = (await seedRules(df2Root, ['train'])).crops.get('train')!;
  const lines: Crop[] = [];
  for (const split of ['train', 'test']) {
    lines.push(...(await readFile(join(skuRoot, `${split}_image_text.jsonl`), 'utf8')).trim().split('\n').map((l) => JSON.parse(l)));
  }
  assert.equal(lines.length, expected.length, 'every kept crop is in one of the new splits');
  const splitOf = (key: (c: Crop) => string) => {
    const m = new Map<string, Set<string>>();
    for (const c of lines) (m.get(key(c)) ?? m.set(key(c), new Set()).get(key(c))!).add(c.split);
    return m;
  };
  for (const [sku, s] of splitOf((c) => c.sku_id)) assert.equal(s.size, 1, `SKU ${sku} is in ${[...s]}`);
  for (const [pair, s] of splitOf((c) => String(c.pair_id))) assert.equal(s.size, 1, `pair ${pair} is in ${[...s]}`);
  assert.deepEqual(new Set(lines.map((c) => c.split)), new Set(['train', 'test']), 'both new splits are used');
  for (const c of lines) assert.ok(c.image_path.startsWith(`${c.split}/${c.domain}/${c.sku_id}/`), c.image_path);
});
