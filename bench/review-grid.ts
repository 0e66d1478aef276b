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
import { Catalog, COLUMNS, CATALOG_FILE } from '../src/catalog/catalog.js';
import { startReviewServer } from '../src/review/server.js';

const { values } = parseArgs({ options: { samples: { type: 'string', default: '1000000' }, requests: { type: 'string', default: '200' } } });
const N = Number(values.samples);
const REQUESTS = Number(values.requests);
const LABELS = Array.from({ length: 100 }, (_, i) => `class_${String(i).padStart(3, '0')}`);
const ISSUES = ['blurry', 'dark', 'light', 'odd_size', 'low_information', 'duplicate', 'leak', 'corrupt'];
const TAGS = ['mislabel_confirmed', 'outlier_valid', 'duplicate_near', 'keep', 'remove'];

async function generate(workdir: string): Promise<void> {
  const t0 = performance.now();
  const cat = await Catalog.open(workdir);
  try {
    await cat.run(`INSERT INTO runs (id, name, started, finished, status) VALUES (1, 'bench', current_timestamp, current_timestamp, 'finished')`);
    const B = 50_000;
    for (let b = 0; b < N; b += B) {
      const samples = [], files = [], issues = [], drops = [];
      for (let i = b; i < Math.min(N, b + B); i++) {
        const id = `img_${String(i).padStart(7, '0')}`;
        const label = LABELS[(i * 7919) % LABELS.length];
        samples.push({ id, source: 'bench', path: `${label}/${id}.jpg`, split: i % 20 === 0 ? 'test' : i % 20 === 1 ? 'dev' : 'train', label, ord: i, first_run: 1, seen_run: 1 });
        files.push({ sample_id: id, role: 'image', uri: `/nonexistent/${id}.jpg` });
        if (i % 7 === 0) {
          const type = ISSUES[(i / 7) % ISSUES.length];
          const score = ((i * 2654435761) % 1000) / 1000;
          issues.push({ sample_id: id, type, score, flagged: score > 0.5, step: 'bench', source: i % 3 ? 'imgsift' : 'visual_layer', run_id: 1, evidence: { score } });
        }
        if (i % 997 === 0) drops.push({ sample_id: id, reason: 'corrupt', step: 'filter', run_id: 1 });
      }
      await cat.append('samples', COLUMNS.samples, samples);
      await cat.append('files', COLUMNS.files, files);
      await cat.append('issues', COLUMNS.issues, issues);
      await cat.append('drops', COLUMNS.drops, drops);
    }
    await cat.run(`INSERT INTO tags (sample_id, tag, reviewer) SELECT id, ['mislabel_confirmed','outlier_valid','duplicate_near','keep','remove'][ord % 5 + 1], 'bench' FROM samples WHERE ord % 31 = 0`);
    await cat.run(`INSERT INTO decisions (sample_id, action, new_label, reviewer) SELECT id, CASE WHEN ord % 3 = 0 THEN 'relabel' WHEN ord % 3 = 1 THEN 'keep' ELSE 'remove' END, CASE WHEN ord % 3 = 0 THEN 'class_001' END, 'bench' FROM samples WHERE ord % 53 = 0`);
  } finally {
    cat.close();
  }
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
} finally {
  await server.close();
}
