/**
 * Probe speed, calling probeImage directly (no catalog, no worker pool): 1,000 photo-like 1024x768
 * JPEGs, probed one at a time and with N calls in flight (sharp decodes on libuv's thread pool, so
 * concurrent calls use more cores from one JS thread). Also prices the parts of a probe and the
 * decode strategies that were considered.
 *
 *   node --import tsx bench/probe-direct.ts [count=1000] [concurrency=1,2,4,8]
 *
 * The images are generated once into $TMPDIR/imgsift-bench-probe and reused. UV_THREADPOOL_SIZE
 * (default 4) caps how many decodes run at once.
 */
import sharp from 'sharp';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeImage } from '../src/image/probe.js';
import { photoPixels } from '../src/demo/synth.js';
import { sha256Hex } from '../src/util/hash.js';

const COUNT = Number(process.argv[2] ?? 1000);
const LEVELS = (process.argv[3] ?? '1,2,4,8').split(',').map(Number);
const DIR = join(tmpdir(), 'imgsift-bench-probe');
const W = 1024;
const H = 768;
const BASES = 16;

/**
 * Rendering a photo-like scene costs ~0.6 s, so 16 larger scenes are rendered and every image is a
 * different 1024x768 window of one of them, hue-shifted and sometimes mirrored: distinct content
 * with photo statistics, at ~15 ms an image.
 */
async function ensureImages(): Promise<string[]> {
  await mkdir(DIR, { recursive: true });
  const have = new Set((await readdir(DIR)).filter((n) => n.endsWith('.jpg')));
  const names = Array.from({ length: COUNT }, (_, i) => `img-${String(i).padStart(5, '0')}.jpg`);
  const missing = names.filter((n) => !have.has(n));
  if (missing.length > 0) {
    const t0 = performance.now();
    process.stderr.write(`generating ${missing.length} images into ${DIR} ...\n`);
    const bases = [];
    for (let s = 0; s < BASES; s++) bases.push(await photoPixels({ seed: 1000 + s, width: W + 96, height: H + 72 }));
    for (const name of missing) {
      const i = Number(name.slice(4, 9));
      const b = bases[i % BASES];
      let img = sharp(b.data, { raw: { width: b.width, height: b.height, channels: 3 } })
        .extract({ left: (i * 7) % 96, top: (i * 13) % 72, width: W, height: H })
        .modulate({ hue: (i * 37) % 360, brightness: 0.9 + ((i * 11) % 20) / 100 });
      if (i % 2) img = img.flop();
      await writeFile(join(DIR, name), await img.jpeg({ quality: 85 }).toBuffer());
    }
    process.stderr.write(`generated in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  return names.map((n) => join(DIR, n));
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function timed(label: string, n: number, fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(44)} ${(n / (ms / 1000)).toFixed(1).padStart(8)} images/s   ${(ms / n).toFixed(2).padStart(7)} ms/image`);
  return ms / n;
}

async function main(): Promise<void> {
  const paths = await ensureImages();
  const files = await Promise.all(paths.map((p) => readFile(p)));
  const mb = files.reduce((s, b) => s + b.length, 0) / 1e6;
  console.log(`${files.length} JPEGs ${W}x${H}, ${mb.toFixed(1)} MB; ${availableParallelism()} CPUs, ` +
    `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}, sharp.concurrency()=${sharp.concurrency()}, ` +
    `sharp ${sharp.versions.sharp} / libvips ${sharp.versions.vips}`);

  // Warm up (code paths, libvips caches of operations).
  for (const b of files.slice(0, 20)) await probeImage(b, 'x.jpg');
  let bad = 0;
  for (const b of files.slice(0, 50)) if (!(await probeImage(b, 'x.jpg')).decodes) bad++;
  if (bad) throw new Error(`${bad} generated images do not decode`);

  console.log('\nprobeImage (header + sha256 + full decode):');
  for (const n of LEVELS) {
    await timed(n === 1 ? 'sequential' : `${n} concurrent calls`, files.length, () =>
      mapLimit(files, n, (b) => probeImage(b, 'x.jpg')));
  }

  console.log('\nparts of one probe, sequential:');
  await timed('sha256 of the bytes', files.length, async () => {
    for (const b of files) sha256Hex(b);
  });
  await timed('header only (sharp metadata)', files.length, async () => {
    for (const b of files) await sharp(b, { limitInputPixels: false }).metadata();
  });

  // Decode strategies considered (a subset, sequential). Only the full-resolution ones catch
  // corrupt entropy-coded data; shrink-on-load is faster but blind to it.
  const sub = files.slice(0, Math.min(300, files.length));
  console.log(`\ndecode strategies, sequential, ${sub.length} images:`);
  await timed('chosen: extract + resize to 32px (full res)', sub.length, async () => {
    for (const b of sub) {
      await sharp(b, { failOn: 'warning' }).extract({ left: 0, top: 0, width: W, height: H })
        .resize(32, 32, { fit: 'inside', kernel: 'linear' }).raw().toBuffer();
    }
  });
  await timed('full raw RGB buffer', sub.length, async () => {
    for (const b of sub) await sharp(b, { failOn: 'warning' }).raw().toBuffer();
  });
  await timed('stats() (full res, heavy)', sub.length, async () => {
    for (const b of sub) await sharp(b, { failOn: 'warning' }).stats();
  });
  await timed('shrink-on-load resize (misses corruption)', sub.length, async () => {
    for (const b of sub) await sharp(b, { failOn: 'warning' }).resize(32, 32, { fit: 'inside' }).raw().toBuffer();
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
