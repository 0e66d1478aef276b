import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { photoJpeg } from '../../src/demo/synth.js';
import { Reporter } from '../../src/exec/reporter.js';
import { AugmentParams, augmentStep } from '../../src/steps/augment.js';
import type { StepContext } from '../../src/steps/types.js';
import { tempDir } from '../helpers/tmp.js';

interface Spec { id: string; label?: string; text?: string; meta?: Record<string, unknown> }

async function catalogWith(samples: Spec[]): Promise<StepContext> {
  const dir = await tempDir('imgsift-augment-');
  const catalog = await Catalog.open(join(dir, 'work'));
  await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 't', now(), 'running')`);
  const files = [];
  for (const [i, s] of samples.entries()) {
    const image = join(dir, `${i}.jpg`);
    await writeFile(image, await photoJpeg({ seed: 40 + i, width: 160, height: 120 }));
    files.push({ sample_id: s.id, role: 'image', uri: image });
  }
  await catalog.append('samples', COLUMNS.samples, samples.map((s, i) => ({
    id: s.id, source: 'test', label: s.label, text: s.text, meta: s.meta, split: 'train', group_key: `g${i}`, ord: i, first_run: 1, seen_run: 1,
  })));
  await catalog.append('files', COLUMNS.files, files);
  await useRun(catalog, 1);
  return { catalog, runId: 1, workdir: join(dir, 'work'), baseDir: dir, reporter: new Reporter({ mode: 'quiet' }) };
}

interface Child { id: string; parent_id: string; text: string | null; split: string; group_key: string; flip: boolean; flip_skipped: string | null; uri: string }
const children = (ctx: StepContext) => ctx.catalog.all<Child>(
  `SELECT s.id, s.parent_id, s.text, s.split, s.group_key, f.uri,
          json_extract(s.meta, '$.augment.flip')::BOOLEAN AS flip, json_extract_string(s.meta, '$.augment.flip_skipped') AS flip_skipped
   FROM active s JOIN files f ON f.sample_id = s.id AND f.role = 'image' WHERE s.parent_id IS NOT NULL ORDER BY s.id`,
);

test('augment: factor 3 makes two copies per sample that inherit caption, split and group; reg skipped; has_text never flipped', async () => {
  const ctx = await catalogWith([
    { id: 'a.jpg', text: 'ohwx, man, at a desk' },
    { id: 'b.jpg', text: 'ohwx, man, sign in the back', meta: { has_text: true } },
    { id: 'r.jpg', label: 'reg', text: 'a man' },
  ]);
  try {
    // Every copy of b would be flipped with prob. 1/2 per copy; use enough copies that some draw a flip.
    const params = AugmentParams.parse({ factor: 9, skip_labels: ['reg'] });
    const stats = await augmentStep.run(ctx, params);
    assert.equal(stats['copies made'], 16);
    const kids = await children(ctx);
    assert.deepEqual(kids.map((k) => k.id), [...Array.from({ length: 8 }, (_, i) => `a.jpg/aug${i + 1}`), ...Array.from({ length: 8 }, (_, i) => `b.jpg/aug${i + 1}`)]);
    for (const k of kids) {
      const parent = k.id.startsWith('a') ? 'a.jpg' : 'b.jpg';
      assert.equal(k.parent_id, parent);
      assert.equal(k.text, parent === 'a.jpg' ? 'ohwx, man, at a desk' : 'ohwx, man, sign in the back');
      assert.equal(k.split, 'train');
      const m = await sharp(k.uri).metadata();
      assert.deepEqual([m.width, m.height, m.format], [160, 120, 'png'], 'same size as the parent');
    }
    assert.ok(kids.filter((k) => k.parent_id === 'a.jpg').some((k) => k.flip), 'some copies of a are flipped');
    assert.ok(kids.filter((k) => k.parent_id === 'b.jpg').every((k) => !k.flip && k.flip_skipped === 'has_text'));

    // Rerun: same ids and bytes, from the cache.
    const bytes = await Promise.all(kids.map((k) => readFile(k.uri)));
    const again = await augmentStep.run(ctx, params);
    assert.equal(again['copies from cache'], 16);
    const kids2 = await children(ctx);
    assert.deepEqual(kids2.map((k) => k.id), kids.map((k) => k.id));
    for (const [i, k] of kids2.entries()) assert.ok((await readFile(k.uri)).equals(bytes[i]));
  } finally {
    ctx.catalog.close();
  }
});

test('augment: risky augmentation is refused unless allowed', () => {
  const risky = AugmentParams.safeParse({ color_jitter: { saturation: [0.5, 1.5], hue: 20 } });
  assert.ok(!risky.success);
  assert.match(risky.error!.issues[0].message, /risky augmentation refused: color_jitter/);
  assert.ok(!AugmentParams.safeParse({ crop: [0.5, 1] }).success, 'aggressive crop');
  assert.ok(!AugmentParams.safeParse({ rotate: 20 }).success, 'rotation beyond ±5°');
  assert.ok(AugmentParams.safeParse({ rotate: 20, allow_risky: true }).success);
});

test('dedup after augment never pairs a copy with its parent, and still finds real copies', async () => {
  const { build } = await import('../../src/exec/build.js');
  const { recipeFromObject } = await import('../../src/recipe/load.js');
  const { writePhotos } = await import('../helpers/dataset.js');
  const dir = await tempDir('imgsift-augment-dedup-');
  const names = await writePhotos(join(dir, 'images'), 4, { size: [160, 120] });
  // A real duplicate: the same photo under a second name.
  await writeFile(join(dir, 'images', 'copy.jpg'), await readFile(join(dir, 'images', names[0])));
  const recipe = recipeFromObject({
    name: 'aug', workdir: join(dir, 'w'), source: { format: 'folder', path: join(dir, 'images') },
    steps: [{ augment: { factor: 2 } }, { hash: {} }, { dedup_signals: {} }, { dedup: {} }],
  }, dir);
  const r = await build(recipe, { reporter: new Reporter({ mode: 'quiet' }), workers: 1 });
  assert.equal(r.summary.total, 10, 'five photos and five copies');
  const c = await Catalog.open(join(dir, 'w'));
  try {
    const dups = (await c.all<{ sample_id: string }>(`SELECT sample_id FROM issues WHERE type = 'duplicate' AND flagged`)).map((x) => x.sample_id);
    assert.equal(dups.length, 1, `only the planted copy: ${dups.join(', ')}`);
    assert.ok(!dups[0].includes('/aug'));
  } finally {
    c.close();
  }
});
