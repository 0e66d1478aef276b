/**
 * `npm run bench [-- NAME...]`: runs every benchmark in bench/ (or those whose file name contains
 * one of the NAMEs), one after another, each in its own process so figures don't interfere.
 * Benchmarks print figures; they are never part of `npm test`.
 */
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .filter((f) => filters.length === 0 || filters.some((n) => f.includes(n)))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n=== bench/${f}`);
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(here, f)], { stdio: 'inherit' });
  if (res.status !== 0) {
    failed++;
    console.log(`bench/${f} exited with ${res.status}`);
  }
}
process.exit(failed ? 1 : 0);
