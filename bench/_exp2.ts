import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { geometricMatch } from '../src/image/geometric.js';
const root = '/tmp/mx/set';
const { readdirSync } = await import('node:fs');
const train = readdirSync(join(root, 'train'));
const test = readdirSync(join(root, 'test'));
const rd = (d: string, n: string) => readFile(join(root, d, n));
let t0 = performance.now(); let k = 0;
for (const te of test) {
  const base = te.split('__')[0].replace(/_[BH]\.jpg$/, '_A').replace(/\.jpg$/, '');
  const tr = train.find((n) => n.replace(/\.jpg$/, '') === base);
  if (!tr) continue;
  const g = await geometricMatch(await rd('train', tr), await rd('test', te), { mirrorSecond: te.includes('mirror') });
  k++;
  console.log(te.padEnd(40), g.same, g.matches, g.inliers, g.inlierRatio);
}
console.log('per check ms', ((performance.now() - t0) / k).toFixed(1));
