/**
 * Vector ANN at scale: N random unit vectors (default 1,000,000 × 512), an HNSW index built with
 * VectorIndex (usearch, cosine), then Q queries (default 1,000) against it, with recall@10 measured
 * against exact search (usearch's brute-force exactSearch over the same vectors). Random vectors are
 * the hard case for HNSW (no cluster structure); real embeddings recall better.
 *
 *   node --import tsx bench/ann.ts [--n 1000000] [--dim 512] [--queries 1000] [--quant f16|i8|f32]
 *                                  [--connectivity 16] [--ef-add 128] [--ef-search 64]
 *
 * Vectors are generated in chunks and added chunk by chunk, so the float32 copy never has to hold
 * all N at once; peak memory is process.resourceUsage().maxRSS (whole process).
 */
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
const quant = arg('--quant', 'f16') as Quantization;
const K = 10;
const CHUNK = 50_000;


/** Vectors [from, from + n) of the data set: seeded per chunk, so any chunk can be regenerated. */
function chunk(from: number, n: number): Float32Array {
  const r = rng(1 + from);
  const v = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) {
      const x = r() + r() + r() - 1.5;
      v[i * D + j] = x;
      s += x * x;
    }
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < D; j++) v[i * D + j] *= inv;
  }
  return v;
}

const mb = (b: number) => `${(b / 1024).toFixed(0)} MB`; // maxRSS is in KiB
const index = await VectorIndex.create({
  dim: D, quantization: quant, connectivity: Number(arg('--connectivity', '16')),
  expansionAdd: Number(arg('--ef-add', '128')), expansionSearch: Number(arg('--ef-search', '64')),
});
const keys = (from: number, n: number) => Array.from({ length: n }, (_, i) => String(from + i));

let t0 = performance.now();
const cpu0 = process.cpuUsage();
let genMs = 0;
for (let from = 0; from < N; from += CHUNK) {
  const n = Math.min(CHUNK, N - from);
  const g = performance.now();
  const v = chunk(from, n);
  genMs += performance.now() - g;
  index.addMissing(keys(from, n), v);
  if ((from / CHUNK) % 4 === 0) process.stderr.write(`  added ${from + n} / ${N}, ${((performance.now() - t0 - genMs) / 1000).toFixed(0)} s, rss ${mb(process.resourceUsage().maxRSS)}\n`);
}
const buildS = (performance.now() - t0 - genMs) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuS = (cpu.user + cpu.system) / 1e6 - genMs / 1000;
console.log(`build: ${N} × ${D} (${quant}, M=${index.settings.connectivity}, ef_add=${index.settings.expansionAdd}) in ${buildS.toFixed(1)} s = ${(N / buildS).toFixed(0)} vectors/s wall, ${cpuS.toFixed(1)} s CPU (all threads); peak RSS ${mb(process.resourceUsage().maxRSS)}`);

// Queries: fresh random vectors (not in the index), from a separate seed range.
const queries = chunk(N + 10_000_000, Q);
t0 = performance.now();
const hits = index.search(queries, K);
const searchS = (performance.now() - t0) / 1000;
console.log(`search: ${Q} queries, k=${K}, ef_search=${index.settings.expansionSearch}: ${(searchS * 1000 / Q).toFixed(2)} ms/query (${(Q / searchS).toFixed(0)} queries/s, batched over all cores)`);

// Exact ground truth, chunk by chunk: keep the best K per query across chunks.
t0 = performance.now();
const best: Array<Array<[number, number]>> = Array.from({ length: Q }, () => []);
for (let from = 0; from < N; from += CHUNK) {
  const n = Math.min(CHUNK, N - from);
  const m = exactSearch(chunk(from, n), queries, D, K, MetricKind.Cos) as BatchMatches;
  for (let q = 0; q < Q; q++) {
    for (let j = 0; j < Number(m.counts[q]); j++) best[q].push([from + Number(m.keys[q * K + j]), m.distances[q * K + j]]);
    best[q].sort((a, b) => a[1] - b[1]);
    best[q].length = Math.min(best[q].length, K);
  }
}
const exactS = (performance.now() - t0) / 1000;
let found = 0;
for (let q = 0; q < Q; q++) {
  const truth = new Set(best[q].map((x) => x[0]));
  found += hits[q].filter((h) => truth.has(Number(index.keyAt(h.key)))).length;
}
console.log(`exact: ${Q} queries brute force in ${exactS.toFixed(1)} s (incl. regenerating vectors); recall@${K} = ${(found / (Q * K)).toFixed(4)}`);
console.log(`peak RSS ${mb(process.resourceUsage().maxRSS)}`);
