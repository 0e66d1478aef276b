/**
 * Array mode against a local build: `count` photo-like JPEGs through probe + hash + quality with
 * a manifest export, (a) one local build with 1 worker, (b) 1 and 2 shard processes at once
 * (`build --shard I/N`, 1 worker each, real CLI processes as an array job runs them) followed by
 * `--merge`. Figures: per-sample throughput of the map work, the merge's time, and whether the
 * merged manifest equals the local one. Uses dist/ (run `npx tsc -p tsconfig.json` first).
 *
 *   node --import tsx bench/array.ts [count=2000] [size=512]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchJpegs } from './lib/images.js';

const COUNT = Number(process.argv[2] ?? 2000);
const SIZE = Number(process.argv[3] ?? 512);
const BIN = fileURLToPath(new URL('../bin/imgsift.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`imgsift ${args.join(' ')} exited ${code}:\n${stderr}`);
    return { code: code as number, stdout, stderr };
  });
}

async function recipeIn(dir: string, images: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'recipe.yaml');
  await writeFile(file, `name: bench-array
workdir: ./work
source: { format: folder, path: ${images} }
steps:
  - probe: {}
  - hash: {}
  - quality: {}
export:
  - { format: manifest, to: ./out/manifest.jsonl }
`);
  return file;
}

async function main(): Promise<void> {
  const files = await benchJpegs('array', COUNT, SIZE, Math.round((SIZE * 3) / 4));
  const images = dirname(files[0]);
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-bench-array-'));
  console.log(`array: ${COUNT} JPEGs ${SIZE}x${Math.round((SIZE * 3) / 4)}, probe+hash+quality; ${availableParallelism()} cores; load average ${loadavg()[0].toFixed(1)}`);
  try {
    const local = await recipeIn(join(dir, 'local'), images);
    let t0 = performance.now();
    await cli(['build', local, '--workers', '1', '--quiet']);
    const localS = (performance.now() - t0) / 1000;
    console.log(`local build, 1 worker:             ${localS.toFixed(1)} s  ${(COUNT / localS).toFixed(1)} img/s`);
    const localManifest = await readFile(join(dir, 'local', 'out', 'manifest.jsonl'));
    for (const n of [1, 2]) {
      const recipe = await recipeIn(join(dir, `array${n}`), images);
      t0 = performance.now();
      await Promise.all(Array.from({ length: n }, (_, i) => cli(['build', recipe, '--shard', `${i}/${n}`, '--workers', '1', '--quiet'])));
      const shardS = (performance.now() - t0) / 1000;
      t0 = performance.now();
      const merged = await cli(['build', recipe, '--merge', '--workers', '1', '--json']);
      const mergeS = (performance.now() - t0) / 1000;
      const summary = JSON.parse(merged.stdout.trim().split('\n').pop()!);
      const computedInMerge = summary.steps.reduce((a: number, s: { stats: Record<string, unknown> }) => a + (Number(s.stats['samples computed']) || 0), 0);
      const same = (await readFile(join(dir, `array${n}`, 'out', 'manifest.jsonl'))).equals(localManifest);
      console.log(
        `array, ${n} shard process(es) x 1 worker: shards ${shardS.toFixed(1)} s (${(COUNT / shardS).toFixed(1)} img/s), merge ${mergeS.toFixed(1)} s, ` +
          `total ${(shardS + mergeS).toFixed(1)} s; merge computed ${computedInMerge}; manifest ${same ? 'identical' : 'DIFFERS'}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
