/**
 * Review grid API at scale: response time of GET /api/samples (a filtered page of 200) and
 * GET /api/facets over a catalog of 1,000,000 samples, with issues on ~14%, tags on ~3% and
 * decisions on ~2%, through real HTTP to a running review server.
 *
 *   node --import tsx bench/review-grid.ts [--samples 1000000] [--requests 200]
 *
 * The catalog is generated once (rows appended with DuckDB's appender) into
 * $TMPDIR/imgsift-bench-review-<n> and reused.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CATALOG_FILE } from '../src/catalog/catalog.js';
import { SYNTH_ISSUES as ISSUES, SYNTH_LABELS as LABELS, SYNTH_TAGS as TAGS, writeSyntheticCatalog } from '../test/helpers/synthetic-catalog.js';
import { startReviewServer } from '../src/review/server.js';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '1000000' }, requests: { type: 'string', default: '200' } } });
const N = Number(values.samples);
const REQUESTS = Number(values.requests);

async function generate(workdir: string): Promise<void> {
  const t0 = performance.now();
  await writeSyntheticCatalog(workdir, N);
  process.stderr.write(`generated ${N} samples in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

/** Varied filters: single facets, combinations, issue + score range (seed 002's query), deep pages. */
function filterFor(k: number): string {
  const p = new URLSearchParams();
  const label = LABELS[(k * 13) % LABELS.length];
  switch (k % 8) {
    case 0: p.set('split', 'train'); break;
    case 1: p.set('label', label); break;
    case 2: p.set('issue', ISSUES[k % ISSUES.length]); break;
    case 3: p.set('issue', ISSUES[k % ISSUES.length]); p.set('scoreMin', '0.8'); p.set('source', 'visual_layer'); break;
    case 4: p.set('tag', TAGS[k % TAGS.length]); break;
    case 5: p.set('decision', 'none'); p.set('split', 'test'); p.set('label', label); break;
    case 6: p.set('decision', 'remove'); break;
    case 7: p.append('label', label); p.append('label', LABELS[(k * 17) % LABELS.length]); p.set('issue', 'blurry'); break;
  }
  return p.toString();
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (f: number) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
  return `median ${q(0.5).toFixed(1)} ms, p90 ${q(0.9).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms (${s.length} requests)`;
}

const workdir = join(tmpdir(), `imgsift-bench-review-${N}`);
if (!existsSync(join(workdir, CATALOG_FILE))) await generate(workdir);
const t0 = performance.now();
const server = await startReviewServer({ workdir, port: 0, log: (l) => process.stderr.write(l + '\n') });
process.stderr.write(`server ready in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
const base = server.url.replace(/\/$/, '');
try {
  const timed = async (path: string): Promise<{ ms: number; body: any }> => {
    const t = performance.now();
    const r = await fetch(base + path);
    const body = await r.json();
    if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(body)}`);
    return { ms: performance.now() - t, body };
  };
  await timed('/api/samples?limit=200'); // warm-up
  const first: number[] = [], scroll: number[] = [], facet: number[] = [], deep: number[] = [];
  for (let k = 0; k < REQUESTS; k++) {
    const f = filterFor(k);
    // First page of a new filter (count not cached yet), then a page further down the same view.
    const a = await timed(`/api/samples?${f}&offset=0&limit=200`);
    first.push(a.ms);
    if (a.body.items.length === 0 && k < 8) process.stderr.write(`note: filter ${f} selects nothing\n`);
    const off = Math.max(0, Math.floor(a.body.total / 2 / 200) * 200);
    scroll.push((await timed(`/api/samples?${f}&offset=${off}&limit=200`)).ms);
    if (k % 4 === 0) facet.push((await timed(`/api/facets?${f}`)).ms);
    if (k % 4 === 0) deep.push((await timed(`/api/samples?offset=${(k * 4999) % (N - 200)}&limit=200`)).ms);
  }
  console.log(`review grid, ${N.toLocaleString()} samples (${server.samples.toLocaleString()} in the run)`);
  console.log(`  page of 200, new filter:        ${stats(first)}`);
  console.log(`  page of 200, middle of view:    ${stats(scroll)}`);
  console.log(`  page of 200, unfiltered, random offset: ${stats(deep)}`);
  console.log(`  facet counts, new filter:       ${stats(facet)}`);
  // Sorted views (issue score, path) and finding a sample's place in one (a reload with ?open=).
  const sorted: number[] = [], sortedDeep: number[] = [], position: number[] = [];
  for (let k = 0; k < Math.max(8, REQUESTS / 8); k++) {
    const f = filterFor(k);
    const sort = k % 2 ? 'path' : 'score';
    const a = await timed(`/api/samples?${f}&sort=${sort}&offset=0&limit=200`);
    sorted.push(a.ms);
    const off = Math.max(0, Math.floor(a.body.total / 2 / 200) * 200);
    const b = await timed(`/api/samples?${f}&sort=${sort}&offset=${off}&limit=200`);
    sortedDeep.push(b.ms);
    const id = b.body.items[0]?.id ?? a.body.items[0]?.id;
    if (id) position.push((await timed(`/api/position?${f}&sort=${sort}&id=${encodeURIComponent(id)}`)).ms);
  }
  console.log(`  sorted page (score or path), first: ${stats(sorted)}`);
  console.log(`  sorted page, middle of view:        ${stats(sortedDeep)}`);
  console.log(`  position of a sample in a sorted view: ${stats(position)}`);
} finally {
  await server.close();
}
