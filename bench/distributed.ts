/**
 * Per-sample throughput of the distributed modes against a local build, in one run on the same
 * images: `count` photo-like JPEGs through probe + hash + quality with a manifest export, each
 * process with 1 worker thread:
 *   - local: one `imgsift build`;
 *   - queue, 1 and 2 workers: `build --queue` on a real redis-server (Debian package, random port)
 *     with `imgsift worker` processes, --batches 4;
 *   - array, 1 and 2 shards: `build --shard I/N` processes at once, then `build --merge`.
 * The figure is images / seconds from start to the merged exports (the merge included), and the
 * merged manifest is compared with the local one. Uses dist/ (`npx tsc -p tsconfig.json` first).
 *
 *   node --import tsx bench/distributed.ts [count=2000] [size=512]
 *
 * On a machine shared with other work, the load average is printed: 2 workers on 2 busy cores
 * cannot show their full gain.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchJpegs } from './lib/images.js';
import { spawnRedis } from '../test/helpers/redis-server.js';

const COUNT = Number(process.argv[2] ?? 2000);
const SIZE = Number(process.argv[3] ?? 512);
const BIN = fileURLToPath(new URL('../bin/imgsift.js', import.meta.url));

function cli(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`imgsift ${args.join(' ')} exited ${code}:\n${stderr}`);
    return stdout;
  });
}

async function recipeIn(dir: string, images: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'recipe.yaml');
  await writeFile(file, `name: bench-distributed
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
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-bench-distributed-'));
  const redis = await spawnRedis();
  const workers: ChildProcess[] = [];
  console.log(`distributed: ${COUNT} JPEGs ${SIZE}x${Math.round((SIZE * 3) / 4)}, probe+hash+quality, 1 thread per process; ` +
    `${availableParallelism()} cores, load average ${loadavg()[0].toFixed(1)}`);
  const rows: Array<[string, number, boolean | null]> = [];
  const show = (name: string, secs: number, same: boolean | null) => {
    rows.push([name, secs, same]);
    console.log(`${name.padEnd(24)} ${secs.toFixed(1).padStart(7)} s ${(COUNT / secs).toFixed(1).padStart(7)} img/s` +
      (same === null ? '' : `  manifest ${same ? 'identical' : 'DIFFERS'}`));
  };
  try {
    const local = await recipeIn(join(dir, 'local'), images);
    let t0 = performance.now();
    await cli(['build', local, '--workers', '1', '--quiet']);
    show('local build', (performance.now() - t0) / 1000, null);
    const manifest = await readFile(join(dir, 'local', 'out', 'manifest.jsonl'));
    const same = async (d: string) => (await readFile(join(dir, d, 'out', 'manifest.jsonl'))).equals(manifest);

    for (const n of [1, 2]) {
      // Workers start first (a few seconds each to load), as they would be waiting on a cluster.
      while (workers.length < n) {
        workers.push(spawn(process.execPath, [BIN, 'worker', '--redis', redis.url, '--workers', '1', '--quiet'], { stdio: 'ignore' }));
      }
      await new Promise((r) => setTimeout(r, 3000));
      const recipe = await recipeIn(join(dir, `queue${n}`), images);
      t0 = performance.now();
      await cli(['build', recipe, '--queue', redis.url, '--batches', '4', '--workers', '1', '--quiet']);
      show(`queue, ${n} worker${n > 1 ? 's' : ''}`, (performance.now() - t0) / 1000, await same(`queue${n}`));
    }
    for (const w of workers) w.kill('SIGTERM');

    for (const n of [1, 2]) {
      const recipe = await recipeIn(join(dir, `array${n}`), images);
      t0 = performance.now();
      await Promise.all(Array.from({ length: n }, (_, i) => cli(['build', recipe, '--shard', `${i}/${n}`, '--workers', '1', '--quiet'])));
      await cli(['build', recipe, '--merge', '--workers', '1', '--quiet']);
      show(`array, ${n} shard${n > 1 ? 's' : ''} + merge`, (performance.now() - t0) / 1000, await same(`array${n}`));
    }
    console.log(`load average at the end ${loadavg()[0].toFixed(1)}`);
  } finally {
    for (const w of workers) w.kill('SIGKILL');
    redis.process.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
