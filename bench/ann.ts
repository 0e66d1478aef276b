/**
 * Vector ANN at scale, with VectorIndex (usearch HNSW, cosine):
 *  1. an index over N vectors (default 1,000,000 × 512) is built and saved: build time, CPU, memory;
 *  2. Q queries (default 1,000, fresh vectors) are searched at several ef_search values (the saved
 *     index reopened with each): ms/query and recall@10 against exact search (usearch's brute-force
 *     exactSearch over the same N vectors, chunk by chunk);
 *  3. the same on a 20,000-vector sample of the data (the first 20,000), where exact search is cheap.
 *
 * `--data random` (default) draws isotropic unit vectors: no neighbourhood structure, the known
 * worst case for graph indexes (every point is about as far as every other). `--data clustered`
 * draws each vector near one of 2,000 centres, the way embeddings of real images cluster by
 * content; recall there is what semantic dedup and outlier scores see.
 *
 *   node --import tsx bench/ann.ts [--n 1000000] [--dim 512] [--queries 1000] [--quant f16|i8|f32]
 *                                  [--connectivity 16] [--ef-add 128] [--ef-search 64,256,1024]
 *                                  [--data random|clustered] [--sample 20000]
 *
 * Vectors are generated in chunks and added chunk by chunk, so the float32 copy never has to hold
 * all N at once; peak memory is process.resourceUsage().maxRSS (whole process).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exactSearch, MetricKind, type BatchMatches } from 'usearch';
import { VectorIndex, type Quantization } from '../src/index/vector.js';
import { rng } from '../src/util/random.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const N = Number(arg('--n', '1000000'));
const D = Number(arg('--dim', '512'));
const Q = Number(arg('--queries', '1000'));
const SAMPLE = Math.min(N, Number(arg('--sample', '20000')));
const quant = arg('--quant', 'f16') as Quantization;
const connectivity = Number(arg('--connectivity', '16'));
const efAdd = Number(arg('--ef-add', '128'));
const efSearch = arg('--ef-search', '64,256,1024').split(',').map(Number);
const data = arg('--data', 'random');
if (data !== 'random' && data !== 'clustered') throw new Error(`--data must be random or clustered, got ${data}`);
const K = 10;
const CHUNK = 50_000;
const CENTRES = 2000;

/** Unit vector with coordinates ~ N(0, 1) (a sum of three uniforms is close enough). */
function gaussianInto(r: () => number, out: Float32Array, at: number, scale: number): void {
  for (let j = 0; j < D; j++) out[at + j] += (r() + r() + r() - 1.5) * 2 * scale;
}
function normalise(v: Float32Array, at: number): void {
  let s = 0;
  for (let j = 0; j < D; j++) s += v[at + j] * v[at + j];
  const inv = 1 / Math.sqrt(s);
  for (let j = 0; j < D; j++) v[at + j] *= inv;
}

const centres = new Float32Array(CENTRES * D);
if (data === 'clustered') {
  const r = rng(424242);
  for (let c = 0; c < CENTRES; c++) {
    gaussianInto(r, centres, c * D, 1);
    normalise(centres, c * D);
  }
}

/** Vectors [from, from + n) of the data set: seeded per chunk, so any chunk can be regenerated. */
function chunk(from: number, n: number): Float32Array {
  const r = rng(1 + from);
  const v = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    if (data === 'clustered') {
      // A centre plus noise at ~0.6 of its length: cosine ~0.85 to the centre, ~0.7 within a cluster.
      v.set(centres.subarray(((from + i) % CENTRES) * D, ((from + i) % CENTRES + 1) * D), i * D);
      gaussianInto(r, v, i * D, 0.6 / Math.sqrt(D));
    } else {
      gaussianInto(r, v, i * D, 1);
    }
    normalise(v, i * D);
  }
  return v;
}

const mb = (kib: number) => `${(kib / 1024).toFixed(0)} MB`; // maxRSS is in KiB
const rss = () => mb(process.resourceUsage().maxRSS);
const keys = (from: number, n: number) => Array.from({ length: n }, (_, i) => String(from + i));
const settings = (ef: number) => ({ dim: D, quantization: quant, connectivity, expansionAdd: efAdd, expansionSearch: ef });

