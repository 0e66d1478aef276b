import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildImageCatalog, type TestSample } from '../export/image-catalog.js';
import { BIN } from '../helpers/cli.js';
import { writePhotos } from '../helpers/dataset.js';
import { FILL_DISK, inSmallDisk } from '../helpers/small-disk.js';
import { tempDir } from '../helpers/tmp.js';

// A write the disk refuses is the user's to fix: the message names the errno and the path, the
// exit code is 2 (not "unexpected error", not a crash), and no file is left half-written.

const SAMPLES: TestSample[] = Array.from({ length: 40 }, (_, i) => ({
  id: `s${String(i).padStart(2, '0')}`, split: 'train', label: 'cat', text: `caption ${i}`, meta: null, image: i % 3,
}));

test('imgsift export to a full disk: ENOSPC and the file named, exit 2, nothing half-written', async () => {
  const { ctx, dir } = await buildImageCatalog(SAMPLES);
  ctx.catalog.close();
  const out = join(dir, 'out');
  await mkdir(out);
  for (const format of ['webdataset', 'imagefolder', 'manifest']) {
    // 64 KiB holds a few of the images but not all 40 samples; the manifest (16 KB) gets a full disk.
    const prep = format === 'manifest' ? 'fill "$OUT"' : '';
    const r = inSmallDisk(out, '64k', `${FILL_DISK}\n${prep}\nnode "$BIN" export --workdir "$WORK" --format ${format} --to "$OUT/x" --quiet; code=$?
      find "$OUT" -type f ! -name filler -printf '%P %s\\n' | sort; exit $code`, { BIN, WORK: join(dir, 'work'), OUT: out });
    assert.equal(r.code, 2, `${format}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /unexpected error|already finalized|\n\s+at /, format);
    assert.match(r.stderr, new RegExp(`imgsift: cannot write ${out}/x\\S*: no space left on device \\(ENOSPC\\)\\n`), format);
    const left = r.stdout.trim().split('\n').filter(Boolean);
    assert.ok(left.every((l) => !/\.tmp /.test(l)), `${format}: no temporary files left: ${left}`);
    if (format === 'webdataset') assert.deepEqual(left, [], 'no partial shard under its final name');
    if (format === 'manifest') assert.deepEqual(left, []);
    if (format === 'imagefolder') {
      // Files committed before the disk filled are whole copies of their images.
      const sizes = new Set(left.filter((l) => /\.(jpg|png) /.test(l)).map((l) => Number(l.split(' ')[1])));
      const whole = new Set(['a.jpg', 'b.jpg', 'c.png'].map((n) => statSync(join(dir, 'images', n)).size));
      for (const s of sizes) assert.ok(whole.has(s), `imagefolder: a file of ${s} bytes is not a whole image`);
    }
  }
});

test('imgsift build with its catalog on a full disk: the catalog file and ENOSPC named, exit 2, no stack trace', async () => {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 20, { size: [64, 48] });
  const recipe = (steps: string) =>
    `name: full\nworkdir: ${join(dir, 'disk', 'work')}\nsource: { format: folder, path: ./images }\nsteps:\n${steps}`;
  await writeFile(join(dir, 'r1.yaml'), recipe('  - probe: {}\n'));
  await writeFile(join(dir, 'r2.yaml'), recipe('  - probe: {}\n  - hash: {}\n'));
  await mkdir(join(dir, 'disk'));
  const r = inSmallDisk(join(dir, 'disk'), '8m', `${FILL_DISK}
    node "$BIN" build "$D/r1.yaml" --quiet >/dev/null || exit 50
    fill "$D/disk"
    node "$BIN" build "$D/r2.yaml" --quiet`, { BIN, D: dir });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`imgsift: cannot write ${dir}/disk/work/catalog\\.duckdb\\S*: no space left on device \\(ENOSPC\\)`));
  assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /);
});
