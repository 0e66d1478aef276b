/**
 * Near-duplicate radius search at scale: N random 64-bit codes plus K planted near copies (each a
 * copy of a random code with 1..R bits flipped, every distance 1..R equally often), then all pairs
 * within R with HammingIndex.pairsWithin. Checks that every planted pair is found and that every
 * pair reported is truly within R; prints build and search time and peak memory.
 *
 *   node --import tsx bench/near-dup.ts [--n 1000000] [--planted 10000] [--radius 10] [--seed 1] [--blocks 4|3]
 *
 * --blocks forces the index's layout (default: the one its cost estimate picks).
 *
 * Peak memory is process.resourceUsage().maxRSS, i.e. the whole process; wall-clock times are
 * printed beside the process CPU time, since a shared machine stretches the former.
 */
import { HammingIndex, hamming64, type BlockCount } from '../src/index/hamming.js';
import { uint32Rng } from '../src/util/random.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}


const n = arg('--n', 1_000_000);
const planted = arg('--planted', 10_000);
const radius = arg('--radius', 10);
const rand = uint32Rng(arg('--seed', 1));
const blocks = process.argv.includes('--blocks') ? (arg('--blocks', 4) as BlockCount) : undefined;

const total = n + planted;
const hi = new Uint32Array(total);
const lo = new Uint32Array(total);
for (let i = 0; i < n; i++) {
  hi[i] = rand();
  lo[i] = rand();
}
// Copy k of original `orig[k]` sits at n + k, `flips[k]` bits away.
const orig = new Uint32Array(planted);
for (let k = 0; k < planted; k++) {
  const o = rand() % n;
  orig[k] = o;
  const flips = 1 + (k % radius);
  let h = hi[o];
  let l = lo[o];
  const used = new Set<number>();
  while (used.size < flips) {
    const bit = rand() % 64;
    if (used.has(bit)) continue;
    used.add(bit);
    if (bit < 32) h ^= 1 << bit;
    else l ^= 1 << (bit - 32);
  }
  hi[n + k] = h >>> 0;
  lo[n + k] = l >>> 0;
}

const t0 = performance.now();
const index = new HammingIndex({ hi, lo });
const pairs = index.pairsWithin(radius, { blocks });
const t2 = performance.now();

// Verify: every reported pair within the radius, reported once; every planted pair present.
const seen = new Set<bigint>();
let wrong = 0;
for (let k = 0; k < pairs.count; k++) {
  const a = pairs.a[k];
  const b = pairs.b[k];
  const d = hamming64(hi[a], lo[a], hi[b], lo[b]);
  if (d > radius || d !== pairs.distance[k] || a >= b) wrong++;
  const key = (BigInt(a) << 32n) | BigInt(b);
  if (seen.has(key)) wrong++;
  seen.add(key);
}
let missing = 0;
for (let k = 0; k < planted; k++) {
  const a = Math.min(orig[k], n + k);
  const b = Math.max(orig[k], n + k);
  if (!seen.has((BigInt(a) << 32n) | BigInt(b))) missing++;
}

const usage = process.resourceUsage();
const maxRssMb = usage.maxRSS / 1024;
const out = {
  codes: total,
  planted,
  radius,
  blocks: blocks ?? 'auto',
  // The index builds its block tables on the first search, for the layout that search uses.
  search_s: +((t2 - t0) / 1000).toFixed(2),
  // CPU seconds of the whole process (generation and checks included): the figure that holds on a shared machine.
  process_cpu_s: +((usage.userCPUTime + usage.systemCPUTime) / 1e6).toFixed(2),
  pairs_found: pairs.count,
  planted_missing: missing,
  wrong_or_repeated: wrong,
  peak_rss_mb: Math.round(maxRssMb),
};
console.log(JSON.stringify(out, null, 2));
const ok = missing === 0 && wrong === 0;
console.log(ok ? 'OK: every planted pair found, every reported pair within the radius' : 'FAILED');
process.exitCode = ok ? 0 : 1;
