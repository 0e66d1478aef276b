import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { tempDir } from '../helpers/tmp.js';
import { build } from '../../src/exec/build.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { formatSummary, type BuildSummary } from '../../src/report/summary.js';
import { Reporter } from '../../src/exec/reporter.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { validateShards } from '../../src/validate/validate.js';
import { generate, SEED_EDIT_TYPES, type ManifestLine } from '../../examples/pico-banana/generate.js';
import { serve } from '../../examples/pico-banana/serve.js';

const EXAMPLE = new URL('../../examples/pico-banana/', import.meta.url).pathname;
const MEMBERS = ['input.jpg', 'mask.png', 'text.txt', 'summary.txt', 'meta.json'];

/** The seed's split rule, written out again: md5 of the sample id, 90/5/5 by cumulative ratio. */
function seedSplit(id: string): string {
  const u = parseInt(createHash('md5').update(id).digest('hex').slice(0, 8), 16) / 2 ** 32;
  return u < 0.9 ? 'train' : u < 0.95 ? 'dev' : 'test';
}

/** The seed's key: output_image with '/' as '_' and no extension. */
const seedKey = (outputImage: string) => outputImage.replace(/\//g, '_').replace(/\.[^./]*$/, '');

/** Every extracted shard member, by split, key and member name. */
async function readExtracted(root: string): Promise<Map<string, Map<string, Map<string, Buffer>>>> {
  const out = new Map<string, Map<string, Map<string, Buffer>>>();
  for (const split of await readdir(root, { withFileTypes: true })) {
    if (!split.isDirectory()) continue;
    const byKey = new Map<string, Map<string, Buffer>>();
    for (const shard of await readdir(join(root, split.name))) {
      if (!shard.startsWith('shard-') || shard.endsWith('.tar')) continue;
      for (const f of await readdir(join(root, split.name, shard))) {
        const dot = f.indexOf('.');
        const key = f.slice(0, dot);
        if (!byKey.has(key)) byKey.set(key, new Map());
        assert.ok(!byKey.get(key)!.has(f.slice(dot + 1)), `${f} written twice`);
        byKey.get(key)!.set(f.slice(dot + 1), await readFile(join(root, split.name, shard, f)));
      }
    }
    out.set(split.name, byKey);
  }
  return out;
}

test('pico-banana example: served sample, interrupted build, resume, seed figures, validate', { timeout: 300_000 }, async () => {
  const dir = await tempDir('imgsift-pico-');
  const cdn = await serve(join(dir, 'data/cdn'), 0);
  try {
    const planted = await generate(join(dir, 'data'), cdn.url, { edits: 14, others: 3, broken: 1 });
    const recipeFile = join(dir, 'recipe.yaml');
    await copyFile(join(EXAMPLE, 'recipe.yaml'), recipeFile);
    const env = { PB_MANIFEST: join(dir, 'data/sft.jsonl'), PB_CDN: cdn.url };
    const quiet = () => new Reporter({ mode: 'quiet' });
    const run = async (signal?: AbortSignal) =>
      build(await loadRecipe(recipeFile, { env }), { dev: true, workers: 1, signal, reporter: quiet() });

    // 1. Interrupted while downloading, then resumed.
    const ctl = new AbortController();
    const watch = setInterval(() => cdn.requests.length >= 6 && ctl.abort(), 5);
    await assert.rejects(run(ctl.signal), (e: Error & { exitCode?: number }) => /interrupted/.test(e.message));
    clearInterval(watch);
    const first = await run();
    const summary: BuildSummary = first.summary;

    // What the seed keeps, worked out from the manifest alone.
    const wanted = planted.lines.filter((l) => (SEED_EDIT_TYPES as readonly string[]).includes(l.edit_type));
    const fetched = wanted.filter((l) => !planted.brokenInputs.includes(l.output_image));
    const aligned = fetched.filter((l) => !planted.unrelated.includes(l.output_image));
    assert.equal(wanted.length, 14);
    assert.equal(fetched.length, 13);
    // Lines of other edit types were never requested.
    for (const l of planted.lines.filter((x) => !wanted.includes(x))) {
      assert.ok(!cdn.requests.includes('/' + l.output_image), `${l.output_image} (${l.edit_type}) was fetched`);
    }

    // 2. Shards: keys, splits, members and their contents.
    const shards = await readExtracted(join(dir, 'dev_extracted'));
    const written = new Map<string, { split: string; members: Map<string, Buffer> }>();
    for (const [split, byKey] of shards) for (const [key, members] of byKey) written.set(key, { split, members });
    assert.equal(written.size, [...shards.values()].reduce((n, m) => n + m.size, 0), 'no sample in two splits');
    const byKey = new Map<string, ManifestLine>(aligned.map((l) => [seedKey(l.output_image), l]));
    // An aligned pair may still be dropped for an empty mask; never more than one of this sample.
    assert.ok(written.size >= aligned.length - 1 && written.size <= aligned.length, `${written.size} samples written`);
    for (const [key, { split, members }] of written) {
      const line = byKey.get(key);
      assert.ok(line, `unexpected key ${key}`);
      assert.ok(!key.includes('.'), key);
      assert.equal(split, seedSplit(line.output_image), `${key} split`);
      assert.deepEqual([...members.keys()].sort(), [...MEMBERS].sort(), `${key} members`);
      assert.equal(members.get('text.txt')!.toString(), line.text);
      assert.equal(members.get('summary.txt')!.toString(), line.summarized_text);
      const meta = JSON.parse(members.get('meta.json')!.toString());
      assert.equal(meta.meta.open_image_input_url, line.open_image_input_url);
      assert.equal(meta.meta.output_image, line.output_image);
      assert.equal(meta.meta.edit_type, line.edit_type);
      assert.equal(meta.meta.alignment.ok, true);
      assert.ok(meta.meta.alignment.inlier_ratio > 0.3 && meta.meta.alignment.good_matches >= 10, key);
      const img = await sharp(members.get('input.jpg')!).metadata();
      assert.equal(img.format, 'jpeg');
      const mask = await sharp(members.get('mask.png')!).raw().toBuffer({ resolveWithObject: true });
      assert.equal(mask.info.width, img.width);
      assert.equal(mask.info.height, img.height);
      assert.ok(mask.data.every((v) => v === 0 || v === 255), `${key} mask is binary`);
      assert.ok(mask.data.some((v) => v === 255), `${key} mask marks the edit`);
    }

    // 3. The closing block: totals, splits in train/dev/test order, alignment figures.
    const text = formatSummary(summary);
    assert.match(text, /DATASET BUILDING COMPLETE/);
    assert.match(text, new RegExp(`Total samples written: ${written.size}\\n`));
    const counts = ['train', 'dev', 'test'].map((s) => [s, [...written.values()].filter((w) => w.split === s).length] as const);
    const present = counts.filter(([, n]) => n > 0);
    const splitLines = present.map(([s, n]) => `  ${s.toUpperCase()}: ${n} samples (${((n / written.size) * 100).toFixed(1)}%)`);
    assert.ok(text.includes(`Split breakdown:\n${splitLines.join('\n')}\n`), text);
    const cat = await Catalog.open(join(dir, '.imgsift/pico-banana'));
    const metas = (await cat.all<{ m: string }>(`SELECT meta::VARCHAR AS m FROM samples`)).map((r) => JSON.parse(r.m));
    cat.close();
    const ok = metas.filter((m) => m.alignment?.ok === true);
    assert.equal(ok.length, aligned.length, 'every pair of one photo aligned, the unrelated one did not');
    const pct = (n: number) => ((n / fetched.length) * 100).toFixed(1);
    const avgRatio = ok.reduce((s, m) => s + m.alignment.inlier_ratio, 0) / ok.length;
    const avgMatches = ok.reduce((s, m) => s + m.alignment.good_matches, 0) / ok.length;
    for (const l of [
      'Alignment Statistics:',
      `  Samples attempted: ${fetched.length}`,
      `  Alignment success: ${aligned.length} (${pct(aligned.length)}%)`,
      `  Alignment failed:  1 (${pct(1)}%)`,
      `    Avg inlier ratio: ${avgRatio.toFixed(3)}`,
      `    Avg matches: ${Math.round(avgMatches)}`,
    ]) assert.ok(text.includes(l + '\n'), `missing '${l}' in\n${text}`);
    assert.match(text, /Failure reasons:\n {4}(too_few_matches|low_inlier_ratio|homography_failed|degenerate_homography|insufficient_keypoints): 1\n/);
    // The same figures for --json and the report.
    assert.deepEqual(
      { ...summary.alignment, avgInlierRatio: Number(summary.alignment!.avgInlierRatio.toFixed(3)), failureReasons: undefined },
      { attempted: fetched.length, success: aligned.length, successPercent: Number(pct(aligned.length)), failed: 1, failedPercent: Number(pct(1)),
        avgInlierRatio: Number(avgRatio.toFixed(3)), avgMatches: Math.round(avgMatches), failureReasons: undefined },
    );
    const html = await readFile(summary.report!, 'utf8');
    const section = html.slice(html.indexOf('id="alignment"'));
    assert.ok(section.includes('Alignment success') && section.includes(`${aligned.length} (${pct(aligned.length)}%)`), 'report alignment section');
    assert.ok(section.includes(avgRatio.toFixed(3)));

    // 4. A rerun fetches and aligns nothing, and rewrites identical shards.
    const requests = cdn.requests.length;
    const again = await run();
    assert.equal(cdn.requests.length, requests, 'no request on rerun');
    const align = again.summary.steps.find((s) => s.name === 'align')!;
    assert.equal(align.stats['samples computed'], 0);
    assert.equal(again.summary.total, written.size);
    const shards2 = await readExtracted(join(dir, 'dev_extracted'));
    const digest = (m: typeof shards) =>
      [...m].flatMap(([sp, byK]) => [...byK].flatMap(([k, mem]) => [...mem].map(([n, b]) => `${sp}/${k}.${n}:${createHash('md5').update(b).digest('hex')}`))).sort();
    assert.deepEqual(digest(shards2), digest(shards), 'each sample exactly once, byte-identical');

    // 5. imgsift validate on the extracted train shard, unchanged.
    const trainDir = join(dir, 'dev_extracted/train/shard-000000');
    const report = await validateShards(trainDir, { output: join(dir, 'overlays') });
    const trainCount = counts.find(([s]) => s === 'train')![1];
    assert.equal(report.samples, trainCount);
    assert.equal(report.masks?.masks, trainCount);
    assert.equal(report.masks?.nonBinary, 0);
    assert.equal(report.overlays?.written, trainCount);
    assert.deepEqual(report.problems.filter((p) => p.kind !== 'mask_touches_border'), []);
  } finally {
    cdn.server.close();
  }
});
