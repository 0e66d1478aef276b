/**
 * The whole `dedup` step at scale, from a real catalog: a workdir's DuckDB filled (appender) with
 * N images' samples, files, file sha256 and dedup_signals results as the hash and dedup_signals
 * steps leave them (plain, mirror and centre pHash/dHash, 13 extra-view pHashes, sizes, pixel
 * sha256); 1% are near copies of a random original (1..6 pHash bits, 0..6 dHash bits off, one
 * pixel narrower). Then the step itself runs (load, match, write dup_clusters and issues) in a
 * child process, and every planted copy must come out in its original's cluster.
 *
 *   node --import tsx bench/dedup-step.ts --n 1000000 [--radius 6] [--extra-radius -1]
 *        [--workdir DIR] [--heap-mb MB] [--timeout-s 7200]
 *
 * geometric: false (the files do not exist; a borderline pair would only cost a failed read).
 *
 * --radius sets phash_threshold and candidate_radius together (omit it: the step's defaults, 6 and
 * 10); --extra-radius the extra-view search (default: the step's 12; -1 off). The catalog is kept
 * in DIR (default /tmp/imgsift-dedup-step-N) and reused by later runs with the same N; filling it
 * is timed apart. --heap-mb raises the V8 heap limit of the fill and step processes (default: Node's
 * own, as the CLI runs; the step's tables are typed arrays outside that heap). Prints wall, CPU
 * (user+sys) and peak RSS (maxRSS, DuckDB's memory included) of the step's process, and the load
 * average, since the machine is shared.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Catalog } from '../src/catalog/catalog.js';
import { useRun } from '../src/catalog/run-view.js';
import { Reporter } from '../src/exec/reporter.js';
import { EXTRA_VIEWS } from '../src/image/variants.js';
import type { DedupSignalsResult } from '../src/steps/dedup-signals.js';
import { DedupParamsSchema, dedupStep } from '../src/steps/dedup.js';
import { writeSignalCatalog, type SignalRow } from '../test/helpers/signal-catalog.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const hex8 = (x: number) => (x >>> 0).toString(16).padStart(8, '0');

/** A stateless 32-bit hash (splitmix-like), so any image's codes can be made again from its index. */
function mix(x: number): number {
  x = Math.imul((x ^ (x >>> 16)) >>> 0, 0x7feb352d);
  x = Math.imul((x ^ (x >>> 15)) >>> 0, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}
const word = (i: number, slot: number) => mix(mix(i) ^ Math.imul(slot + 1, 0x9e3779b9));
const code = (i: number, slot: number) => hex8(word(i, 2 * slot)) + hex8(word(i, 2 * slot + 1));

/** Flip `bits` distinct bits of a code, chosen from `seed`. */
function flip(hex: string, bits: number, seed: number): string {
  let hi = parseInt(hex.slice(0, 8), 16);
  let lo = parseInt(hex.slice(8), 16);
  const used = new Set<number>();
  for (let k = 0; used.size < bits; k++) {
    const b = mix(seed + k) % 64;
    if (used.has(b)) continue;
    used.add(b);
    if (b < 32) hi ^= 1 << b;
    else lo ^= 1 << (b - 32);
  }
  return hex8(hi) + hex8(lo);
}

const originalsOf = (n: number) => Math.floor(n * 0.99);
/** The original image i copies (i past the originals). */
const originalOf = (i: number, n: number) => word(i, 99) % originalsOf(n);

function original(i: number): DedupSignalsResult {
  const w = word(i, 90);
  return {
    width: 640 + (w % 640), height: 480 + ((w >>> 10) % 480), bytes: 50_000 + (word(i, 91) % 200_000),
    pixel_sha256: code(i, 80) + code(i, 81) + code(i, 82) + code(i, 83), phash: code(i, 0),
    variants: {
      plain: { phash: code(i, 0), dhash: code(i, 1) }, mirror: { phash: code(i, 2), dhash: code(i, 3) },
      centre: { phash: code(i, 4), dhash: code(i, 5) },
    },
    extra: EXTRA_VIEWS.map((_, k) => code(i, 10 + k)),
  };
}

function signalsOf(i: number, n: number): DedupSignalsResult {
  if (i < originalsOf(n)) return original(i);
  const s = original(originalOf(i, n));
  const p = 1 + (i % 6);
  const d = i % 7;
  const v = (x: { phash: string; dhash: string }, k: number) => ({ phash: flip(x.phash, p, i * 8 + k), dhash: flip(x.dhash, d, i * 8 + k + 4) });
  return {
    ...s, width: s.width - 1, pixel_sha256: code(i, 80) + code(i, 81) + code(i, 82) + code(i, 83), phash: null,
    variants: { plain: v(s.variants.plain, 0), mirror: v(s.variants.mirror, 1), centre: v(s.variants.centre!, 2) },
    extra: s.extra!.map((e, k) => flip(e, 2, i * 32 + k)),
  };
}

function* rows(n: number): Generator<SignalRow> {
  for (let i = 0; i < n; i++) {
    yield {
      id: `s${i}`, path: `img/${String(i % 1000).padStart(3, '0')}/${String(i).padStart(9, '0')}.jpg`, ord: i, split: null,
      sha256: code(i, 84) + code(i, 85) + code(i, 86) + code(i, 87), signals: signalsOf(i, n),
    };
  }
}

const cpuS = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;

async function fill(workdir: string, n: number): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const catalog = await Catalog.open(workdir, { memoryLimit: '6GB' });
  try {
    await writeSignalCatalog(catalog, rows(n), { distinctContent: true });
    await catalog.run('CHECKPOINT');
  } finally {
    catalog.close();
  }
  process.stdout.write(JSON.stringify({ fill_s: (performance.now() - t0) / 1000, fill_cpu_s: cpuS(process.cpuUsage(c0)), max_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
}

async function runStep(workdir: string, n: number, params: Record<string, unknown>): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const catalog = await Catalog.open(workdir);
  let stats: Record<string, unknown>;
  try {
    await useRun(catalog, 1);
    stats = await dedupStep.run({ catalog, runId: 1, workdir, baseDir: workdir, reporter: new Reporter({ mode: 'quiet' }) }, DedupParamsSchema.parse(params));
  } finally {
    catalog.close();
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuS(process.cpuUsage(c0));
  const rss = Math.round(process.resourceUsage().maxRSS / 1024);
  // Every planted copy sits in its original's cluster (read back outside the timed part).
  const check = await Catalog.open(workdir, { readOnly: true });
  const clusterOf = new Map<string, number>();
  try {
    for (const r of await check.all<{ sample_id: string; cluster: number }>(`SELECT sample_id, cluster FROM dup_clusters WHERE run_id = 1`)) clusterOf.set(r.sample_id, r.cluster);
  } finally {
    check.close();
  }
  let missed = 0;
  for (let i = originalsOf(n); i < n; i++) {
    const c = clusterOf.get(`s${i}`);
    if (c === undefined || c !== clusterOf.get(`s${originalOf(i, n)}`)) missed++;
  }
  process.stdout.write(JSON.stringify({ step_s: wall, cpu_s: cpu, max_rss_mb: rss, planted: n - originalsOf(n), missed, stats }) + '\n');
}

function spawnChild(args: string[], heapMb: number | undefined, timeoutS: number): Record<string, unknown> {
  const self = fileURLToPath(import.meta.url);
  const heap = heapMb === undefined ? [] : [`--max-old-space-size=${heapMb}`];
  const r = spawnSync(process.execPath, [...heap, '--import', 'tsx', self, ...args], {
    encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 1 << 24,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) {
    const why = r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? `timed out after ${timeoutS} s`
      : `exit ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(-5).join(' | ')}`;
    throw new Error(`${args[0]} failed: ${why}`);
  }
  return JSON.parse(line) as Record<string, unknown>;
}

async function main(): Promise<void> {
  const n = Number(arg('--n') ?? 1_000_000);
  const workdir = arg('--workdir') ?? `/tmp/imgsift-dedup-step-${n}`;
  // Borderline pairs are not looked at: the files are not there (and reading images is not what this measures).
  const params: Record<string, unknown> = { geometric: false };
  if (arg('--radius') !== undefined) params.phash_threshold = params.candidate_radius = Number(arg('--radius'));
  if (arg('--extra-radius') !== undefined) params.extra_radius = Number(arg('--extra-radius'));
  const heapMb = arg('--heap-mb') === undefined ? undefined : Number(arg('--heap-mb'));
  const timeoutS = Number(arg('--timeout-s') ?? 7200);
  const file = `${workdir}/catalog.duckdb`;
  if (!existsSync(`${workdir}/filled`)) {
    if (existsSync(file)) throw new Error(`${file} exists but was not filled to the end: remove ${workdir}`);
    const f = spawnChild(['--fill', workdir, String(n)], heapMb, timeoutS);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(`${workdir}/filled`, JSON.stringify(f));
    console.log(`filled ${n} images in ${(f.fill_s as number).toFixed(0)} s (CPU ${(f.fill_cpu_s as number).toFixed(0)} s, peak RSS ${f.max_rss_mb} MB), catalog ${(statSync(file).size / 2 ** 30).toFixed(2)} GB`);
  } else {
    console.log(`reusing ${file} (${(statSync(file).size / 2 ** 30).toFixed(2)} GB)`);
  }
  console.log(`dedup step, params ${JSON.stringify(params)}, load average before ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const r = spawnChild(['--step', workdir, String(n), JSON.stringify(params)], heapMb, timeoutS);
  console.log(
    `images ${n}: step ${(r.step_s as number).toFixed(1)} s wall, ${(r.cpu_s as number).toFixed(1)} CPU-s, peak RSS ${r.max_rss_mb} MB; ` +
      `planted ${r.planted}, missed ${r.missed}; load average after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  );
  console.log(`step stats ${JSON.stringify(r.stats)}`);
}

const fillAt = process.argv.indexOf('--fill');
const stepAt = process.argv.indexOf('--step');
if (fillAt >= 0) await fill(process.argv[fillAt + 1], Number(process.argv[fillAt + 2]));
else if (stepAt >= 0) await runStep(process.argv[stepAt + 1], Number(process.argv[stepAt + 2]), JSON.parse(process.argv[stepAt + 3]) as Record<string, unknown>);
else await main();
