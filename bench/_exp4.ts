import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { alignMatch } from '../src/image/align.js';
const root = '/tmp/mx/set';
const train = readdirSync(join(root, 'train'));
const test = readdirSync(join(root, 'test'));
const rd = (d: string, n: string) => readFile(join(root, d, n));
let t0 = performance.now(); let k = 0;
const pairs: Array<[string, string, boolean]> = [];
for (const te of test) {
  const base = te.split('__')[0].replace(/_[BH]\.jpg$/, '_A').replace(/\.jpg$/, '');
  const tr = train.find((n) => n.replace(/\.jpg$/, '') === base);
  if (tr) pairs.push([tr, te, te.includes('__')]);
}
for (let i = 0; i < 40; i++) pairs.push([train[i % train.length], test[(i * 7 + 3) % test.length], false]);
for (const [tr, te, pos] of pairs) {
  if (!pos && te.startsWith(tr.replace(/\.jpg$/, '') + '__')) continue;
  const g = await alignMatch(await rd('train', tr), await rd('test', te), { mirror: te.includes('mirror') });
  k++;
  console.log(pos ? 'POS' : 'NEG', g.same === pos ? 'ok ' : 'BAD', te.padEnd(34), JSON.stringify(g));
}
console.log('per check ms', ((performance.now() - t0) / k).toFixed(1));
