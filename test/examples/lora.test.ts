import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Catalog } from '../../src/catalog/catalog.js';
import { build } from '../../src/exec/build.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { validateKohya } from '../../src/validate/kohya.js';
import { generate, type PlantedFile } from '../../examples/lora/generate.js';
import { tempDir } from '../helpers/tmp.js';

const RECIPE = fileURLToPath(new URL('../../examples/lora/recipe.yaml', import.meta.url));

// ---- the seed's rules, re-implemented here independently of src/ ----

/** sd-scripts' make_bucket_resolutions: square side from the area, then every width step. */
function sdBuckets(reso: number, min: number, max: number, step: number): Array<[number, number]> {
  const area = reso * reso;
  const out = new Map<string, [number, number]>();
  const add = (w: number, h: number) => out.set(`${w}x${h}`, [w, h]);
  const sq = Math.floor(Math.sqrt(area) / step) * step;
  add(sq, sq);
  for (let w = min; w <= max; w += step) {
    const h = Math.min(max, Math.floor(Math.floor(area / w) / step) * step);
    add(w, h);
    add(h, w);
  }
  return [...out.values()];
}

/** The bucket whose aspect ratio is nearest the image's (upright) one. */
function nearestBucket(buckets: Array<[number, number]>, w: number, h: number): [number, number] {
  const ar = w / h;
  let best = buckets[0];
  for (const b of buckets) if (Math.abs(b[0] / b[1] - ar) < Math.abs(best[0] / best[1] - ar)) best = b;
  return best;
}

/** The exported file stem kohya uses for a sample id (the webdataset key rule: / and . become _). */
const stem = (id: string) => id.replace(/[/.]/g, '_');

const normal = (c: string) => c.toLowerCase().replace(/\s*,\s*/g, ',').replace(/\s+/g, ' ').trim();

