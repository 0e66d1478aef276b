/**
 * `derive` and group filters on a DeepFashion2-style manifest (seed 001) of 1,000,000 rows: SKU
 * ids and prompts from templates and lookups, then `groups: {by: sku_id, require: {domain: [catalog,
 * query]}}`. No image work (no per-sample step). Runs in a child process so its peak RSS is its own.
 *
 *   node --import tsx bench/derive.ts [rows=1000000]
 *
 * Measured (2 shared cores at load average ~28, niced, 16% of a CPU on average): 1,000,000 rows,
 * derive 248 s, filter 29 s, split 12 s, whole build 622 s, peak RSS 1.2 GB; 100,000 rows at load
 * ~18: derive 22 s.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROWS = Number(process.argv[2] ?? 1_000_000);
const CATEGORIES = ['short sleeve top', 'long sleeve top', 'trousers', 'skirt', 'vest dress'];

async function writeManifest(file: string): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < ROWS; i++) {
    const sku = Math.floor(i / 4);
    const line = JSON.stringify({
      id: `c${i}`, image: `crops/${sku}/${i}.jpg`, pair_id: Math.floor(sku / 3), style: 1 + (sku % 3), category_id: 1 + (sku % 5),
      category_name: CATEGORIES[sku % 5], domain: i % 4 === 0 || sku % 7 === 0 ? 'catalog' : 'query',
      occlusion: 1 + (i % 3), viewpoint: 1 + ((i >> 1) % 3), item: { bbox: [i % 50, i % 70, 200 + (i % 90), 300 + (i % 40)] },
    });
    if (!out.write(line + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(r));
}

async function parent(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-bench-derive-'));
  const file = join(dir, 'manifest.jsonl');
  await writeManifest(file);
  console.log(`derive: ${ROWS} JSONL rows; load average ${loadavg()[0].toFixed(1)}`);
  const res = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', file, dir], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  });
  process.stdout.write(res.stdout);
  if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
}

async function child(file: string, dir: string): Promise<void> {
  const { build } = await import('../src/exec/build.js');
  const { recipeFromObject } = await import('../src/recipe/load.js');
  const { Reporter } = await import('../src/exec/reporter.js');
  const recipe = recipeFromObject({
    name: 'derive', workdir: join(dir, 'work'),
    source: { format: 'jsonl', path: file, fields: { id: 'id', image: 'image' } },
    lookups: {
      domain_words: { catalog: 'shop photo of a', query: 'user photo of a person wearing a' },
      occlusion_words: { 1: '', 2: ', partly occluded', 3: ', heavily occluded' },
      viewpoint_words: { 1: 'laid flat', 2: 'from the front', 3: 'from the side or back' },
    },
    steps: [
      { derive: { fields: {
        sku_id: '{pair_id:06d}_{style:02d}_{category_id:02d}',
        text: 'A {domain|map:domain_words} {category_name}{occlusion|map:occlusion_words} {viewpoint|map:viewpoint_words}.',
        box_w: '{item.bbox[2]}',
      } } },
      { filter: { drop_where: [{ name: 'narrow', sql: `(meta->>'box_w')::INTEGER < 205` }], groups: { by: 'sku_id', require: { domain: ['catalog', 'query'] } } } },
      { split: { ratios: { train: 0.9, test: 0.1 }, group_by: 'sku_id' } },
    ],
  }, dir);
  const t0 = performance.now();
  const res = await build(recipe, { reporter: new Reporter({ mode: 'quiet' }) });
  const total = (performance.now() - t0) / 1000;
  for (const s of res.summary.steps) {
    console.log(`${s.name.padEnd(8)} ${s.seconds.toFixed(1)} s  ${JSON.stringify(s.stats)}`);
  }
  console.log(
    `build ${total.toFixed(1)} s for ${res.summary.ingest.read} rows (${(res.summary.ingest.read / total).toFixed(0)} rows/s), ` +
      `${res.summary.total} kept; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
  );
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4]);
else await parent();
