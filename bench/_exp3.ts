import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { plantPhotos } from '../test/helpers/planted-photos.js';
import { computeVariants, EXTRA_VIEWS } from '../src/image/variants.js';
import { hammingHex } from '../src/image/hashes.js';
const set = await plantPhotos('/tmp/mx/set', {});
type S = { base: Array<[string, string]>; extra: Array<[string, string]> };
let ms = 0, k = 0;
const sig = async (p: string): Promise<S> => {
  const b = await readFile(p); const t = performance.now();
  const v = await computeVariants(b); ms += performance.now() - t; k++;
  const base: Array<[string, string]> = [['plain', v.plain.phash], ['mirror', v.mirror.phash], ['centre', v.centre.phash]];
  if (v.trimmed) base.push(['trimmed', v.trimmed.phash], ['trimmed_mirror', v.trimmed_mirror!.phash]);
  return { base, extra: v.extra.map((h, i) => [EXTRA_VIEWS[i].name, h]) };
};
const best = (a: S, b: S) => {
  let d = 99, how = '';
  for (const [n1, x] of a.base) for (const [n2, y] of [...b.base, ...b.extra]) { if (n1.includes('mirror') && n2.includes('mirror')) continue; const e = hammingHex(x, y); if (e < d) { d = e; how = `${n1}/${n2}`; } }
  for (const [n1, x] of b.base) for (const [n2, y] of [...a.base, ...a.extra]) { if (n1.includes('mirror') && n2.includes('mirror')) continue; const e = hammingHex(x, y); if (e < d) { d = e; how = `${n2}/${n1}`; } }
  return { d, how };
};
const tr = new Map<string, S>(); for (const n of set.train) tr.set(n, await sig(join(set.trainDir, n)));
const te = new Map<string, S>(); for (const n of set.test) te.set(n, await sig(join(set.testDir, n)));
console.log('ms per image', (ms / k).toFixed(1));
const by: Record<string, number[]> = {}; const other: number[] = [];
for (const l of set.leaks) { const m = best(tr.get(l.train)!, te.get(l.test)!); (by[l.transform] ??= []).push(m.d); if (m.d > 10) console.log(l.test, m, l.detail); }
for (const [t, ds] of Object.entries(by)) console.log(t, ds.sort((a, b) => a - b).join(' '));
const neg: number[] = [];
for (const [n, s] of te) for (const [m, r] of tr) { if (set.leaks.some((l) => l.train === m && l.test === n)) continue; neg.push(best(r, s).d); }
neg.sort((a, b) => a - b); console.log('neg smallest', neg.slice(0, 30).join(' '), 'count<=10', neg.filter((x) => x <= 10).length, '<=12', neg.filter((x) => x <= 12).length, 'of', neg.length);
