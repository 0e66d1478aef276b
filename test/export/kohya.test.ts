import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { KohyaOptions, kohyaExporter, withTrigger } from '../../src/export/kohya.js';
import { buildImageCatalog, listFiles, type TestSample } from './image-catalog.js';

const SAMPLES: TestSample[] = [
  { id: 'me/001.jpg', split: 'train', label: 'portrait', text: 'a man smiling, outdoors', meta: null, image: 0 },
  { id: 'me/002.jpg', split: 'train', label: 'portrait', text: 'mytoken, a man in a hat', meta: null, image: 1 },
  { id: 'me/003.png', split: 'dev', label: 'fullbody', text: null, meta: { alt: 'standing' }, image: 2 },
  { id: 'reg/001.jpg', split: 'reg', label: 'person', text: 'a person', meta: null, image: 1 },
  { id: 'reg/002.png', split: 'reg', label: 'person', text: null, meta: null, image: 2 },
  { id: 'me/broken.jpg', split: 'train', label: 'portrait', text: 'missing', meta: null, image: -1 },
];

const BASE = { trigger: 'mytoken', class: 'person', reg: { split: 'reg' } };

test('kohya: <repeats>_<trigger class> folders with captions beside each image, reg/<repeats>_<class>', async () => {
  const { ctx, images } = await buildImageCatalog(SAMPLES);
  try {
    const out = join(ctx.baseDir, 'lora');
    const stats = await kohyaExporter.run(ctx, KohyaOptions.parse({ to: 'lora', ...BASE }));
    const files = await listFiles(out);
    const img = files.filter((f) => f.startsWith('img/10_mytoken person/'));
    const reg = files.filter((f) => f.startsWith('reg/1_person/'));
    assert.equal(img.length + reg.length, files.length, `nothing outside the concept folders: ${files}`);
    assert.equal(img.filter((f) => f.endsWith('.txt')).length, 3);
    assert.equal(img.filter((f) => !f.endsWith('.txt')).length, 3);
    assert.equal(stats['images img/10_mytoken person'], 3);
    assert.equal(stats['images reg/1_person'], 2);
    assert.equal(stats['samples skipped'], 1);

    const caption = async (dir: string, stem: string) => readFile(join(out, dir, `${stem}.txt`), 'utf8');
    assert.equal(await caption('img/10_mytoken person', 'me_001_jpg'), 'mytoken, a man smiling, outdoors\n');
    assert.equal(await caption('img/10_mytoken person', 'me_002_jpg'), 'mytoken, a man in a hat\n', 'no second trigger');
    assert.equal(await caption('img/10_mytoken person', 'me_003_png'), 'mytoken\n', 'no text: the trigger alone');
    assert.equal(await caption('reg/1_person', 'reg_001_jpg'), 'a person\n', 'reg captions have no trigger');
    assert.ok(!reg.includes('reg/1_person/reg_002_png.txt'), 'no caption file without caption text');

    // Images are byte copies with the extension of their format.
    assert.ok((await readFile(join(out, 'img/10_mytoken person/me_001_jpg.jpg'))).equals(images.get('me/001.jpg')!));
    assert.ok((await readFile(join(out, 'img/10_mytoken person/me_003_png.png'))).equals(images.get('me/003.png')!));
    assert.ok((await readFile(join(out, 'reg/1_person/reg_002_png.png'))).equals(images.get('reg/002.png')!));
  } finally {
    ctx.catalog.close();
  }
});

