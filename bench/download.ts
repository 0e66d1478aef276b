/**
 * Download throughput: `imgsift download` (fetch, check, resize to 256, re-encode, store, record)
 * against img2dataset's resizer (OpenCV: bench/ref/img2dataset_resize.py, Debian python3-opencv)
 * on the same files, and against `xargs -P` + `curl` fetching the same URLs to disk (no decode,
 * no resize), in one run. Resizing uses img2dataset's defaults on both sides: resize_mode border,
 * image_size 256, area downscaling, JPEG quality 95.
 *
 *   node --import tsx bench/download.ts [--photos real|synthetic] [--n URLS] [--distinct 300] [--concurrency 32] [--parallel 16]
 *
 * Photos: `real` (the default when installed) are Debian's wallpapers and scikit-image's sample
 * photos (/usr/share/backgrounds, python3-skimage: 0.3 to 24 MP, baseline and progressive), N
 * defaults to 4 URLs per photo; `synthetic` are `distinct` generated 1024x768 JPEGs, N 20000.
 * The server runs in its own process and serves the files from memory under N URLs, so it is
 * cheap and does not steal the downloader's event loop. The
 * downloader also runs in its own process; per-core figures are samples / CPU-seconds of that
 * process (user + system, all its threads: libvips and libuv included). curl's CPU is that of
 * xargs and all the curls, from bash's `times`. A second row for imgsift leaves out its per-run
 * floor (catalog set-up and close, ingest, summary, status files), measured by a one-URL run in
 * the same process afterwards: with N URLs that floor is a visible share of the first row.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { benchJpegs } from './lib/images.js';

const PY = '/usr/bin/python3';
const OPENCV_REF = fileURLToPath(new URL('./ref/img2dataset_resize.py', import.meta.url));
/** img2dataset's defaults (its main.py), used for imgsift too. */
const RESIZE = { resize_mode: 'border', image_size: 256, encode_quality: 95 } as const;

/** Real photographs from Debian packages (JPEG files over 50 KB), sorted; [] when none are installed. */
function realPhotos(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.jpe?g$/i.test(e.name) && statSync(p).size > 50_000) out.push(p);
    }
  };
  walk('/usr/share/backgrounds');
  walk('/usr/lib/python3/dist-packages/skimage/data');
  return out.sort();
}

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
  (await import('../src/download/resizer.js')).libvipsForDownloads(); // as `imgsift download` does
  const { Reporter } = await import('../src/exec/reporter.js');
  // Warm-up: a download of the first 3 URLs into another folder loads every module (compiled by
  // tsx here, not by the built CLI) and the catalog engine, so the figure is throughput per
  // sample, as the baselines' (which also leave out their imports and warm up).
  const warm = `${out}-warmup`;
  const head = (await readFile(manifest, 'utf8')).split('\n').slice(0, 3).join('\n') + '\n';
  await writeFile(`${warm}.txt`, head);
  await downloadUrls(`${warm}.txt`, {
    out: warm,
    params: { concurrency, per_host: concurrency, ...RESIZE },
    reporter: new Reporter({ mode: 'quiet' }),
  });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await downloadUrls(manifest, {
    out,
    params: { concurrency, per_host: concurrency, ...RESIZE },
    reporter: new Reporter({ mode: 'plain', interval: 10 }),
  });
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  // The per-run floor: one URL into a fresh folder (catalog created, migrated, checkpointed and
  // closed; manifest ingested; summary, status files and drops written), now that code is warm.
  const one = `${out}-one`;
  await writeFile(`${one}.txt`, head.split('\n')[0] + '\n');
  const c1 = process.cpuUsage();
  await downloadUrls(`${one}.txt`, {
    out: one,
    params: { concurrency, per_host: concurrency, ...RESIZE },
    reporter: new Reporter({ mode: 'quiet' }),
  });
  const cpuOne = process.cpuUsage(c1);
  process.stdout.write(JSON.stringify({
    wall, cpu: (c.user + c.system) / 1e6, cpuOne: (cpuOne.user + cpuOne.system) / 1e6, samples: r.samples, bytes: r.bytesReceived,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }) + '\n');
}

