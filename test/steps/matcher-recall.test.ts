import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename, join } from 'node:path';
import { runLeaksDirs } from '../../src/cli/leaks.js';
import { Reporter } from '../../src/exec/reporter.js';
import { photosAvailable, plantPhotos, scorePlanted, TRANSFORMS } from '../helpers/planted-photos.js';
import { tempDir } from '../helpers/tmp.js';

const root = await tempDir();
const missing = photosAvailable();

// Issue 16 point 5: `imgsift leaks` with its defaults finds copies cropped, rotated, watermarked,
// captioned, mirrored, letterboxed, recompressed and resized, on real photos, and flags no clean
// test image (similar scenes and overlapping crops of the same photo included).
test('leaks (defaults) finds every planted transform of real photos ≥90%, precision ≥0.99, no clean image flagged', { skip: missing }, async () => {
  const set = await plantPhotos(root, { large: 6, small: 5, seed: 5 });
  assert.equal(set.leaks.length, 11 * TRANSFORMS.length);
  const r = await runLeaksDirs(set.trainDir, set.testDir, join(root, 'report.csv'), {
    methods: ['exact', 'perceptual'], workers: 1, workdir: join(root, 'work'), reporter: new Reporter({ mode: 'quiet' }),
  });
  const s = scorePlanted(set, r.rows.map((x) => [basename(x.train_image), basename(x.test_image)]));
  const why = () => JSON.stringify({ missed: s.missed.map((m) => `${m.test} (${m.detail})`), falsePairs: s.falsePairs }, null, 1);
  for (const t of TRANSFORMS) {
    const e = s.recallByTransform[t];
    assert.ok(e.recall >= 0.9, `${t}: ${e.found}/${e.of} found ${why()}`);
  }
  assert.ok(s.leakRecall >= 0.95, `leak recall ${s.leakRecall} ${why()}`);
  assert.ok(s.precision >= 0.99, `precision ${s.precision} ${why()}`);
  assert.deepEqual(s.cleanFlagged, [], why());

  // matcher: false is the plain hash test of seed 002 (same workdir: the per-image work is reused);
  // it misses most crops and rotations, which is what the matcher is for.
  const plain = await runLeaksDirs(set.trainDir, set.testDir, join(root, 'plain.csv'), {
    methods: ['exact', 'perceptual'], matcher: false, workers: 1, workdir: join(root, 'work'), reporter: new Reporter({ mode: 'quiet' }),
  });
  const p = scorePlanted(set, plain.rows.map((x) => [basename(x.train_image), basename(x.test_image)]));
  assert.ok(p.recallByTransform.crop.recall < 0.9 && p.leakRecall < s.leakRecall, JSON.stringify(p.recallByTransform));
  assert.ok(plain.rows.every((x) => x.method === 'exact' || (x.hamming_distance ?? 99) <= 5));
});