test('examples/lora: the seed 003 workflow gives a kohya training folder with checked captions', { timeout: 300_000 }, async () => {
  const dir = await tempDir('imgsift-lora-');
  const data = join(dir, 'data');
  const out = join(dir, 'training_data');
  const planted = await generate(data);
  const env = { ...process.env, LORA_DATA: data, LORA_WORKDIR: join(dir, 'work'), LORA_OUT: out };
  const result = await build(await loadRecipe(RECIPE, { env }), { workers: 1 });
  assert.equal(result.exitCode, 0, JSON.stringify(result.summary.attention));

  // Which images survive the seed's gates: every planted problem goes, one of each copy pair stays.
  const kept = new Set(planted.filter((f) => f.problem === null).map((f) => f.path));
  const imgDir = join(out, 'img', '10_ohwx man');
  const regDir = join(out, 'reg', '1_man');
  const exported = new Set([...(await readdir(imgDir)), ...(await readdir(regDir))].filter((f) => f.endsWith('.png')).map((f) => f.slice(0, -4)));
  for (const copy of planted.filter((f) => f.copy_of)) {
    const both = [copy.path, copy.copy_of!].filter((p) => exported.has(stem(p)));
    assert.equal(both.length, 1, `exactly one of ${copy.path} and its original is kept: ${both}`);
    kept.delete(copy.copy_of!);
    kept.add(both[0]);
  }
  // augment_factor 2: each kept training image plus one copy `<id>/aug1`; regularization images are not augmented.
  const copies = [...kept].filter((p) => p.startsWith('subject/')).map((p) => `${p}/aug1`);
  assert.deepEqual([...exported].sort(), [...kept, ...copies].map(stem).sort(), 'the exported images are those that pass the gates, and their copies');
  assert.ok(planted.filter((f) => f.problem && f.problem !== 'duplicate' && f.problem !== 'near_duplicate').every((f) => !exported.has(stem(f.path))));

  const byPath = new Map(planted.map((f) => [f.path, f]));
  const buckets = sdBuckets(768, 512, 1024, 64);
  const expectedCaption = (f: PlantedFile): string => {
    const base = f.caption_problem === 'not_utf8' ? f.caption!.replace('é', '\uFFFD') : f.caption;
    const parts = f.folder === 'reg' ? ['man'] : ['ohwx', 'man'];
    return [...parts, ...(base ? [base] : [])].join(', ');
  };
  const metadata = JSON.parse(await readFile(join(out, 'meta_cat.json'), 'utf8')) as Record<string, { caption: string; train_resolution: [number, number] }>;
  const captions: Array<{ path: string; text: string }> = [];
  for (const path of kept) {
    const f = byPath.get(path)!;
    const folder = f.folder === 'reg' ? regDir : imgDir;
    const png = join(folder, `${stem(path)}.png`);
    const m = await sharp(png).metadata();
    // Bucket-sized, upright (EXIF-rotated photos come out in their upright aspect).
    assert.deepEqual([m.width, m.height], nearestBucket(buckets, f.width, f.height), `${path} is in its sd-scripts bucket`);
    const text = (await readFile(join(folder, `${stem(path)}.txt`), 'utf8')).trim();
    assert.equal(text, expectedCaption(f), `${path}: caption`);
    captions.push({ path, text });
    if (f.folder === 'subject') {
      assert.deepEqual(metadata[stem(path)], { caption: text, train_resolution: [m.width, m.height] }, `${path}: metadata`);
      // The copy: same bucket, same caption, other pixels.
      const copy = join(folder, `${stem(`${path}/aug1`)}.png`);
      const cm = await sharp(copy).metadata();
      assert.deepEqual([cm.width, cm.height], [m.width, m.height], `${path}/aug1 keeps its parent's bucket`);
      assert.equal((await readFile(join(folder, `${stem(`${path}/aug1`)}.txt`), 'utf8')).trim(), text, `${path}/aug1 carries the caption`);
      assert.ok(!(await readFile(copy)).equals(await readFile(png)), `${path}/aug1 differs from its parent`);
      assert.deepEqual(metadata[stem(`${path}/aug1`)], { caption: text, train_resolution: [m.width, m.height] });
    } else {
      assert.equal(metadata[stem(path)], undefined, 'regularization images are not in the fine-tuning metadata');
    }
  }
  assert.equal(Object.keys(metadata).length, 2 * copies.length);

  // sd-scripts dataset config: bucket settings, one subset per concept folder, reg flagged.
  const toml = await readFile(join(out, 'dataset_config.toml'), 'utf8');
  for (const line of ['enable_bucket = true', 'min_bucket_reso = 512', 'max_bucket_reso = 1024', 'bucket_reso_steps = 64', 'resolution = 768', 'batch_size = 1']) {
    assert.ok(toml.includes(`\n${line}\n`), `config has ${line}`);
  }
  const subsets = toml.split('[[datasets.subsets]]').slice(1).map((s) => Object.fromEntries(
    [...s.matchAll(/^\s*(\w+) = (.+)$/gm)].map((x) => [x[1], x[2].startsWith('"') ? JSON.parse(x[2]) : x[2]]),
  ));
  assert.deepEqual(subsets.map((s) => [s.image_dir, s.num_repeats, s.class_tokens, s.is_reg]), [
    [imgDir, '10', 'ohwx man', 'false'],
    [regDir, '1', 'man', 'true'],
  ]);
  assert.ok(subsets.every((s) => existsSync(s.image_dir as string)));

  // Caption checks as issues, against the planted caption problems and an independent duplicate count.
  const catalog = await Catalog.open(join(dir, 'work'));
  try {
    const issues = await catalog.all<{ sample_id: string; type: string }>(
      `SELECT sample_id, type FROM issues WHERE step = 'caption' AND flagged ORDER BY sample_id, type`,
    );
    const ofType = (t: string) => issues.filter((i) => i.type === t).map((i) => i.sample_id).sort();
    const planted_ = (p: PlantedFile['caption_problem']) => [...kept].filter((k) => byPath.get(k)!.caption_problem === p).sort();
    assert.deepEqual(ofType('caption_too_long'), planted_('too_long'));
    assert.deepEqual(ofType('caption_not_utf8'), planted_('not_utf8'));
    assert.ok(planted_('too_long').length === 1 && planted_('not_utf8').length === 1);
    const groups = new Map<string, string[]>();
    for (const c of captions) groups.set(normal(c.text), [...(groups.get(normal(c.text)) ?? []), c.path]);
    const dups = [...groups.values()].filter((g) => g.length > 1).flat().sort();
    assert.deepEqual(ofType('caption_duplicate'), dups);
    for (const p of planted_('shared')) assert.ok(dups.includes(p), `${p} shares its caption`);
    assert.deepEqual(ofType('caption_missing_trigger'), [], 'every training caption starts with the trigger');

    // Copies record what was applied, within the seed's safe ranges, and name their parent.
    const children = await catalog.all<{ id: string; parent_id: string; aug: string }>(
      `SELECT id, parent_id, json_extract(meta, '$.augment')::VARCHAR AS aug FROM samples WHERE parent_id IS NOT NULL AND seen_run = ${result.runId} ORDER BY id`,
    );
    assert.deepEqual(children.map((c) => c.id), [...copies].sort());
    for (const c of children) {
      assert.equal(c.id, `${c.parent_id}/aug1`);
      const a = JSON.parse(c.aug) as { rotate: number; brightness: number; contrast: number; crop: { scale: number }; risky: string[] };
      assert.ok(Math.abs(a.rotate) <= 5 && a.brightness >= 0.9 && a.brightness <= 1.1 && a.contrast >= 0.9 && a.contrast <= 1.1, c.aug);
      assert.ok(a.crop.scale >= 0.9 && a.crop.scale <= 1 && a.risky.length === 0, c.aug);
    }
  } finally {
    catalog.close();
  }

  // Balance: the seed's aspect bands over the kept training originals, recomputed from the planted sizes.
  const originals = [...kept].filter((p) => p.startsWith('subject/')).map((p) => byPath.get(p)!);
  const cls = (f: PlantedFile) => (Math.max(f.width, f.height) / Math.min(f.width, f.height) <= 1.1 ? 'square' : f.height > f.width ? 'portrait' : 'landscape');
  const bands = { portrait: [0.3, 0.4], landscape: [0.3, 0.4], square: [0.2, 0.4] } as const;
  const balance = result.summary.steps.find((s) => s.name === 'balance')!.stats;
  for (const k of ['portrait', 'landscape', 'square'] as const) {
    const n = originals.filter((f) => cls(f) === k).length;
    const share = n / originals.length;
    assert.ok(share >= bands[k][0] && share <= bands[k][1], `${k} ${share} in band`);
    assert.match(String(balance[`aspect ${k}`]), new RegExp(`^${n} \\(${(share * 100).toFixed(1)}%`));
  }
  assert.equal(balance.images, originals.length);

  // The report charts the buckets and the balance shares.
  const { writeReport } = await import('../../src/report/html.js');
  const rc = await Catalog.open(join(dir, 'work'));
  try {
    const html = await readFile((await writeReport(rc, result.runId, join(dir, 'report.html'))).file, 'utf8');
    assert.match(html, /<section id="training"><h2>Buckets and balance<\/h2>/);
    const buckets = String(result.summary.steps.find((s) => s.name === 'bucket')!.stats['per bucket']).split(', ');
    for (const b of buckets) assert.ok(html.includes(b.split(' ')[0]), `bucket ${b} charted`);
    assert.match(html, /aspect portrait/);
  } finally {
    rc.close();
  }

  // imgsift validate on the folder finds the planted caption problems and nothing else.
  const v = await validateKohya(out);
  const tooLong = [...kept].filter((p) => byPath.get(p)!.caption_problem === 'too_long').flatMap((p) => [stem(p), stem(`${p}/aug1`)]);
  assert.deepEqual(v.problems.filter((p) => /tokens, over 75/.test(p.problem)).map((p) => p.file).sort(), tooLong.map((s) => `img/10_ohwx man/${s}.txt`).sort());
  assert.ok(v.problems.every((p) => /tokens, over 75|same caption as/.test(p.problem)), JSON.stringify(v.problems));
  assert.equal(v.images, exported.size);

  // A rerun changes nothing in the folder.
  const again = await build(await loadRecipe(RECIPE, { env }), { workers: 1 });
  const kohya = again.summary.exports.find((e) => e.name === 'kohya')!;
  assert.equal(kohya.stats['files written'], 0);
});
