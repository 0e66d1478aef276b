import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';
import { buildShard } from '../../src/distrib/shard-build.js';
import { shardDir } from '../../src/distrib/shard.js';
import { Progress, Reporter } from '../../src/exec/reporter.js';
import { ImgsiftError } from '../../src/errors.js';

/** A quiet reporter that aborts the run once the per-sample pass has finished `after` samples. */
class AbortingReporter extends Reporter {
  constructor(private readonly controller: AbortController, private readonly after: number) {
    super({ mode: 'quiet' });
  }
  override progress(label: string, total?: number): Progress {
    const p = super.progress(label, total);
    if (!label.startsWith('probe')) return p;
    const tick = p.tick.bind(p);
    let done = 0;
    p.tick = (n = 1, failed = 0) => {
      tick(n, failed);
      done += n;
      if (done >= this.after) this.controller.abort();
    };
    return p;
  }
}

test('a shard stopped midway has no marker, and its rerun resumes from the committed results', async () => {
  const root = await tempDir();
  await writePhotos(join(root, 'images'), 24, { size: [160, 120] });
  const recipe = join(root, 'recipe.yaml');
  await writeFile(recipe, `name: resume\nworkdir: ./work\nsource: { format: folder, path: ./images }\nsteps:\n  - probe: {}\n  - hash: {}\n`);
  const shard = { index: 0, count: 2 };
  const controller = new AbortController();
  await assert.rejects(
    buildShard(recipe, { shard, workers: 1, reporter: new AbortingReporter(controller, 3), signal: controller.signal }),
    (err: unknown) => err instanceof ImgsiftError && err.exitCode === 130,
  );
  assert.equal(existsSync(join(shardDir(join(root, 'work'), 0), 'done.json')), false, 'no marker for an unfinished shard');

  const resumed = await buildShard(recipe, { shard, workers: 1, reporter: new Reporter({ mode: 'quiet' }) });
  assert.equal(resumed.skipped, false);
  assert.ok(resumed.samples > 3, `shard 0 has ${resumed.samples} samples`);
  assert.ok(resumed.computed <= resumed.samples - 3, `resumed: ${resumed.computed} of ${resumed.samples} computed`);
  assert.ok(existsSync(join(shardDir(join(root, 'work'), 0), 'done.json')));
});
