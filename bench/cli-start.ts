/**
 * CLI start-up cost: wall and CPU seconds (median of N runs) of `node -e 0`, `imgsift --help`, a
 * bad-usage error and `imgsift hash one.jpg`, each a fresh process of the built binary (dist/).
 *
 *   node --import tsx bench/cli-start.ts [--n 9] [--bin PATH/bin/imgsift.js ...]
 *
 * Several --bin (e.g. another checkout's bin/imgsift.js) are measured in the same run, interleaved,
 * so a busy machine affects them alike. CPU comes from GNU time (/usr/bin/time) when present.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchJpegs } from './lib/images.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const n = Number(args[args.indexOf('--n') + 1] ?? 9) || 9;
const bins = args.flatMap((a, i) => (a === '--bin' ? [args[i + 1]] : []));
if (bins.length === 0) bins.push(fileURLToPath(new URL('../bin/imgsift.js', import.meta.url)));
for (const b of bins) {
  if (!existsSync(b)) throw new Error(`${b}: no such file`);
}
const GNU_TIME = '/usr/bin/time';
const haveTime = existsSync(GNU_TIME);

interface Sample { wall: number; cpu: number }

/** One run: wall from our clock, CPU (user+sys of the child) from GNU time's report on stderr. */
function once(argv: string[], expectCode: number): Sample {
  const cmd = haveTime ? [GNU_TIME, '-f', 'CPU %U %S', process.execPath, ...argv] : [process.execPath, ...argv];
  const t0 = performance.now();
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', cwd: here });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== expectCode) throw new Error(`${argv.join(' ')}: exit ${r.status}, expected ${expectCode}\n${r.stderr}`);
  const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  return { wall, cpu: m ? Number(m[1]) + Number(m[2]) : NaN };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const [jpg] = await benchJpegs('cli-start', 1);
const cases = (bin: string): Array<{ name: string; argv: string[]; code: number }> => [
  { name: 'imgsift --help', argv: [bin, '--help'], code: 0 },
  { name: 'imgsift build (bad usage)', argv: [bin, 'build'], code: 2 },
  { name: 'imgsift hash one.jpg', argv: [bin, 'hash', jpg], code: 0 },
];
const rows = new Map<string, Sample[]>();
const add = (key: string, s: Sample) => rows.set(key, [...(rows.get(key) ?? []), s]);
for (let i = 0; i < n; i++) {
  add('node -e 0', once(['-e', '0'], 0));
  for (const bin of bins) for (const c of cases(bin)) add(`${c.name}${bins.length > 1 ? `  [${bin}]` : ''}`, once(c.argv, c.code));
}
const base = median(rows.get('node -e 0')!.map((s) => s.wall));
console.log(`median of ${n} runs${haveTime ? '' : ' (no /usr/bin/time: CPU not measured)'}`);
console.log(`${'command'.padEnd(40)} ${'wall s'.padStart(7)} ${'cpu s'.padStart(7)} ${'wall - node'.padStart(12)}`);
for (const [name, samples] of rows) {
  const w = median(samples.map((s) => s.wall));
  const c = median(samples.map((s) => s.cpu));
  console.log(`${name.padEnd(40)} ${w.toFixed(3).padStart(7)} ${c.toFixed(3).padStart(7)} ${(w - base).toFixed(3).padStart(12)}`);
}