/** Build an index over the first n vectors; returns it with wall and CPU seconds (generation excluded). */
async function build(n: number, log: boolean): Promise<{ index: VectorIndex; wall: number; cpu: number }> {
  const index = await VectorIndex.create(settings(efSearch[0]));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let genMs = 0;
  for (let from = 0; from < n; from += CHUNK) {
    const m = Math.min(CHUNK, n - from);
    const g = performance.now();
    const v = chunk(from, m);
    genMs += performance.now() - g;
    index.addMissing(keys(from, m), v);
    if (log && (from / CHUNK) % 4 === 0) process.stderr.write(`  added ${from + m} / ${n}, ${((performance.now() - t0 - genMs) / 1000).toFixed(0)} s, rss ${rss()}\n`);
  }
  const c = process.cpuUsage(cpu0);
  return { index, wall: (performance.now() - t0 - genMs) / 1000, cpu: (c.user + c.system) / 1e6 - genMs / 1000 };
}

/** Exact top-K of each query over the first n vectors, chunk by chunk. */
function exactTopK(queries: Float32Array, n: number): { truth: Array<Set<string>>; seconds: number } {
  const t0 = performance.now();
  const best: Array<Array<[number, number]>> = Array.from({ length: Q }, () => []);
  for (let from = 0; from < n; from += CHUNK) {
    const m = Math.min(CHUNK, n - from);
    const r = exactSearch(chunk(from, m), queries, D, K, MetricKind.Cos) as BatchMatches;
    for (let q = 0; q < Q; q++) {
      for (let j = 0; j < Number(r.counts[q]); j++) best[q].push([from + Number(r.keys[q * K + j]), r.distances[q * K + j]]);
      best[q].sort((a, b) => a[1] - b[1]);
      best[q].length = Math.min(best[q].length, K);
    }
  }
  return { truth: best.map((b) => new Set(b.map((x) => String(x[0])))), seconds: (performance.now() - t0) / 1000 };
}

/** Search the saved index reopened at each ef_search: ms/query and recall@K. */
async function sweep(dir: string, stem: string, queries: Float32Array, truth: Array<Set<string>>): Promise<void> {
  for (const ef of efSearch) {
    const { index } = await VectorIndex.open(dir, stem, settings(ef));
    const t0 = performance.now();
    const hits = index.search(queries, K);
    const s = (performance.now() - t0) / 1000;
    let found = 0;
    hits.forEach((h, q) => (found += h.filter((x) => truth[q].has(index.keyAt(x.key))).length));
    console.log(`  ef_search ${String(ef).padStart(4)}: ${((s * 1000) / Q).toFixed(2)} ms/query (${(Q / s).toFixed(0)} queries/s, batched over all cores), recall@${K} ${(found / (Q * K)).toFixed(3)}`);
  }
}

const dir = await mkdtemp(join(tmpdir(), 'imgsift-ann-'));
try {
  // Queries: fresh vectors (not in the index), from a separate seed range.
  const queries = chunk(N + 10_000_000, Q);
  console.log(`data: ${data} unit vectors, ${D}-d; index ${quant}, M=${connectivity}, ef_add=${efAdd}; ${Q} queries, k=${K}`);

  const big = await build(N, true);
  console.log(`build ${N}: ${big.wall.toFixed(1)} s = ${(N / big.wall).toFixed(0)} vectors/s wall, ${big.cpu.toFixed(1)} s CPU (all threads); peak RSS ${rss()}`);
  await big.index.save(dir, 'big');
  const exact = exactTopK(queries, N);
  console.log(`exact search, ${Q} queries over ${N}: ${exact.seconds.toFixed(1)} s (${((exact.seconds * 1000) / Q).toFixed(1)} ms/query, incl. regenerating vectors)`);
  await sweep(dir, 'big', queries, exact.truth);

  if (SAMPLE < N) {
    const small = await build(SAMPLE, false);
    console.log(`build ${SAMPLE} (sample): ${small.wall.toFixed(1)} s = ${(SAMPLE / small.wall).toFixed(0)} vectors/s wall`);
    await small.index.save(dir, 'sample');
    const ex = exactTopK(queries, SAMPLE);
    console.log(`exact search, ${Q} queries over ${SAMPLE}: ${ex.seconds.toFixed(1)} s (${((ex.seconds * 1000) / Q).toFixed(2)} ms/query)`);
    await sweep(dir, 'sample', queries, ex.truth);
  }
  console.log(`peak RSS ${rss()}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
