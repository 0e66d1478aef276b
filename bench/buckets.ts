/**
 * Bucket step throughput on one core: header probe + sd-scripts bucket + Lanczos resize + centre crop
 * + encode (the `bucket` step's run()), against a plain sharp loop (resize to cover the same bucket,
 * encode) in the same process, on `count` photo-like 2048x1536 JPEGs (the PNG rows on the first
 * fifth: PNG encoding dominates and says little about bucketing). libvips is held to one thread and
 * images go one at a time, so img/CPU-s is per core; wall img/s also depends on the machine's load.
 *
 *   node --import tsx bench/buckets.ts [count=500]
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import sharp from 'sharp';
import { bucketStep, BucketParams } from '../src/steps/bucket.js';
import { Bucketer } from '../src/image/buckets.js';
import { probeImage } from '../src/image/probe.js';
import { sha256Hex } from '../src/util/hash.js';
import { benchJpegs } from './lib/images.js';

const COUNT = Number(process.argv[2] ?? 500);

async function timed(label: string, files: Buffer[], one: (b: Buffer, i: number) => Promise<number>): Promise<string> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < files.length; i++) bytes += await one(files[i], i);
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(cpu0);
  const cpu = (c.user + c.system) / 1e6;
  return `${label.padEnd(44)} ${(files.length / wall).toFixed(1).padStart(7)} img/s  ${(files.length / cpu).toFixed(1).padStart(7)} img/CPU-s  ` +
    `(${wall.toFixed(1)} s wall, ${cpu.toFixed(1)} s CPU, ${(bytes / files.length / 1024).toFixed(0)} KiB out/img)`;
}

async function main(): Promise<void> {
  sharp.concurrency(1);
  sharp.cache(false);
  const paths = await benchJpegs('buckets', COUNT, 2048, 1536);
  const files = await Promise.all(paths.map((p) => readFile(p)));
  console.log(`buckets: ${COUNT} JPEGs 2048x1536 (quality 85); libvips threads 1; load average ${loadavg()[0].toFixed(1)}`);
  const input = (b: Buffer, i: number) => ({ id: String(i), uri: paths[i], name: paths[i], bytes: b, sha256: '', upstream: {}, roles: {}, fields: {} });
  const rows: string[] = [];
  for (const format of ['jpg', 'png'] as const) {
    const set = format === 'png' ? files.slice(0, Math.ceil(files.length / 5)) : files;
    const params = BucketParams.parse({ resolution: 1024, max_bucket_reso: 2048, format, quality: 95 });
    const bucket = new Bucketer({ resolution: [1024, 1024], enable_bucket: true, min_bucket_reso: 256, max_bucket_reso: 2048, bucket_reso_steps: 64, bucket_no_upscale: false });
    const [bw, bh] = bucket.select(2048, 1536).bucket;
    rows.push(await timed(`plain sharp resize cover ${bw}x${bh} + ${format} (${set.length})`, set, async (b) => {
      const img = sharp(b).resize(bw, bh, { fit: 'cover', kernel: 'lanczos3' });
      return (await (format === 'jpg' ? img.jpeg({ quality: 95 }) : img.png()).toBuffer()).length;
    }));
    rows.push(await timed(`bucket step run() -> ${format} (${set.length})`, set, async (b, i) => {
      const out = await bucketStep.run(input(b, i), params);
      return out.files![0].bytes.length;
    }));
    console.log(rows.slice(-2).join('\n'));
  }
  // What the full-decode probe step adds in front (it decodes every pixel to prove the file is whole).
  rows.push(await timed(`probe step (full decode) + sha256 (${files.length})`, files, async (b) => {
    sha256Hex(b);
    await probeImage(b, 'x.jpg');
    return 0;
  }));
  console.log(rows[rows.length - 1]);
}

await main();
