import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from '../../src/catalog/catalog.js';
import { runCli, startCli } from '../helpers/cli.js';
import { writePhotos } from '../helpers/dataset.js';
import { tempDir } from '../helpers/tmp.js';

test('a run killed with SIGKILL is shown as interrupted by the next run, not running forever', async () => {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 60, { size: [320, 240] });
  const recipe = join(dir, 'r.yaml');
  await writeFile(recipe, `name: k\nworkdir: ./work\nsource: { format: folder, path: ./images }\nsteps:\n  - probe: {}\n  - hash: {}\n  - quality: {}\n`);

  // Kill the first build once its run is recorded and it is working through the images.
  const child = startCli(['build', recipe, '--workers', '1']);
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/probe\+hash\+quality/.test(err)) {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => reject(new Error(`build ended before it could be killed:\n${err}`)));
  });
  await new Promise((r) => child.once('close', r));

  const next = runCli(['build', recipe, '--workers', '1']);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, /run 1 did not finish \(the process was killed\): marked interrupted/);
  const catalog = await Catalog.open(join(dir, 'work'), { readOnly: true });
  try {
    const runs = await catalog.all<{ id: number; status: string }>(`SELECT id, status FROM runs ORDER BY id`);
    assert.deepEqual(runs.map((r) => [Number(r.id), r.status]), [[1, 'interrupted'], [2, 'finished']]);
  } finally {
    catalog.close();
  }
});
