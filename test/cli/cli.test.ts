import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

test('--help lists every command, and each command lists its flags with defaults', () => {
  const top = runCli(['--help']);
  assert.equal(top.code, 0);
  for (const cmd of ['demo', 'build']) assert.match(top.stdout, new RegExp(`\\n\\s+${cmd}\\b`));
  const build = runCli(['build', '--help']);
  assert.equal(build.code, 0);
  for (const flag of ['--max-samples', '--dev', '--skip-bad-rows', '--workers', '--workdir', '--quiet', '--json']) {
    assert.match(build.stdout, new RegExp(flag));
  }
  assert.match(runCli(['demo', '--help']).stdout, /--out <dir>[\s\S]*\(default:\s+"imgsift-demo"\)/);
});

test('bad usage exits 2 with a message', () => {
  const r = runCli(['build']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing required argument 'recipe'/);
  const unknown = runCli(['frobnicate']);
  assert.equal(unknown.code, 2);
  const badNum = runCli(['build', 'x.yaml', '--workers', 'zero']);
  assert.equal(badNum.code, 2);
  assert.match(badNum.stderr, /--workers must be a whole number/);
});

test('an invalid recipe exits 2 naming the file, line and field', async () => {
  const dir = await tempDir();
  const file = join(dir, 'r.yaml');
  await writeFile(file, 'name: x\nsource: { format: folder, path: . }\nsteps:\n  - probe: { max_pixels: lots }\n');
  const r = runCli(['build', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /r\.yaml:4: steps\[0\]\.probe\.max_pixels: /);
  const missing = runCli(['build', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read recipe/);
});
