/**
 * Seed 001's crops: crops per second per core, imgsift's `crop` step (one worker, through the
 * whole build: ingest, cache, asset store) against a plain sharp loop doing the same crops
 * (decode the photo, extract the box, encode JPEG q95, one crop at a time, sharp on one thread),
 * both in this run over the same generated DeepFashion2 sample of IMAGES photos with 3 items each.
 * CPU seconds are counted too: on a loaded machine they say more than wall time.
 *
 *   node --import tsx bench/crops.ts [images=1000]
 *
 * Measured (2 cores shared with other jobs, load average 11–12, niced; 1,000 photos of
 * 600–680 × 760–840 px, 3,000 crops): plain sharp loop 120.5 crops per CPU s (82.8/s wall);
 * imgsift crop step 64.5 crops per CPU s over the whole build (36.5/s wall for the step, 1 worker):
 * 0.54 of the plain loop. The difference is the build's bookkeeping per crop (reading and hashing
 * the source file for the cache key, hashing and storing the crop as an asset, catalog rows,
 * passing bytes to the worker); with 60 photos (180 crops) the fixed start-up cost brings it to 0.24.
 */
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { generateDeepFashion2 } from '../examples/deepfashion2/generate.js';
import { build } from '../src/exec/build.js';
import { Reporter } from '../src/exec/reporter.js';
import { recipeFromObject } from '../src/recipe/load.js';

const IMAGES = Number(process.argv[2] ?? 1000);

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

async function plainLoop(root: string): Promise<{ crops: number; bytes: number }> {
  sharp.concurrency(1);
  let crops = 0;
  let bytes = 0;
  const annos = join(root, 'train', 'annos');
  for (const f of (await readdir(annos)).sort()) {
    const anno = JSON.parse(await readFile(join(annos, f), 'utf8'));
    const image = join(root, 'train', 'image', f.replace(/\.json$/, '.jpg'));
    for (const key of Object.keys(anno).filter((k) => k.startsWith('item'))) {
      const [x1, y1, x2, y2] = anno[key].bounding_box as number[];
      const input = await readFile(image);
      const out = await sharp(input).extract({ left: x1, top: y1, width: x2 - x1, height: y2 - y1 }).jpeg({ quality: 95 }).toBuffer();
      crops++;
      bytes += out.length;
    }
  }
  return { crops, bytes };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-bench-crops-'));
  try {
    const root = join(dir, 'df2');
    let t0 = Date.now();
    const gen = await generateDeepFashion2(root, { pairs: { train: Math.ceil(IMAGES / 2) }, imagesPerDomain: 1, itemsPerImage: 3, imageSize: [600, 760] });
    console.log(`crops: ${gen.images} photos, ${gen.items} items generated in ${((Date.now() - t0) / 1000).toFixed(1)} s; load average ${loadavg()[0].toFixed(1)}`);

    t0 = Date.now();
    let cpu = process.cpuUsage();
    const loop = await plainLoop(root);
    const loopWall = (Date.now() - t0) / 1000;
    const loopCpu = cpuSeconds(cpu);

    const recipe = recipeFromObject({
      name: 'bench-crops', workdir: join(dir, 'work'),
      source: { format: 'deepfashion2', path: root, splits: ['train'] },
      steps: [{ crop: { box: 'bounding_box', quality: 95 } }],
    }, dir);
    t0 = Date.now();
    cpu = process.cpuUsage();
    const result = await build(recipe, { reporter: new Reporter({ mode: 'quiet' }), workers: 1 });
    const buildWall = (Date.now() - t0) / 1000;
    const buildCpu = cpuSeconds(cpu);
    const step = result.summary.steps.find((s) => s.name === 'crop')!;
    const computed = Number(step.stats['samples computed']);

    const rate = (n: number, s: number) => (n / s).toFixed(1);
    console.log(`plain sharp loop: ${loop.crops} crops in ${loopWall.toFixed(1)} s wall (${rate(loop.crops, loopWall)}/s), ${loopCpu.toFixed(1)} CPU s (${rate(loop.crops, loopCpu)} crops per CPU s)`);
    console.log(`imgsift crop step (1 worker): ${computed} crops in ${step.seconds.toFixed(1)} s wall (${rate(computed, step.seconds)}/s); ` +
      `whole build ${buildWall.toFixed(1)} s wall (${rate(computed, buildWall)}/s), ${buildCpu.toFixed(1)} CPU s (${rate(computed, buildCpu)} crops per CPU s)`);
    console.log(`imgsift / plain, crops per CPU s: ${((computed / buildCpu) / (loop.crops / loopCpu)).toFixed(2)}; load average now ${loadavg()[0].toFixed(1)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
