/**
 * Leak matcher on a planted benchmark of real photos (test/helpers/planted-photos.ts: Debian's
 * mate-backgrounds and python3-skimage photos; every train original copied into test under each
 * transform, plus clean similar scenes and overlapping-crop hard negatives). Runs `imgsift leaks`'s
 * pipeline (runLeaksDirs, methods exact + perceptual, defaults) and prints recall per transform,
 * precision, leak recall, clean test images flagged, and time per image.
 *
 *   node --import tsx bench/matcher.ts [--large 12] [--small 11] [--workers 1]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { alignMatch } from '../src/image/overlay-match.js';
import { computeVariants } from '../src/image/variants.js';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { runDedupDir } from '../src/cli/dedup.js';
import { runLeaksDirs } from '../src/cli/leaks.js';
import { Reporter } from '../src/exec/reporter.js';
import { photosAvailable, plantPhotos, scorePlanted } from '../test/helpers/planted-photos.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const missing = photosAvailable();
if (missing) {
  console.log(`skipped: ${missing}`);
  process.exit(0);
}
const root = await mkdtemp(join(tmpdir(), 'imgsift-bench-matcher-'));
try {
  let t0 = performance.now();
  const set = await plantPhotos(root, { large: arg('--large', 12), small: arg('--small', 11) });
  console.log(`planted: ${set.train.length} train, ${set.test.length} test (${set.leaks.length} leaks, ${set.clean.length} clean) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const r = await runLeaksDirs(set.trainDir, set.testDir, join(root, 'report.csv'), {
    methods: ['exact', 'perceptual'], workers: arg('--workers', 1), workdir: join(root, 'work'), reporter: new Reporter({ mode: 'quiet' }),
  });
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const images = set.train.length + set.test.length;
  const s = scorePlanted(set, r.rows.map((x) => [basename(x.train_image), basename(x.test_image)]));
  console.log('recall by transform:');
  for (const [t, e] of Object.entries(s.recallByTransform)) console.log(`  ${t.padEnd(10)} ${e.found}/${e.of} = ${(e.recall * 100).toFixed(1)}%`);
  console.log(`leak recall: ${(s.leakRecall * 100).toFixed(1)}% (${set.leaks.length - s.missed.length}/${set.leaks.length})`);
  console.log(`precision: ${(s.precision * 100).toFixed(2)}% (${r.rows.length} pairs reported, ${s.falsePairs.length} false)`);
  console.log(`clean test images flagged: ${s.cleanFlagged.length}/${set.clean.length}${s.cleanFlagged.length ? ' ' + s.cleanFlagged.join(', ') : ''}`);
  for (const m of s.missed) console.log(`  missed: ${m.test} (${m.detail})`);
  for (const [a, b] of s.falsePairs) console.log(`  false: ${a} ~ ${b}`);
  console.log(`time: ${wall.toFixed(1)} s wall for ${images} images (${((wall / images) * 1000).toFixed(0)} ms/image end to end, incl. ingest, hashing, signals, pair checks); CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s in this process`);
  const byMethod: Record<string, number> = {};
  for (const x of r.rows) byMethod[x.method] = (byMethod[x.method] ?? 0) + 1;
  console.log(`pairs by method: ${JSON.stringify(byMethod)}`);

  // Cost of the parts, on one thread: signals per image, and one alignment check per pair.
  const sample = set.test.slice(0, 40).map((n) => join(set.testDir, n));
  let t = performance.now();
  for (const f of sample) await computeVariants(await readFile(f));
  console.log(`signals (dedup_signals variants + extra views): ${((performance.now() - t) / sample.length).toFixed(1)} ms/image (decode included)`);
  const pairs = [...set.leaks.slice(0, 20).map((l) => [l.train, l.test]), ...set.clean.map((c) => [set.train[0], c.test])];
  t = performance.now();
  for (const [a, b] of pairs) await alignMatch(await readFile(join(set.trainDir, a)), await readFile(join(set.testDir, b)), { mirror: false });
  console.log(`alignment check: ${((performance.now() - t) / pairs.length).toFixed(0)} ms/pair (${pairs.length} pairs)`);

  // The same matcher in dedup: all images in one folder; each copy should share its original's
  // cluster, and no cluster should hold two different originals.
  t = performance.now();
  const d = await runDedupDir(root, join(root, 'dedup-out'), { workers: arg('--workers', 1), workdir: join(root, 'dedup-work'), reporter: new Reporter({ mode: 'quiet' }) });
  const origin = new Map<string, string>();
  for (const n of set.train) origin.set(`train/${n}`, n);
  for (const l of set.leaks) origin.set(`test/${l.test}`, l.train);
  for (const c of set.clean) origin.set(`test/${c.test}`, c.test);
  const clusterOf = new Map<string, number>();
  for (const c of d.clusters) for (const m of c.members) clusterOf.set(m, c.cluster);
  const together: Record<string, [number, number]> = {};
  for (const l of set.leaks) {
    const e = (together[l.transform] ??= [0, 0]);
    e[1]++;
    const a = clusterOf.get(`train/${l.train}`);
    if (a !== undefined && a === clusterOf.get(`test/${l.test}`)) e[0]++;
  }
  const impure = d.clusters.filter((c) => new Set(c.members.map((m) => origin.get(m) ?? m)).size > 1);
  console.log(`dedup on the same images (${((performance.now() - t) / 1000).toFixed(1)} s): copy clustered with its original: ${Object.entries(together).map(([k, [f, o]]) => `${k} ${f}/${o}`).join(', ')}`);
  console.log(`dedup clusters: ${d.clusters.length}, mixing different originals: ${impure.length}${impure.length ? ' ' + impure.map((c) => c.members.join('+')).join('; ') : ''}`);
} finally {
  await rm(root, { recursive: true, force: true });
}