test('kohya: reruns are byte-identical; a new repeat count replaces the old folder', async () => {
  const { ctx } = await buildImageCatalog(SAMPLES);
  try {
    const a = join(ctx.baseDir, 'a');
    const b = join(ctx.baseDir, 'b');
    await kohyaExporter.run(ctx, KohyaOptions.parse({ to: a, ...BASE }));
    await kohyaExporter.run(ctx, KohyaOptions.parse({ to: b, ...BASE }));
    const files = await listFiles(a);
    assert.deepEqual(await listFiles(b), files);
    for (const f of files) assert.ok((await readFile(join(a, f))).equals(await readFile(join(b, f))), `${f} differs`);
    const again = await kohyaExporter.run(ctx, KohyaOptions.parse({ to: a, ...BASE }));
    assert.equal(again['files written'], 0);
    assert.equal(again['files unchanged'], files.length);

    const five = await kohyaExporter.run(ctx, KohyaOptions.parse({ to: a, ...BASE, repeats: 5 }));
    assert.equal(five['stale files removed'], 6);
    const now = await listFiles(a);
    assert.ok(now.every((f) => f.startsWith('img/5_mytoken person/') || f.startsWith('reg/1_person/')), String(now));
  } finally {
    ctx.catalog.close();
  }
});

test('kohya: per-label folders, .caption files, split filter, reg by tag, re-encoding', async () => {
  const { ctx } = await buildImageCatalog(SAMPLES);
  try {
    await ctx.catalog.run(`INSERT INTO tags (sample_id, tag) VALUES ('reg/001.jpg', 'regularization'), ('me/001.jpg', 'regularization')`);
    const out = join(ctx.baseDir, 'labels');
    const stats = await kohyaExporter.run(
      ctx,
      KohyaOptions.parse({
        to: out, repeats: 3, folder_per_label: true, name: 'misc', caption_extension: '.caption', trigger: 'tok',
        splits: ['train', 'dev'], reg: { tag: 'regularization', class: 'man', repeats: 2 }, reencode: { format: 'jpeg', quality: 80 },
      }),
    );
    const files = await listFiles(out);
    assert.deepEqual(files, [
      'img/3_fullbody/me_003_png.caption',
      'img/3_fullbody/me_003_png.jpg',
      'img/3_portrait/me_002_jpg.caption',
      'img/3_portrait/me_002_jpg.jpg',
      'reg/2_man/me_001_jpg.jpg',
      'reg/2_man/me_001_jpg.caption',
      'reg/2_man/reg_001_jpg.caption',
      'reg/2_man/reg_001_jpg.jpg',
    ].sort());
    assert.equal(stats['files re-encoded'], 4);
    assert.equal((await sharp(join(out, 'img/3_fullbody/me_003_png.jpg')).metadata()).format, 'jpeg');
    assert.equal(await readFile(join(out, 'img/3_portrait/me_002_jpg.caption'), 'utf8'), 'tok, mytoken, a man in a hat\n');
  } finally {
    ctx.catalog.close();
  }
});

test('kohya: option errors and trigger prefixing', () => {
  const bad = (o: unknown) => {
    const r = KohyaOptions.safeParse(o);
    assert.equal(r.success, false);
    return r.error!.issues.map((i) => i.message).join('\n');
  };
  assert.match(bad({ to: 'x' }), /give name, or trigger/);
  assert.match(bad({ to: 'x', name: 'n', reg: { split: 'reg' } }), /need a class word/);
  assert.match(bad({ to: 'x', name: 'n', class: 'c', reg: { split: 'reg', tag: 't' } }), /exactly one of split, tag or label/);
  assert.match(bad({ to: 'x', name: 'n', caption_extension: 'txt' }), /caption_extension must be a dot/);
  assert.match(bad({ to: 'x', name: 'n', caption_extension: '.png' }), /is an image extension/);
  assert.match(bad({ to: 'x', name: 'n', repeats: 0 }), />=1|too small/i);
  assert.equal(withTrigger('a cat', 'tok', ', '), 'tok, a cat');
  assert.equal(withTrigger('Tok, a cat', 'tok', ', '), 'Tok, a cat');
  assert.equal(withTrigger('token of love', 'tok', ', '), 'tok, token of love');
  assert.equal(withTrigger(null, 'tok', ' '), 'tok');
});
