import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';
import { runCli, startCli } from '../helpers/cli.js';
import { Catalog } from '../../src/catalog/catalog.js';

async function setup(): Promise<{ dir: string; recipe: string }> {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 240, { size: [640, 480] });
  const recipe = join(dir, 'recipe.yaml');
  await writeFile(
    recipe,
    `name: resume\nworkdir: ./work\nsource: { format: folder, path: ./images }\nsteps:\n  - probe: {}\nexport:\n  - { format: manifest, to: ./out/manifest.jsonl }\n`,
  );
  return { dir, recipe };
}

async function manifestIds(dir: string): Promise<string[]> {
  const text = await readFile(join(dir, 'out', 'manifest.jsonl'), 'utf8');
  return text.trim().split('\n').map((l) => JSON.parse(l).id as string);
}

async function checkComplete(dir: string): Promise<void> {
  const ids = await manifestIds(dir);
  assert.equal(ids.length, 240, 'every sample is in the output');
  assert.equal(new Set(ids).size, 240, 'no sample twice');
  const cat = await Catalog.open(join(dir, 'work'));
  assert.equal(await cat.scalar(`SELECT count(*) FROM samples`), 240);
  assert.equal(await cat.scalar(`SELECT count(*) FROM step_results WHERE step = 'probe'`), 240);
  assert.equal(await cat.scalar(`SELECT count(*) - count(DISTINCT uri) FROM file_status`), 0);
  cat.close();
}

test('SIGKILL in the middle of a build, then rerun: complete output, nothing twice', async () => {
  const { dir, recipe } = await setup();
  const child = startCli(['build', recipe, '--json', '--workers', '2']);
  let stderr = '';
  // Kill as soon as the probe pass has committed some results (a progress line says so), or after 3 s.
  const killed = new Promise<void>((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 3000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (/"label":"probe"/.test(stderr) || /ingest: \d+/.test(stderr)) {
        setTimeout(() => { clearTimeout(timer); child.kill('SIGKILL'); resolve(); }, 400);
      }
    });
  });
  await killed;
  const [code, signal] = await once(child, 'exit');
  assert.equal(signal, 'SIGKILL', `the build finished before it could be killed (code ${code})`);

  const rerun = runCli(['build', recipe, '--json']);
  assert.equal(rerun.code, 0, rerun.stderr);
  const summary = JSON.parse(rerun.stdout.trim().split('\n').pop()!);
  assert.equal(summary.total, 240);
  await checkComplete(dir);
});

test('Ctrl-C stops after the work in flight, exits 130, and the rerun resumes from the cache', async () => {
  const { dir, recipe } = await setup();
  const child = startCli(['build', recipe, '--json', '--workers', '1']);
  let stderr = '';
  // Interrupt once the run has started (its handler is installed by then) and had time to work.
  await new Promise<void>((resolve) => {
    child.stderr!.on('data', (d: Buffer) => {
      const first = !/run \d+ of/.test(stderr);
      stderr += d.toString();
      if (first && /run \d+ of/.test(stderr)) setTimeout(resolve, 2000);
    });
  });
  child.kill('SIGINT');
  const [code, signal] = await once(child, 'exit');
  assert.equal(code, 130, `exit ${code} ${signal}: ${stderr}`);
  assert.match(stderr, /interrupted/);

  const cat = await Catalog.open(join(dir, 'work'));
  assert.equal(await cat.scalar(`SELECT count(*) FROM runs WHERE status = 'interrupted'`), 1);
  const done = await cat.scalar(`SELECT count(*) FROM step_results`);
  cat.close();

  const rerun = runCli(['build', recipe, '--json']);
  assert.equal(rerun.code, 0, rerun.stderr);
  const summary = JSON.parse(rerun.stdout.trim().split('\n').pop()!);
  const probe = summary.steps.find((s: { name: string }) => s.name === 'probe');
  assert.equal(probe.stats['samples from cache'], done, 'what finished before Ctrl-C is not redone');
  await checkComplete(dir);
});
