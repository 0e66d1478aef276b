/**
 * Download throughput: `imgsift download` (fetch, check, resize to 256, re-encode, store, record)
 * against `xargs -P` + `curl` fetching the same URLs to disk (no decode, no resize), in one run.
 *
 *   node --import tsx bench/download.ts [--n 20000] [--distinct 300] [--concurrency 32] [--parallel 16]
 *
 * The server runs in its own process and serves a few hundred distinct pre-encoded 1024x768 JPEGs
 * from memory under N URLs, so it is cheap and does not steal the downloader's event loop. The
 * downloader also runs in its own process; per-core figures are samples / CPU-seconds of that
 * process (user + system, all its threads: libvips and libuv included). curl's CPU is that of
 * xargs and all the curls, from bash's `times`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchJpegs } from './lib/images.js';

const SELF = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

if (args[0] === '--serve') await serve(args.slice(1));
else if (args[0] === '--client') await client(args[1], args[2], Number(args[3]));
else if (args[0] === '--calibrate') await calibrate(args.slice(1));
else await main();

/** Server process: every `/i/<k>.jpg` is image k mod the number of files given. */
async function serve(files: string[]): Promise<void> {
  const images = await Promise.all(files.map((f) => readFile(f)));
  const server = createServer((req, res) => {
    const k = Number(/^\/i\/(\d+)\.jpg$/.exec(req.url ?? '')?.[1] ?? NaN);
    if (!Number.isFinite(k)) {
      res.writeHead(404);
      res.end();
      return;
    }
    const body = images[k % images.length];
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}

/** Downloader process: one `downloadUrls` call, then its figures as JSON on stdout. */
async function client(manifest: string, out: string, concurrency: number): Promise<void> {
  const { downloadUrls } = await import('../src/download/index.js');
  const { Reporter } = await import('../src/exec/reporter.js');
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await downloadUrls(manifest, {
    out,
    params: { concurrency, per_host: concurrency, resize_mode: 'keep_ratio', image_size: 256, encode_quality: 90 },
    reporter: new Reporter({ mode: 'plain', interval: 10 }),
  });
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ wall, cpu: (c.user + c.system) / 1e6, samples: r.samples, bytes: r.bytesReceived, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

/** The image work alone (check + resize + encode, one at a time): the ceiling for the downloader. */
async function calibrate(files: string[]): Promise<void> {
  const { processImage } = await import('../src/download/resizer.js');
  const bodies = await Promise.all(files.map((f) => readFile(f)));
  const o = { mode: 'keep_ratio', size: 256, onlyIfBigger: false, downscale: 'area', upscale: 'lanczos', format: 'jpeg', quality: 90, skipReencode: false, maxPixels: 178_956_970, failOn: 'error' } as const;
  for (const b of bodies.slice(0, 10)) await processImage(b, o);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of bodies) await processImage(b, o);
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ n: bodies.length, wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 }) + '\n');
}

async function main(): Promise<void> {
  const n = flag('n', 20_000);
  const distinct = flag('distinct', 300);
  const concurrency = flag('concurrency', 32);
  const parallel = flag('parallel', 16);
  const files = await benchJpegs('download', distinct);
  const work = join(tmpdir(), `imgsift-bench-download-run-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });

  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', SELF, '--serve', ...files], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
      server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const urls = Array.from({ length: n }, (_, k) => `http://127.0.0.1:${port}/i/${k}.jpg`);
    const manifest = join(work, 'urls.txt');
    await writeFile(manifest, urls.join('\n') + '\n');
    const sizes = await Promise.all(files.map(async (f) => (await readFile(f)).length));
    const avgKb = sizes.reduce((a, b) => a + b, 0) / sizes.length / 1024;
    console.log(`${n} URLs over ${distinct} distinct 1024x768 JPEGs (avg ${avgKb.toFixed(0)} KB), server on 127.0.0.1:${port}`);

    // curl first (it also warms the server's sockets and page cache the same way for both).
    const curlDir = join(work, 'curl');
    await mkdir(curlDir);
    const t0 = performance.now();
    const curl = spawnSync('bash', ['-c', `xargs -P ${parallel} -n 100 curl -sS --fail --remote-name-all --output-dir ${curlDir} < ${manifest}; times`], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const curlWall = (performance.now() - t0) / 1000;
    const times = curl.stdout.trim().split('\n').pop()!.split(/\s+/).map(parseTimes);
    const curlCpu = times[0] + times[1];
    const curlFiles = (await readdir(curlDir)).length;

    const out = join(work, 'imgsift');
    const res = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--client', manifest, out, String(concurrency)], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26,
    });
    if (res.status !== 0) throw new Error(`downloader exited with ${res.status}`);
    const dl = JSON.parse(res.stdout.trim().split('\n').pop()!) as { wall: number; cpu: number; samples: Record<string, number>; bytes: number; maxRssMb: number };

    const cal = JSON.parse(spawnSync(process.execPath, ['--import', 'tsx', SELF, '--calibrate', ...files], { encoding: 'utf8' }).stdout.trim()) as { n: number; wall: number; cpu: number };

    const rows = [
      { name: 'resizer alone, sequential (check + resize 256 + encode; no HTTP, no storage)', ok: cal.n, wall: cal.wall, cpu: cal.cpu },
      { name: `imgsift download (resize 256, concurrency ${concurrency})`, ok: dl.samples.success, wall: dl.wall, cpu: dl.cpu },
      { name: `xargs -P ${parallel} curl (to disk, no resize)`, ok: curlFiles, wall: curlWall, cpu: curlCpu },
    ];
    console.log('\n| tool | samples ok | wall s | samples/s | CPU s | samples/s per core |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.name} | ${r.ok} | ${r.wall.toFixed(1)} | ${(r.ok / r.wall).toFixed(0)} | ${r.cpu.toFixed(1)} | ${(r.ok / r.cpu).toFixed(0)} |`);
    }
    console.log(`\nimgsift: ${JSON.stringify(dl.samples)}, ${(dl.bytes / 1e6).toFixed(0)} MB received, peak RSS ${dl.maxRssMb.toFixed(0)} MB; target >= 150 samples/s per core with resizing`);
  } finally {
    server.kill('SIGTERM');
    await rm(work, { recursive: true, force: true });
  }
}

/** bash `times` figures: `1m2.345s` → seconds. */
function parseTimes(s: string): number {
  const m = /^(\d+)m([\d.]+)s$/.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
}
