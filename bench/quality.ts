// Images per second of `imgsift quality` (runQualityDir) on 300 generated 1024×768 JPEGs.
// Usage: node --import tsx bench/quality.ts [--count N]
// The images are generated once into os.tmpdir()/imgsift-bench-quality and reused.
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { photoJpeg } from '../src/demo/synth.js';
import { measureQuality } from '../src/image/quality.js';
import { runQualityDir } from '../src/cli/quality.js';
import type { QualityParamsInput } from '../src/steps/quality.js';

const countArg = process.argv.indexOf('--count');
const COUNT = countArg > 0 ? Number(process.argv[countArg + 1]) : 300;
const DIR = join(tmpdir(), 'imgsift-bench-quality');

async function ensureImages(): Promise<void> {
  await mkdir(DIR, { recursive: true });
  const have = new Set(await readdir(DIR));
  let made = 0;
  for (let i = 0; i < COUNT; i++) {
    const name = `img_${String(i).padStart(4, '0')}.jpg`;
    if (have.has(name)) continue;
    await writeFile(join(DIR, name), await photoJpeg({ seed: 1000 + i, width: 1024, height: 768 }));
    made++;
  }
  if (made) console.log(`generated ${made} images in ${DIR}`);
}

async function timeDir(label: string, params: QualityParamsInput, concurrency: number): Promise<void> {
  const out = join(tmpdir(), `imgsift-bench-quality-out-${process.pid}`);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const s = await runQualityDir(DIR, out, { params, concurrency });
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  await rm(out, { recursive: true, force: true });
  // CPU time per image (all threads) stays meaningful when other work shares the machine.
  const cpuMs = (cpu.user + cpu.system) / 1000 / s.images;
  console.log(`${label.padEnd(44)} ${(s.images / secs).toFixed(1).padStart(7)} images/s  (${s.images} in ${secs.toFixed(2)} s, ${s.failed} failed; ${cpuMs.toFixed(1)} ms CPU/image)`);
}

/** Time of the JavaScript part alone (decode + measure, one image at a time), ms per image. */
async function serialMs(params: Parameters<typeof measureQuality>[1], n: number): Promise<number> {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.jpg')).sort().slice(0, n);
  const bufs = await Promise.all(files.map((f) => readFile(join(DIR, f))));
  const t0 = performance.now();
  for (const b of bufs) await measureQuality(b, params);
  return (performance.now() - t0) / bufs.length;
}

await ensureImages();
const cores = availableParallelism();
console.log(`quality bench: ${COUNT} JPEGs 1024x768, ${cores} cores, node ${process.version}`);
console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
await timeDir('warm-up', {}, cores);
await timeDir(`default (pil blur resize), concurrency ${cores}`, {}, cores);
await timeDir(`blur_resize libvips, concurrency ${cores}`, { blur_resize: 'libvips' }, cores);
await timeDir(`max_side 512 (shrink-on-load), concurrency ${cores}`, { max_side: 512 }, cores);
await timeDir('default, concurrency 1', {}, 1);
console.log(`serial ms/image: default ${(await serialMs({}, 50)).toFixed(1)}, libvips blur resize ${(await serialMs({ blurResize: 'libvips' }, 50)).toFixed(1)}, max_side 512 ${(await serialMs({ maxSide: 512 }, 50)).toFixed(1)}`);
