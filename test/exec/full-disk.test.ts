import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writePhotos } from '../helpers/dataset.js';
import { inSmallDisk } from '../helpers/small-disk.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The run, in a child process: the disk holding the catalog fills up the moment the per-sample
 * phase starts, so the phase's own batched result writes fail (not the ingest before it).
 */
const SCRIPT = `
  import { openSync, writeSync, closeSync } from 'node:fs';
  import { join } from 'node:path';
  import { build } from ${JSON.stringify(import.meta.resolve('../../src/exec/build.ts'))};
  import { recipeFromObject } from ${JSON.stringify(import.meta.resolve('../../src/recipe/load.ts'))};
  import { Reporter } from ${JSON.stringify(import.meta.resolve('../../src/exec/reporter.ts'))};
  import { asStorageError } from ${JSON.stringify(import.meta.resolve('../../src/errors.ts'))};
  const [dir, disk] = [process.env.D, process.env.SMALL_DISK_DIR];
  process.on('unhandledRejection', (e) => { console.log(JSON.stringify({ unhandled: String(e) })); process.exit(3); });
  const fill = () => {
    const fd = openSync(join(disk, 'filler'), 'w');
    const block = Buffer.alloc(4096);
    try { for (;;) writeSync(fd, block); } catch (e) { if (e.code !== 'ENOSPC') throw e; } finally { closeSync(fd); }
  };
  class FillingReporter extends Reporter {
    progress(label, total) {
      if (label.startsWith('probe')) fill();
      return super.progress(label, total);
    }
  }
  const recipe = recipeFromObject({
    name: 'full', workdir: join(disk, 'work'), source: { format: 'folder', path: join(dir, 'images') },
    steps: [{ probe: {} }, { hash: {} }],
  }, dir);
  try {
    await build(recipe, { reporter: new FillingReporter({ mode: 'quiet' }), workers: 1 });
    console.log(JSON.stringify({ finished: true }));
  } catch (err) {
    const e = asStorageError(err);
    console.log(JSON.stringify({ name: e.name, message: e.message }));
  }
`;

test('a catalog write failing inside the per-sample phase is the run\'s error, not an unhandled rejection', async () => {
  const dir = await tempDir();
  // Enough samples (x4 rows each) for the phase to flush a batch of results while it runs.
  await writePhotos(join(dir, 'images'), 200, { size: [48, 32] });
  await mkdir(join(dir, 'disk'));
  const r = inSmallDisk(join(dir, 'disk'), '16m', `node --import tsx --input-type=module -e "$SCRIPT"`, { SCRIPT, D: dir });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(out.name, 'StorageError', r.stdout);
  assert.match(out.message, new RegExp(`^cannot write ${dir}/disk/work/catalog\\.duckdb\\S*: no space left on device \\(ENOSPC\\)$`));
});
