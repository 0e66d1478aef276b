import { readFileSync, readdirSync } from 'node:fs';
import { ustarHeader } from '../src/export/tar.js';
const dir = process.argv[2];
const names = readdirSync(dir).filter((f) => f.endsWith('.jpg'));
const files = Array.from({ length: 10000 }, (_, i) => `${dir}/${names[i % names.length]}`);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
for (let rep = 0; rep < 2; rep++) {
let c = cpu();
const bufs = files.map((f) => readFileSync(f));
console.log('readFileSync 10000', (cpu() - c).toFixed(2));
c = cpu(); for (let i = 0; i < 10000; i++) ustarHeader(`k_${String(i).padStart(7, '0')}.jpg`, bufs[i].length); console.log('headers', (cpu() - c).toFixed(2));
c = cpu(); for (let o = 0; o < 10000; o += 140) Buffer.concat(bufs.slice(o, o + 140)); console.log('concat 300MB', (cpu() - c).toFixed(2));
}
