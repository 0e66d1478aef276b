/**
 * Probe throughput through the real pipeline (catalog, worker pool, cache writes): 1,000
 * photo-like 1024x768 JPEGs, built with a probe-only recipe on one worker and on all workers.
 * Each run uses a fresh workdir, so nothing comes from the cache.
 *
 *   node --import tsx bench/probe.ts [count=1000]
 */
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { build } from '../src/exec/build.js';
import { recipeFromObject } from '../src/recipe/load.js';
import { Reporter } from '../src/exec/reporter.js';
import { benchJpegs } from './lib/images.js';

const COUNT = Number(process.argv[2] ?? 1000);

async function main(): Promise<void> {
  const files = await benchJpegs('probe', COUNT);
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-bench-probe-run-'));
  const images = dirname(files[0]);
  const cores = availableParallelism();
  console.log(`probe: ${COUNT} JPEGs 1024x768; ${cores} cores; load average ${loadavg()[0].toFixed(1)}`);
  const rows: string[] = [];
  for (const workers of [1, cores]) {
    const recipe = recipeFromObject({
      name: 'bench', workdir: join(dir, `work-${workers}`),
      source: { format: 'folder', path: images },
      steps: ['probe'],
    }, dir);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await build(recipe, { workers, reporter: new Reporter({ mode: 'quiet' }) });
    const wall = (performance.now() - t0) / 1000;
    const probe = res.summary.steps.find((s) => s.name === 'probe')!;
    if (res.summary.total !== COUNT) throw new Error(`expected ${COUNT} samples, the build saw ${res.summary.total}`);
    const cpu = process.cpuUsage(cpu0);
    rows.push(
      `${String(workers).padStart(7)} ${(COUNT / probe.seconds).toFixed(1).padStart(12)} ${(COUNT / wall).toFixed(1).padStart(14)}` +
        `   (probe pass ${probe.seconds.toFixed(2)} s, whole build ${wall.toFixed(2)} s, process CPU (all threads) ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s)`,
    );
  }
  console.log('workers  probe img/s  build img/s');
  for (const r of rows) console.log(r);
  await rm(dir, { recursive: true, force: true });
}

await main();