/** The image work alone (check + resize + encode, one at a time): the ceiling for the downloader. */
async function calibrate(files: string[]): Promise<void> {
  const { processImage } = await import('../src/download/resizer.js');
  const bodies = await Promise.all(files.map((f) => readFile(f)));
  const o = { mode: RESIZE.resize_mode, size: RESIZE.image_size, onlyIfBigger: false, downscale: 'area', upscale: 'lanczos', format: 'jpeg', quality: RESIZE.encode_quality, skipReencode: false, maxPixels: 178_956_970, failOn: 'error' } as const;
  const { default: sharp } = await import('sharp');
  sharp.concurrency(1); // one thread, like the OpenCV baseline
  for (const b of bodies.slice(0, 3)) await processImage(b, o);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const repeat = bodies.length < 100 ? 2 : 1;
  for (let r = 0; r < repeat; r++) for (const b of bodies) await processImage(b, o);
  const c = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ n: bodies.length * repeat, wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 }) + '\n');
}

async function main(): Promise<void> {
  const photosArg = args[args.indexOf('--photos') + 1];
  const real = args.includes('--photos') ? photosArg === 'real' : realPhotos().length > 0;
  const files = real ? realPhotos() : await benchJpegs('download', flag('distinct', 300));
  if (files.length === 0) throw new Error('--photos real: no photos in /usr/share/backgrounds or skimage (apt-get install -y mate-backgrounds python3-skimage)');
  const distinct = files.length;
  const n = flag('n', real ? 4 * distinct : 20_000);
  const concurrency = flag('concurrency', 32);
  const parallel = flag('parallel', 16);
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
    console.log(`${n} URLs over ${distinct} distinct ${real ? 'real photos' : '1024x768 JPEGs'} (avg ${avgKb.toFixed(0)} KB), server on 127.0.0.1:${port}`);

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
    const dl = JSON.parse(res.stdout.trim().split('\n').pop()!) as { wall: number; cpu: number; cpuOne: number; samples: Record<string, number>; bytes: number; maxRssMb: number };

    const cal = JSON.parse(spawnSync(process.execPath, ['--import', 'tsx', SELF, '--calibrate', ...files], { encoding: 'utf8' }).stdout.trim()) as { n: number; wall: number; cpu: number };

    const cv = spawnSync(PY, [OPENCV_REF, '--repeat', String(distinct < 100 ? 2 : 1), ...files], { encoding: 'utf8' });
    if (cv.status !== 0) throw new Error(`OpenCV baseline failed: ${cv.stderr.trim()} (apt-get install -y python3-opencv python3-numpy)`);
    const ocv = JSON.parse(cv.stdout.trim().split('\n').pop()!) as { images: number; seconds: number; cpu_seconds: number };

    const rows = [
      { name: 'img2dataset resizer (OpenCV, 1 thread; no HTTP, no storage)', ok: ocv.images, wall: ocv.seconds, cpu: ocv.cpu_seconds },
      { name: 'imgsift resizer alone, sequential (check + resize 256 + encode; no HTTP, no storage)', ok: cal.n, wall: cal.wall, cpu: cal.cpu },
      { name: `imgsift download (resize 256, concurrency ${concurrency})`, ok: dl.samples.success, wall: dl.wall, cpu: dl.cpu },
      // The marginal cost of a sample: the run less a one-URL run (the per-run floor, which also
      // holds the first photo, so this slightly overstates the average sample). Wall is not comparable.
      { name: `imgsift download per extra sample ((CPU of ${n} URLs - CPU of a 1-URL run, ${dl.cpuOne.toFixed(2)} s) / ${n - 1}; wall: of the ${n})`, ok: dl.samples.success - 1, wall: dl.wall, cpu: dl.cpu - dl.cpuOne },
      { name: `xargs -P ${parallel} curl (to disk, no resize)`, ok: curlFiles, wall: curlWall, cpu: curlCpu },
    ];
    const base = ocv.images / ocv.cpu_seconds;
    console.log('\n| tool | samples ok | wall s | samples/s | CPU s | samples/s per core | per core vs OpenCV |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.name} | ${r.ok} | ${r.wall.toFixed(1)} | ${(r.ok / r.wall).toFixed(1)} | ${r.cpu.toFixed(1)} | ${(r.ok / r.cpu).toFixed(1)} | ${(r.ok / r.cpu / base).toFixed(2)}x |`);
    }
    console.log(`\nimgsift: ${JSON.stringify(dl.samples)}, ${(dl.bytes / 1e6).toFixed(0)} MB received, peak RSS ${dl.maxRssMb.toFixed(0)} MB; target: imgsift download >= 1.3x the OpenCV resizer per core`);
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
