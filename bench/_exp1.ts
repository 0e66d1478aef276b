import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { plantPhotos } from '../test/helpers/planted-photos.js';
import { computeVariants } from '../src/image/variants.js';
import { bestVariantPair, parseVariantCodes } from '../src/steps/dedup-match.js';
import { geometricMatch } from '../src/image/geometric.js';
const t0 = performance.now();
const set = await plantPhotos('/tmp/mx/set', {});
console.log('planted', set.train.length, set.test.length, ((performance.now() - t0) / 1000).toFixed(1), 's');
const sig = async (p: string) => parseVariantCodes({ variants: (await computeVariants(await readFile(p))) } as any);
const tr = new Map<string, any>(); for (const n of set.train) tr.set(n, await sig(join(set.trainDir, n)));
const te = new Map<string, any>(); for (const n of set.test) te.set(n, await sig(join(set.testDir, n)));
for (const l of set.leaks) {
  const m = bestVariantPair(tr.get(l.train), te.get(l.test));
  let min = 99; for (const [n, c] of tr) { if (n === l.train) continue; min = Math.min(min, bestVariantPair(c, te.get(l.test)).phash); }
  console.log(l.transform.padEnd(10), String(m.phash).padStart(3), String(m.dhash).padStart(3), m.variants.padEnd(22), 'nearestOther', min, l.detail);
}
for (const c of set.clean) {
  let best = { phash: 99, dhash: 99, n: '' };
  for (const [n, cs] of tr) { const m = bestVariantPair(cs, te.get(c.test)); if (m.phash < best.phash) best = { phash: m.phash, dhash: m.dhash, n }; }
  console.log('CLEAN', c.kind, c.test, best);
}
