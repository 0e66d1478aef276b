/**
 * Hash throughput: imgsift's four perceptual hashes vs Python imagehash, on the same 1024px JPEGs.
 *
 *   node --import tsx bench/hash.ts [--n 300] [--imagehash PATH/imagehash/__init__.py]
 *   (or IMAGEHASH_PY=PATH). Without a path, test/fixtures/imagehash_ref.py's own implementation of
 *   the same calls stands in for imagehash, and the table says so.
 *
 * Figures are per core: images / CPU-seconds of one sequential process (libvips limited to one
 * thread), so they hold on a busy machine; wall-clock figures are printed beside them.
 * The djpeg row (`djpeg -scale 1/8 -grayscale`, libjpeg-turbo-progs) is the decode limit: the
 * cheapest possible look at each file.
 *
 * Then whole processes, start-up and imports included (CPU from GNU time, median of --runs,
 * interleaved): `imgsift hash --json FILES` (the built dist/; default output, and --pixel) against
 * the Python script printing the same four hashes per file with imagehash.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { photoJpeg } from '../src/demo/synth.js';
import { computeHashes, hammingHex, HASH_ALGOS, type HashOptions } from '../src/image/hashes.js';

const PY = '/usr/bin/python3';
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../bin/imgsift.js');
const GNU_TIME = '/usr/bin/time';
const REF = resolve(dirname(fileURLToPath(import.meta.url)), '../test/fixtures/imagehash_ref.py');

interface Row {
  name: string;
  images: number;
  wall: number;
  cpu: number;
  note?: string;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function makeImages(n: number): Promise<string[]> {
  const dir = join(tmpdir(), 'imgsift-bench-hash');
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (let i = 0; i < n; i++) {
    // 1024 px on the long side, both orientations.
    const [w, h] = i % 4 === 3 ? [768, 1024] : [1024, 768];
    const f = join(dir, `photo-${String(i).padStart(4, '0')}-${w}x${h}.jpg`);
    if (!existsSync(f)) writeFileSync(f, await photoJpeg({ seed: 1000 + i, width: w, height: h, quality: 90 }));
    files.push(f);
  }
  return files;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

async function benchImgsift(name: string, files: string[], opts: HashOptions): Promise<{ row: Row; hashes: Record<string, string>[] }> {
  const bytes = files.map((f) => readFileSync(f));
  for (const b of bytes.slice(0, 10)) await computeHashes(b, HASH_ALGOS, opts); // warm up the JIT
  const hashes: Record<string, string>[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of bytes) {
    const r = await computeHashes(b, HASH_ALGOS, opts);
    hashes.push({ phash: r.phash!, dhash: r.dhash!, ahash: r.ahash!, whash: r.whash! });
  }
  return { row: { name, images: files.length, wall: (performance.now() - t0) / 1000, cpu: cpuSeconds(cpu0) }, hashes };
}

function pythonHashes(files: string[], module?: string): Record<string, string>[] {
  const args = [REF, ...(module ? ['--module', module] : []), ...files];
  const res = spawnSync(PY, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (res.status !== 0) throw new Error(`python reference failed: ${res.stderr}`);
  return res.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

function benchPython(files: string[], module?: string): Row | string {
  const res = spawnSync(PY, [REF, '--bench', ...(module ? ['--module', module] : []), ...files], { encoding: 'utf8' });
  if (res.status !== 0) return `python imagehash skipped: ${res.stderr.trim() || `exit ${res.status}`} (apt-get install -y python3-pil python3-numpy python3-scipy python3-pywt)`;
  const out = JSON.parse(res.stdout.trim().split('\n').pop()!);
  return {
    name: module ? 'python imagehash' : 'python reference (NOT imagehash)',
    images: out.images,
    wall: out.seconds,
    cpu: out.cpu_seconds,
    note: module ? module : 'test/fixtures/imagehash_ref.py, same Pillow/SciPy/PyWavelets calls',
  };
}

function benchDjpeg(files: string[]): Row | string {
  // The shell's `times` reports its children's CPU time: the djpeg processes alone.
  const script = 'for f in "$@"; do djpeg -scale 1/8 -grayscale "$f" > /dev/null || exit 1; done; times';
  const t0 = performance.now();
  const res = spawnSync('sh', ['-c', script, 'sh', ...files], { encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  if (res.error || res.status !== 0) return `djpeg skipped: ${res.error?.message ?? res.stderr.trim()} (apt-get install -y libjpeg-turbo-progs)`;
  const lines = res.stdout.trim().split('\n');
  const child = lines[lines.length - 1].match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
  const cpu = child ? Number(child[1]) * 60 + Number(child[2]) + Number(child[3]) * 60 + Number(child[4]) : NaN;
  return { name: 'djpeg -scale 1/8 -grayscale', images: files.length, wall, cpu, note: 'decode limit, one process per file' };
}

function agreement(ours: Record<string, string>[], ref: Record<string, string>[]): string {
  return HASH_ALGOS.map((a) => {
    const d = ours.map((h, i) => hammingHex(h[a], ref[i][a])).sort((x, y) => x - y);
    const within4 = d.filter((x) => x <= 4).length / d.length;
    return `${a} median ${d[d.length >> 1]} max ${d[d.length - 1]} ≤4: ${(within4 * 100).toFixed(0)}%`;
  }).join('; ');
}

/** CPU (user + sys, all threads and children) and wall seconds of one process, from GNU time. */
function timedProcess(cmd: string, argv: string[]): { wall: number; cpu: number } {
  const t0 = performance.now();
  const r = spawnSync(GNU_TIME, ['-f', 'CPU %U %S', cmd, ...argv], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.slice(0, 3).join(' ')} …: exit ${r.status}\n${r.stderr.slice(-2000)}`);
  const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  return { wall, cpu: m ? Number(m[1]) + Number(m[2]) : NaN };
}

/** Whole-process rows: the CLI as a user runs it vs the Python script, `runs` times each, interleaved. */
function benchProcesses(files: string[], runs: number, module?: string): Row[] | string {
  if (!existsSync(GNU_TIME)) return 'whole-process rows skipped: no /usr/bin/time (apt-get install -y time)';
  if (!existsSync(resolve(dirname(BIN), '../dist/cli/main.js'))) return 'whole-process rows skipped: dist/ not built (npx tsc -p tsconfig.json)';
  const cases = [
    { name: 'imgsift hash --json (process)', cmd: process.execPath, argv: [BIN, 'hash', '--json', ...files] },
    { name: 'imgsift hash --json --pixel (process)', cmd: process.execPath, argv: [BIN, 'hash', '--json', '--pixel', ...files] },
    { name: `python ${module ? 'imagehash' : 'reference'} (process)`, cmd: PY, argv: [REF, ...(module ? ['--module', module] : []), ...files] },
  ];
  const samples = cases.map(() => [] as Array<{ wall: number; cpu: number }>);
  for (let r = 0; r < runs; r++) cases.forEach((c, i) => samples[i].push(timedProcess(c.cmd, c.argv)));
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  return cases.map((c, i) => ({
    name: c.name,
    images: files.length,
    wall: median(samples[i].map((s) => s.wall)),
    cpu: median(samples[i].map((s) => s.cpu)),
    note: `median of ${runs}, start-up included`,
  }));
}

async function main(): Promise<void> {
  const n = Number(argValue('--n') ?? 300);
  const module = argValue('--imagehash') ?? process.env.IMAGEHASH_PY;
  if (module && !existsSync(module)) throw new Error(`--imagehash: no such file '${module}'`);
  sharp.concurrency(1);
  const files = await makeImages(n);
  console.log(`${n} JPEGs (1024 px, q90) in ${dirname(files[0])}`);
  if (!module) console.log('NOTE: no --imagehash PATH / IMAGEHASH_PY given: the Python figure is the reference script, not the imagehash library.');

  const rows: Row[] = [];
  const skipped: string[] = [];
  const ours = [
    await benchImgsift('imgsift default (reduced to 128)', files, { pixel: false }),
    await benchImgsift('imgsift default + pixel_sha256', files, { pixel: true }),
    await benchImgsift('imgsift reduced to 256', files, { pixel: false, reducedMinSide: 256 }),
    await benchImgsift('imgsift exact (full decode)', files.slice(0, Math.min(n, 60)), { pixel: false, reducedMinSide: 0 }),
  ];
  rows.push(...ours.map((o) => o.row));
  const py = benchPython(files, module);
  if (typeof py === 'string') skipped.push(py); else rows.push(py);
  const dj = benchDjpeg(files);
  if (typeof dj === 'string') skipped.push(dj); else rows.push(dj);
  const procs = benchProcesses(files.slice(0, Math.min(n, 200)), Number(argValue('--runs') ?? 3), module);
  if (typeof procs === 'string') skipped.push(procs);

  const base = typeof py === 'string' ? undefined : py.images / py.cpu;
  const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log('\n' + ['implementation'.padEnd(36), 'images', 'wall s', 'cpu s', 'img/s/core', 'vs python', 'note'].join('  '));
  for (const r of rows) {
    const perCore = r.images / r.cpu;
    console.log([
      r.name.padEnd(36), String(r.images).padStart(6), fmt(r.wall, 2).padStart(6), fmt(r.cpu, 2).padStart(5),
      fmt(perCore).padStart(10), (base ? fmt(perCore / base, 2) + 'x' : '-').padStart(9), r.note ?? '',
    ].join('  '));
  }
  if (typeof procs !== 'string') {
    // Each process row against the Python process on the same files.
    const pyProc = procs[procs.length - 1];
    const procBase = pyProc.images / pyProc.cpu;
    console.log('');
    for (const r of procs) {
      const perCore = r.images / r.cpu;
      console.log([
        r.name.padEnd(36), String(r.images).padStart(6), fmt(r.wall, 2).padStart(6), fmt(r.cpu, 2).padStart(5),
        fmt(perCore).padStart(10), (fmt(perCore / procBase, 2) + 'x').padStart(9), r.note ?? '',
      ].join('  '));
    }
  }
  for (const s of skipped) console.log(s);

  if (typeof py !== 'string') {
    const m = Math.min(n, 60);
    const ref = pythonHashes(files.slice(0, m), module);
    console.log(`\nagreement with ${module ? 'imagehash' : 'the reference'} on ${m} files (Hamming bits):`);
    for (const o of ours) console.log(`  ${o.row.name}: ${agreement(o.hashes.slice(0, m), ref)}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
