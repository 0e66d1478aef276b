/**
 * How far the single-process dedup goes: the dedup step's own clustering (clusterDuplicates, the
 * code the `dedup` reduce step runs once the signals are loaded) over N images' signals held in
 * memory: a pHash and dHash of the image and of its mirror (64-bit codes as 16 hex digits), the
 * file and pixel sha256, sizes. 1% of the images are planted near copies (1..phash_threshold
 * bits from an original), and every one must come out in its original's cluster.
 *
 *   node --import tsx bench/dedup-scale.ts [--sizes 1000000,2000000,5000000,10000000]
 *        [--heap-mb 12288] [--timeout-s 1800] [--radius 6] [--extra]
 *
 * Each size runs in its own process (heap limit --heap-mb), smallest first, and the ladder stops
 * at the first size that fails, saying how (heap exhausted, timeout, error). Peak memory is the
 * child's maxRSS; CPU time is given beside wall time, since the machine is shared.
 * --radius sets phash_threshold and candidate_radius together (the step's defaults are 6 and
 * 10; radius 10 on random codes is already ~3e9 pair tests at 1M codes, see bench/near-dup.ts).
 * --extra adds the 13 extra views' pHashes per image and the extra-view search at radius 12.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { clusterDuplicates, DEFAULT_THRESHOLDS, type MatchItem } from '../src/steps/dedup-match.js';
import type { DedupSignalsResult } from '../src/steps/dedup-signals.js';
import { EXTRA_VIEWS } from '../src/image/variants.js';
import { uint32Rng } from '../src/util/random.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const radius = Number(arg('--radius') ?? 6);
const extra = process.argv.includes('--extra');

const hex8 = (x: number) => (x >>> 0).toString(16).padStart(8, '0');

/** Flip `bits` distinct random bits of a 16-hex-digit code. */
function flip(code: string, bits: number, rand: () => number): string {
  let hi = parseInt(code.slice(0, 8), 16);
  let lo = parseInt(code.slice(8), 16);
  const used = new Set<number>();
  while (used.size < bits) {
    const b = rand() % 64;
    if (used.has(b)) continue;
    used.add(b);
    if (b < 32) hi ^= 1 << b;
    else lo ^= 1 << (b - 32);
  }
  return hex8(hi) + hex8(lo);
}

/** N images' signals: 99% random, 1% near copies of a random original. Returns the planted pairs. */
function makeItems(n: number): { items: MatchItem[]; planted: Array<[number, number]> } {
  const rand = uint32Rng(7);
  const code = () => hex8(rand()) + hex8(rand());
  const items: MatchItem[] = new Array(n);
  const planted: Array<[number, number]> = [];
  const originals = Math.floor(n * 0.99);
  for (let i = 0; i < n; i++) {
    let signals: DedupSignalsResult;
    if (i < originals) {
      signals = {
        width: 640 + (rand() % 640), height: 480 + (rand() % 480), bytes: 50_000 + (rand() % 200_000),
        pixel_sha256: hex8(i) + code() + code() + code() + hex8(rand()) + hex8(rand()) + hex8(rand()),
        phash: null,
        variants: { plain: { phash: code(), dhash: code() }, mirror: { phash: code(), dhash: code() } },
        ...(extra ? { extra: EXTRA_VIEWS.map(code) } : {}),
      };
    } else {
      // A recompressed copy: different bytes and pixels, hashes a few bits off, smaller.
      const o = rand() % originals;
      const s = items[o].signals;
      const bits = 1 + (i % radius);
      signals = {
        ...s, width: s.width - 1, pixel_sha256: hex8(i) + code() + code() + code() + hex8(rand()) + hex8(rand()) + hex8(rand()),
        variants: {
          plain: { phash: flip(s.variants.plain.phash, bits, rand), dhash: flip(s.variants.plain.dhash, bits, rand) },
          mirror: { phash: flip(s.variants.mirror.phash, bits, rand), dhash: flip(s.variants.mirror.dhash, bits, rand) },
        },
      };
      planted.push([o, i]);
    }
    items[i] = { id: `s${i}`, path: `img/${String(i).padStart(9, '0')}.jpg`, ord: i, sha256: code() + code() + code() + code(), signals };
  }
  return { items, planted };
}

async function child(n: number): Promise<void> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const { items, planted } = makeItems(n);
  const t1 = performance.now();
  const { clusters, stats } = await clusterDuplicates(items, {
    keep: 'largest',
    thresholds: { ...DEFAULT_THRESHOLDS, phashThreshold: radius, candidateRadius: radius, extraRadius: extra ? 12 : -1 },
  });
  const t2 = performance.now();
  const c1 = process.cpuUsage(c0);
  // Every planted copy sits in its original's cluster (or the two share one, with either kept).
  const clusterOf = new Int32Array(n).fill(-1);
  for (const c of clusters) {
    clusterOf[c.keep] = c.id;
    for (const m of c.members) clusterOf[m.index] = c.id;
  }
  const missed = planted.filter(([o, i]) => clusterOf[o] < 0 || clusterOf[o] !== clusterOf[i]).length;
  process.stdout.write(JSON.stringify({
    n, make_s: (t1 - t0) / 1000, dedup_s: (t2 - t1) / 1000, cpu_s: (c1.user + c1.system) / 1e6,
    clusters: clusters.length, candidate_pairs: stats.candidatePairs, planted: planted.length, missed,
    max_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  }) + '\n');
}

function parent(): void {
  const sizes = (arg('--sizes') ?? '1000000,2000000,5000000,10000000').split(',').map(Number);
  const heapMb = Number(arg('--heap-mb') ?? 12288);
  const timeoutS = Number(arg('--timeout-s') ?? 1800);
  const self = fileURLToPath(import.meta.url);
  console.log(`dedup clustering (clusterDuplicates), plain + mirror pHash/dHash per image, radius ${radius}${extra ? ', extra views at 12' : ''}, heap limit ${heapMb} MB`);
  console.log('images      make s   dedup s   cpu s   peak RSS   clusters   candidate pairs   planted missed');
  for (const n of sizes) {
    const passthrough = ['--radius', String(radius), ...(extra ? ['--extra'] : [])];
    const r = spawnSync(process.execPath, [`--max-old-space-size=${heapMb}`, '--import', 'tsx', self, '--child', String(n), ...passthrough], {
      encoding: 'utf8', timeout: timeoutS * 1000, maxBuffer: 1 << 24,
    });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      const why = r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? `timed out after ${timeoutS} s`
        : /heap out of memory|Invalid array length|Array buffer allocation failed/i.test(r.stderr) ? `ran out of memory: ${(r.stderr.match(/.*(heap out of memory|Invalid array length|allocation failed).*/i) ?? [''])[0].trim()}`
        : `exit ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`;
      console.log(`${String(n).padStart(10)}  FAILED: ${why}`);
      break;
    }
    const f = JSON.parse(line) as Record<string, number>;
    console.log(
      `${String(n).padStart(10)} ${f.make_s.toFixed(1).padStart(8)} ${f.dedup_s.toFixed(1).padStart(9)} ${f.cpu_s.toFixed(1).padStart(7)} ` +
        `${(f.max_rss_mb + ' MB').padStart(10)} ${String(f.clusters).padStart(10)} ${String(f.candidate_pairs).padStart(17)} ${String(f.planted).padStart(9)} ${String(f.missed).padStart(6)}`,
    );
  }
}

const c = process.argv.indexOf('--child');
if (c >= 0) await child(Number(process.argv[c + 1]));
else parent();
