/**
 * Streaming ingest of a 1,000,000-row JSONL manifest into the catalog (reader → appender staging →
 * merge), run in a child process so its peak RSS is its own. Ingest only: no image work.
 *
 *   node --import tsx bench/ingest.ts [rows=1000000]
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROWS = Number(process.argv[2] ?? 1_000_000);

async function writeManifest(file: string): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < ROWS; i++) {
    const line = JSON.stringify({
      id: `s${i}`, file_name: `shard${i % 1000}/img_${i}.jpg`, text: `a photo of thing number ${i} on a table`,
      label: `class_${i % 1000}`, pair_id: `p${Math.floor(i / 2)}`, extra: { w: 640, h: 480 },
    });
    if (!out.write(line + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r) => out.end(r));
}

async function parent(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-bench-ingest-'));
  const file = join(dir, 'manifest.jsonl');
  await writeManifest(file);
  console.log(`ingest: ${ROWS} JSONL rows; load average ${loadavg()[0].toFixed(1)}`);
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
    name: 'ingest', workdir: join(dir, 'work'),
    source: { format: 'jsonl', path: file, fields: { id: 'id', image: 'file_name', text: 'text', label: 'label', group: 'pair_id' } },
    steps: [],
  }, dir);
  for (const pass of ['first run', 'rerun (all known)']) {
    const t0 = performance.now();
    const res = await build(recipe, { reporter: new Reporter({ mode: 'quiet' }) });
    const s = (performance.now() - t0) / 1000;
    console.log(
      `${pass.padEnd(18)} ${res.summary.ingest.read} rows in ${s.toFixed(1)} s = ${(res.summary.ingest.read / s).toFixed(0)} rows/s; ` +
        `peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
    );
  }
}

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4]);
else await parent();
