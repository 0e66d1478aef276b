/**
 * Seed 004's prompt pipeline at scale, with the library functions the steps use: N generated
 * prompts (a prompt list plus a reference set, 5% of N, standing for the train set it is deduped
 * against) through text_transform's rules, text_filter's rules, self dedup (0.85) of the list and
 * cross dedup (0.75) of its survivors against the reference. Rows stream through: only the dedup
 * indexes are held. Prints time, rows removed per step and peak RSS, and a projection to the
 * seed's 10M-line open_prompts list.
 *
 *   node --import tsx bench/prompts.ts [--n 1000000] [--shingles char|word] [--overlap 0.02]
 */
import { performance } from 'node:perf_hooks';
import { NearDuplicateIndex, SelfDeduper, describeMeasure, type TextDedupOptions } from '../src/text/dedup.js';
import { makeTextFilter, type TextFilterRules } from '../src/text/filters.js';
import { makeTransformer, type TransformRule } from '../src/text/transform.js';
import { NAMES, PromptGenerator } from './lib/prompts.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const N = Number(arg('--n', '1000000'));
const SHINGLES = arg('--shingles', 'char') as 'char' | 'word';
const REF = Math.round(N * 0.05);
/** Share of the list that copies or edits a reference prompt. */
const OVERLAP = Number(arg('--overlap', '0.02'));

const RULES: TransformRule[] = [
  { unicode: 'NFKC' },
  { whitespace: true },
  { case: 'lower' },
  { replace: { pattern: '\\(([^():]*)(?::[\\d.]+)?\\)', with: '$1' } },
  { remove_words: { words: NAMES } },
  { trim_modifiers: {} },
  { max_length: { chars: 300 } },
];
const FILTER: TextFilterRules = { empty: true, words: { min: 3, max: 77 }, non_latin: { max_share: 0.3 }, urls: true, markup: true, repeated: { times: 3 } };
const dedup = (threshold: number): TextDedupOptions => ({ threshold, shingles: SHINGLES });

const transform = makeTransformer(RULES);
const filter = makeTextFilter(FILTER);
const mb = () => Math.round(process.resourceUsage().maxRSS / 1024);
const t = { transform: 0, filter: 0, self: 0, crossIndex: 0, cross: 0 };
const removed: Record<string, number> = {};
let changed = 0;

function clean(text: string): string | null {
  let a = performance.now();
  const out = transform(text);
  t.transform += performance.now() - a;
  if (out !== text) changed++;
  a = performance.now();
  const rule = filter(out);
  t.filter += performance.now() - a;
  if (rule) {
    removed[`filter: ${rule}`] = (removed[`filter: ${rule}`] ?? 0) + 1;
    return null;
  }
  return out;
}

const started = performance.now();
const cpuStart = process.cpuUsage();
const rssStart = mb();
// The reference (train) set: cleaned and indexed first, as the step indexes the `against` split.
const reference = new NearDuplicateIndex(dedup(0.75), REF);
const refGen = new PromptGenerator(777);
/** Some reference prompts as written, for the list to overlap with. */
const borrowed: string[] = [];
let a = performance.now();
for (let i = 0; i < REF; i++) {
  const raw = refGen.next().text;
  if (borrowed.length < 20_000 && i % 2 === 0) borrowed.push(raw);
  const text = clean(raw);
  const p = text === null ? null : reference.prepare(text);
  if (p) reference.add(p, i);
}
t.crossIndex = performance.now() - a;
const rssAfterRef = mb();

// The prompt list: cleaned, self-deduped, then each survivor checked against the reference.
const LIST = N - REF;
const gen = new PromptGenerator(12345, { from: borrowed, rate: OVERLAP });
let planted = 0;
const self = new SelfDeduper(dedup(0.85), LIST);
let kept = 0;
for (let i = 0; i < LIST; i++) {
  const g = gen.next();
  if (g.planted === 'borrowed') planted++;
  const text = clean(g.text);
  if (text === null) continue;
  a = performance.now();
  const m = self.push(text);
  t.self += performance.now() - a;
  if (m) continue;
  a = performance.now();
  const p = reference.prepare(text);
  const hit = p ? reference.best(p) : null;
  t.cross += performance.now() - a;
  if (hit) removed['cross dedup 0.75'] = (removed['cross dedup 0.75'] ?? 0) + 1;
  else kept++;
  if ((i + 1) % 200_000 === 0) console.error(`  ${i + 1} rows, ${((performance.now() - started) / 1000).toFixed(0)} s, RSS peak ${mb()} MB`);
}
removed['self dedup 0.85'] = self.figures.removed;
const total = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const peak = mb();

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
console.log(`prompts: ${N.toLocaleString('en')} generated (${LIST.toLocaleString('en')} list + ${REF.toLocaleString('en')} reference), measure: ${describeMeasure(dedup(0.85))}`);
console.log(`transform  ${s(t.transform)} (${changed.toLocaleString('en')} rewritten)`);
console.log(`filter     ${s(t.filter)}`);
console.log(`self dedup ${s(t.self)} (${self.figures.verified.toLocaleString('en')} pairs verified, LSH ${self.figures.bands}x${self.figures.rowsPerBand})`);
console.log(`cross      ${s(t.crossIndex)} indexing the reference + ${s(t.cross)} querying (LSH ${reference.bands}x${reference.rowsPerBand})`);
console.log(`total      ${total.toFixed(1)} s wall, ${cpuSeconds.toFixed(1)} s CPU (${Math.round(N / cpuSeconds).toLocaleString('en')} rows per CPU second, generation included; stage times are wall)`);
console.log(`removed    ${Object.entries(removed).map(([k, v]) => `${k}: ${v.toLocaleString('en')}`).join(', ')}`);
console.log(`kept       ${kept.toLocaleString('en')} of ${LIST.toLocaleString('en')} list rows (${planted.toLocaleString('en')} list rows were planted copies or edits of reference prompts)`);
console.log(`peak RSS   ${peak} MB (start ${rssStart} MB, after indexing the reference ${rssAfterRef} MB)`);
// Time grows linearly with rows (each is cleaned once and queried against buckets of near
// neighbours only); memory with the rows the self index keeps (their shingle sets and LSH entries).
const perKept = ((peak - rssAfterRef) * 1024 * 1024) / Math.max(1, self.figures.kept);
const scale = 10_000_000 / N;
console.log(
  `projection to 10M lines: ~${((cpuSeconds * scale) / 60).toFixed(0)} min on one free core, peak RSS ~${Math.round(rssAfterRef + (perKept * self.figures.kept * scale) / 1024 / 1024).toLocaleString('en')} MB ` +
    `(${Math.round(perKept)} bytes per kept row, if the share kept stays ${((self.figures.kept / LIST) * 100).toFixed(0)}%)`,
);
