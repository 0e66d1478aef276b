import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';

const dirReady = tempDir();
let dir: string;
let workdir: string;

before(async () => {
  dir = await dirReady;
  workdir = join(dir, 'work');
  await writePhotos(join(dir, 'images'), 6, { classes: ['cat', 'dog'] });
  await build(
    recipeFromObject({ name: 'cli', workdir, source: { format: 'imagefolder', path: join(dir, 'images') }, steps: [{ probe: {} }] }, dir),
    { reporter: new Reporter({ mode: 'quiet' }), workers: 1 },
  );
});

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// The commands as the binary will run them once the lead registers them: a child process whose
// program has just these two commands.
const ENTRY = `
import { Command } from 'commander';
import { registerReport } from './src/cli/report.ts';
import { registerImportIssues } from './src/cli/import-issues.ts';
const state = { exitCode: 0 };
const program = new Command('imgsift').exitOverride();
registerReport(program, state);
registerImportIssues(program, state);
program.commands.forEach((c) => c.exitOverride());
try { await program.parseAsync(process.argv.slice(1), { from: 'user' }); } catch { state.exitCode = 2; }
process.exitCode = state.exitCode;
`;

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', ENTRY, ...args], { cwd: ROOT, encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('import-issues: exit 0 when all rows match, 1 with unmatched rows, 2 on a malformed row', async () => {
  const ok = join(dir, 'vl.csv');
  await writeFile(ok, 'id,issue_type,confidence\ncat/img_00000.jpg,mislabel,0.9\n');
  let r = await run(['import-issues', ok, '--workdir', workdir]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Imported 1 issue\(s\) .* as source 'visual_layer'/);

  const some = join(dir, 'vl2.csv');
  await writeFile(some, 'img,problem\ncat/img_00002.jpg,blurry\nmissing.jpg,blurry\n');
  r = await run(['import-issues', some, '--workdir', workdir, '--map', 'id=img,issue_type=problem', '--source', 'other_tool']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /1 row\(s\) matched no sample; written to .*unmatched_vl2\.csv/);
  assert.ok(existsSync(join(workdir, 'unmatched_vl2.csv')));

  const bad = join(dir, 'bad.csv');
  await writeFile(bad, 'id,flag,confidence\ncat/img_00000.jpg,blurry,lots\n');
  r = await run(['import-issues', bad, '--workdir', workdir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.csv:2 \(field 'confidence'\): confidence must be a number from 0 to 1 \(got 'lots'\)/);
  r = await run(['import-issues', bad, '--workdir', join(dir, 'nowhere')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--workdir .*nowhere: no catalog\.duckdb there/);
});

test('report: writes the HTML file and prints the text summary', async () => {
  const out = join(dir, 'out', 'r.html');
  const r = await run(['report', '--workdir', workdir, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Samples listed by the source: 6/);
  assert.match(r.stdout, /mislabel \[visual_layer\]: 1/);
  assert.match(r.stdout, new RegExp(`Report: ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
  assert.match(await readFile(out, 'utf8'), /<svg class="chart/);
  const def = await run(['report', '--workdir', workdir, '--run', '9']);
  assert.equal(def.code, 2);
  assert.match(def.stderr, /has no run 9/);
});
