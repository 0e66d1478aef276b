/**
 * Text near-duplicate removal on generated prompts (seed 004's scale: ~200k prompts per version).
 *
 *   node --import tsx bench/text-dedup.ts [--n 200000] [--threshold 0.85] [--ngram 3] [--num-perm 128]
 *
 * Prompts come from a templated vocabulary in the style of seed 004's examples; about 6% are planted
 * edits of an earlier prompt (a word added, dropped or swapped, case and punctuation changed) and 3%
 * exact copies modulo case and punctuation. Prints time, rows/s and peak RSS, and the LSH recall:
 * of the planted pairs whose exact Jaccard reaches the threshold, how many rows were removed.
 */
import { performance } from 'node:perf_hooks';
import { selfDedup } from '../src/text/dedup.js';
import { makeNormalizer } from '../src/text/normalize.js';
import { jaccard, shingleSet } from '../src/text/minhash.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const N = arg('--n', 200_000);
const THRESHOLD = arg('--threshold', 0.85);
const NGRAM = arg('--ngram', 3);
const NUM_PERM = arg('--num-perm', 128);

let seed = 12345;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];

const STYLES = ['hyper realistic photo of', 'portrait painting of', 'a watercolor sketch of', 'an oil painting of', 'a 3d render of', 'a pencil drawing of', 'a polaroid of', 'concept art of', 'a woodcut print of', 'a macro shot of', 'a cinematic still of', 'an isometric illustration of'];
const ADJS = ['friendly', 'dystopian', 'shimmering', 'loud', 'droopy', 'engaging', 'retro', 'thundering', 'ivory', 'fractal', 'ebony', 'melancholic', 'gilded', 'rusty', 'translucent', 'velvet', 'stormy', 'tiny', 'colossal', 'whimsical', 'ornate', 'weathered', 'luminous', 'frozen', 'smoky', 'crystalline', 'feathered', 'mechanical', 'woolen', 'paper'];
const SUBJECTS = ['crater', 'greek hero', 'robot crane', 'french bulldog', 'astronaut', 'white rose', 'ramen bowl', 'black bean taco', 'lighthouse', 'violin', 'typewriter', 'hot air balloon', 'owl', 'samurai', 'teapot', 'bicycle', 'cathedral', 'saxophone', 'chess knight', 'submarine', 'lantern', 'tortoise', 'windmill', 'kite', 'accordion', 'fox', 'clock tower', 'pocket watch', 'hedgehog', 'locomotive', 'origami crane', 'snail', 'beekeeper', 'glacier', 'harp', 'desert caravan'];
const ACTIONS = ['holding', 'standing on', 'carved out of', 'next to', 'inks on parchment with', 'in the midst of', 'dancing with', 'floating above', 'reading to', 'hiding behind', 'painted on', 'made of'];
const PLACES = ['in the woods', 'at a donut shop', 'on a rooftop', 'in a library', 'at dawn', 'in the rain', 'on a frozen lake', 'in a greenhouse', 'inside a snow globe', 'at a train station', 'on the moon', 'in a bazaar', ''];
const MODIFIERS = ['in the style of hudson river school', 'trending on artstation', 'highly detailed', '8k', 'soft lighting', 'volumetric fog', 'by greg rutkowski', 'studio ghibli style', 'art nouveau', 'unreal engine', 'golden hour', 'bokeh', 'sharp focus', 'matte painting', 'ukiyo-e', 'baroque'];

function basePrompt(): string {
  const mods = Array.from({ length: Math.floor(rand() * 4) }, () => pick(MODIFIERS));
  const parts = [`${pick(STYLES)} ${pick(ADJS)} ${pick(ADJS)} ${pick(SUBJECTS)} ${pick(ACTIONS)} a ${pick(ADJS)} ${pick(SUBJECTS)} ${pick(PLACES)}`.trim(), ...mods];
  return parts.join(', ');
}

/** A near copy: one small edit (the kind that separates two prompts of a scraped collection). */
function edit(p: string): string {
  const words = p.split(' ');
  const i = Math.floor(rand() * words.length);
  switch (Math.floor(rand() * 5)) {
    case 0: words.splice(i, 0, pick(ADJS)); break;
    case 1: if (words.length > 4) words.splice(i, 1); break;
    case 2: words[i] = pick(ADJS); break;
    case 3: return p + ', ' + pick(MODIFIERS);
    default: return p.toUpperCase().replace(/,/g, ' ,') + '!';
  }
  return words.join(' ');
}

function generate(n: number): { texts: string[]; plantedFrom: Int32Array } {
  const texts: string[] = [];
  const plantedFrom = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (i > 10 && r < 0.06) {
      const src = Math.floor(rand() * i);
      texts.push(edit(texts[src]));
      plantedFrom[i] = src;
    } else if (i > 10 && r < 0.09) {
      const src = Math.floor(rand() * i);
      texts.push(rand() < 0.5 ? texts[src].toUpperCase() : texts[src] + '.');
      plantedFrom[i] = src;
    } else texts.push(basePrompt());
  }
  return { texts, plantedFrom };
}

const tGen = performance.now();
const { texts, plantedFrom } = generate(N);
const genMs = performance.now() - tGen;

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
const t0 = performance.now();
const { removed, figures } = selfDedup(texts, {
  threshold: THRESHOLD, ngram: NGRAM, numPerm: NUM_PERM,
  onProgress: () => (peakRss = Math.max(peakRss, process.memoryUsage().rss)),
});
const secs = (performance.now() - t0) / 1000;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);

// LSH recall on planted pairs: a planted row whose exact similarity to its source reaches the
// threshold must be removed when the source was kept (the source is then a candidate it must meet).
// A planted row whose source was itself removed may rightly stay: dedup does not chain.
const removedSet = new Set(removed.map((m) => m.index));
const norm = makeNormalizer();
let plantedNear = 0;
let plantedFound = 0;
for (let i = 0; i < N; i++) {
  if (plantedFrom[i] < 0 || removedSet.has(plantedFrom[i])) continue;
  const s = jaccard(shingleSet(norm(texts[i]), NGRAM), shingleSet(norm(texts[plantedFrom[i]]), NGRAM));
  if (s >= THRESHOLD) {
    plantedNear++;
    if (removedSet.has(i)) plantedFound++;
  }
}

const mb = (b: number) => (b / 1024 / 1024).toFixed(0);
console.log(`text-dedup self, ${N.toLocaleString('en')} generated prompts (generated in ${(genMs / 1000).toFixed(2)} s)`);
console.log(`threshold ${THRESHOLD}, ${NGRAM}-grams, ${NUM_PERM} permutations → LSH ${figures.bands} bands × ${figures.rowsPerBand} rows`);
console.log(`time            ${secs.toFixed(2)} s`);
console.log(`rate            ${Math.round(N / secs).toLocaleString('en')} rows/s`);
console.log(`peak RSS        ${mb(peakRss)} MB`);
console.log(`removed         ${figures.removed} (${figures.exact} identical after normalisation), kept ${figures.kept}`);
console.log(`verified pairs  ${figures.verified} (${(figures.verified / N).toFixed(2)} per row)`);
console.log(`planted recall  ${plantedFound}/${plantedNear} planted near copies of kept rows (Jaccard ≥ ${THRESHOLD}) removed`);
