import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { COLUMNS } from '../../src/catalog/catalog.js';
import { syncDrops, useRun } from '../../src/catalog/run-view.js';
import { ImageFolderOptions, UNLISTED_FILE, hasSplitKeyword, imageFolderExporter, imageFolderNames } from '../../src/export/imagefolder.js';
import { buildImageCatalog, listFiles, type TestSample } from './image-catalog.js';

const SAMPLES: TestSample[] = [
  { id: 'cat/001.jpg', split: 'train', label: 'cat', text: 'a cat on a mat', meta: { n: 1, score: 0.5, edit: 'add' }, image: 0 },
  { id: 'cat/002.jpg', split: 'train', label: 'cat', text: null, meta: { n: 2, score: 1, edit: 'remove' }, image: 1 },
  { id: 'dog/003.png', split: 'dev', label: 'dog', text: 'a dog', meta: { n: 3, score: 2.25 }, image: 2 },
  { id: 'test/004.jpg', split: 'train', label: 'dog', text: 'named like a test file', meta: { n: 4, score: 3, edit: 'add' }, image: 0 },
  { id: '10', split: 'test', label: null, text: 'numeric id', meta: { n: 5, score: 4, edit: { nested: true } }, image: 1 },
  { id: 'nosplit.jpg', split: null, label: 'bird', text: 'unsplit', meta: null, image: 2 },
  { id: 'gone.jpg', split: 'train', label: 'cat', text: 'file missing', meta: { n: 7, score: 1.5 }, image: -1 },
];

/**
 * The split Hugging Face assigns a data file to, by its path relative to data_dir
 * (datasets' KEYWORDS_IN_DIR_NAME_BASE_PATTERNS, as regexes); [] when none.
 */
function hfSplitsOf(rel: string): string[] {
  const keywords: Record<string, string[]> = {
    train: ['train', 'training'],
    validation: ['validation', 'valid', 'dev', 'val'],
    test: ['test', 'testing', 'eval', 'evaluation'],
  };
  const sep = '[-._ 0-9/]';
  const out: string[] = [];
  for (const [split, words] of Object.entries(keywords)) {
    if (words.some((k) => new RegExp(`^${k}${sep}.*$`).test(rel) || new RegExp(`^.*${sep}${k}${sep}.*$`).test(rel))) out.push(split);
  }
  return out;
}

test('imagefolder: split folders with metadata.jsonl whose file_name points at the copied image', async () => {
  const { ctx, images } = await buildImageCatalog(SAMPLES);
  try {
    const out = join(ctx.baseDir, 'hf');
    const stats = await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: 'hf' }));
    assert.equal(stats['samples train'], 4, 'three train samples plus the unsplit one; the missing file is skipped');
    assert.equal(stats['samples dev'], 1);
    assert.equal(stats['samples test'], 1);
    assert.equal(stats['samples skipped'], 1);
    assert.equal(stats['columns'], 'file_name, id, label, text, edit, n, score');

    const files = await listFiles(out);
    assert.deepEqual(files.filter((f) => f.endsWith('metadata.jsonl')), ['dev/metadata.jsonl', 'test/metadata.jsonl', 'train/metadata.jsonl']);
    assert.equal(files.length, 6 + 3);

    const typeOf = (v: unknown) => (v === null ? 'null' : typeof v);
    const columnTypes = new Map<string, Set<string>>();
    const seenIds: string[] = [];
    for (const split of ['dev', 'test', 'train']) {
      const lines = (await readFile(join(out, split, 'metadata.jsonl'), 'utf8')).split('\n');
      assert.equal(lines.pop(), '', 'ends with a newline');
      const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const ids = rows.map((r) => r.id as string);
      assert.deepEqual(ids, [...ids].sort(), 'sorted by id');
      for (const [i, row] of rows.entries()) {
        assert.deepEqual(Object.keys(row), ['file_name', 'id', 'label', 'text', 'edit', 'n', 'score'], 'same columns in the same order');
        const sample = SAMPLES.find((s) => s.id === row.id)!;
        seenIds.push(sample.id);
        assert.equal((sample.split ?? 'train'), split);
        // file_name is relative to the metadata file's folder and holds the original bytes.
        assert.ok(!(row.file_name as string).includes('/'));
        const bytes = await readFile(join(out, split, row.file_name as string));
        assert.ok(bytes.equals(images.get(sample.id)!), `${row.file_name} is a byte copy`);
        assert.equal(((await sharp(bytes).metadata()).format === 'png' ? 'png' : 'jpg'), (row.file_name as string).split('.').pop());
        assert.deepEqual(hfSplitsOf(`${split}/${row.file_name}`), [{ train: 'train', dev: 'validation', test: 'test' }[split]],
          `HF puts ${split}/${row.file_name} in exactly its own split`);
        assert.equal(row.label, sample.label ?? '', 'missing text is written as ""');
        assert.equal(row.text, sample.text ?? '');
        for (const [k, v] of Object.entries(row)) {
          if (!columnTypes.has(k)) columnTypes.set(k, new Set());
          if (v !== null) columnTypes.get(k)!.add(typeOf(v));
        }
        // Floats keep a decimal point even when whole, so no split is typed int.
        assert.match(lines[i], /"score":(\d+\.\d+|null)[,}]/);
        assert.match(lines[i], /"n":(\d+|null)[,}]/);
      }
    }
    assert.deepEqual(seenIds.sort(), SAMPLES.filter((s) => s.image >= 0).map((s) => s.id).sort());
    for (const [k, types] of columnTypes) assert.equal(types.size, 1, `column ${k} has one type across splits: ${[...types]}`);
    assert.deepEqual([...columnTypes.get('score')!], ['number']);
    assert.deepEqual([...columnTypes.get('n')!], ['number']);
    const test10 = JSON.parse((await readFile(join(out, 'test', 'metadata.jsonl'), 'utf8')).trim());
    assert.equal(test10.edit, '{"nested":true}', 'nested values become JSON text');
  } finally {
    ctx.catalog.close();
  }
});

test('imagefolder: reruns are byte-identical, leave unchanged files alone; what left the dataset is listed, and deleted only with prune', async () => {
  const { ctx } = await buildImageCatalog(SAMPLES);
  try {
    const a = join(ctx.baseDir, 'a');
    await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: a }));
    await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: join(ctx.baseDir, 'b') }));
    const files = await listFiles(a);
    assert.deepEqual(await listFiles(join(ctx.baseDir, 'b')), files);
    for (const f of files) assert.ok((await readFile(join(a, f))).equals(await readFile(join(ctx.baseDir, 'b', f))), `${f} differs`);

    const again = await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: a }));
    assert.equal(again['files written'], 0);
    assert.equal(again['files unchanged'], files.length);
    assert.equal(again['unlisted files (not pruned)'], undefined);
    assert.ok(!existsSync(join(ctx.workdir, UNLISTED_FILE)));

    // The only test sample and one train sample are dropped.
    await ctx.catalog.append('drops', COLUMNS.drops, [
      { sample_id: '10', reason: 'duplicate', step: 'dedup', run_id: 1 },
      { sample_id: 'cat/001.jpg', reason: 'leak', step: 'leaks', run_id: 1 },
    ]);
    await syncDrops(ctx.catalog, 1);
    await useRun(ctx.catalog, 1);
    const names = imageFolderNames(['10', 'cat/001.jpg']);
    const gone = [`test/${names.get('10')}.jpg`, 'test/metadata.jsonl', `train/${names.get('cat/001.jpg')}.jpg`].sort();
    // Without prune: listed (stats, warning, the workdir's list), nothing deleted.
    const third = await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: a }));
    assert.equal(third['unlisted files (not pruned)'], 3, 'two images and the test metadata');
    assert.equal(third['files written'], 1, 'only train/metadata.jsonl changed');
    assert.deepEqual(await listFiles(a), files, 'nothing is deleted without prune');
    assert.deepEqual((await readFile(join(ctx.workdir, UNLISTED_FILE), 'utf8')).trim().split('\n'), gone);
    // With prune: deleted and counted.
    const fourth = await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: a, prune: true }));
    assert.equal(fourth['unlisted files pruned'], 3);
    assert.equal(fourth['files written'], 0);
    const now = await listFiles(a);
    assert.deepEqual(files.filter((f) => !now.includes(f)).sort(), gone);
    assert.equal(now.length, files.length - 3);
    const train = (await readFile(join(a, 'train', 'metadata.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l).id);
    assert.deepEqual(train, ['cat/002.jpg', 'nosplit.jpg', 'test/004.jpg']);
    const fifth = await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: a, prune: true }));
    assert.equal(fifth['unlisted files pruned'], undefined, 'nothing left to prune');
  } finally {
    ctx.catalog.close();
  }
});

test('imagefolder: stray files someone else put under the destination are listed without prune and deleted with it; other files stay', async () => {
  const { ctx } = await buildImageCatalog(SAMPLES);
  try {
    const out = join(ctx.baseDir, 'hf');
    await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: out }));
    const ours = await listFiles(out);
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).png().toBuffer();
    const strays = ['train/stray.png', 'train/old/deep.png', 'validation/metadata.jsonl', 'validation/x.png', 'loose.png'];
    for (const p of strays) {
      await mkdir(dirname(join(out, p)), { recursive: true });
      await writeFile(join(out, p), p.endsWith('.jsonl') ? '{"file_name":"x.png"}\n' : png);
    }
    // Not images HF loads, or hidden: never touched.
    const kept = ['README.md', 'train/notes.txt', '.cache/y.png'];
    for (const p of kept) {
      await mkdir(dirname(join(out, p)), { recursive: true });
      await writeFile(join(out, p), p.endsWith('.png') ? png : 'x');
    }
    const listed = await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: out }));
    assert.equal(listed['unlisted files (not pruned)'], strays.length);
    assert.deepEqual((await readFile(join(ctx.workdir, UNLISTED_FILE), 'utf8')).trim().split('\n'), [...strays].sort());
    assert.deepEqual(await listFiles(out), [...ours, ...strays, ...kept].sort(), 'nothing deleted without prune');

    const pruned = await imageFolderExporter.run(ctx, ImageFolderOptions.parse({ to: out, prune: true }));
    assert.equal(pruned['unlisted files pruned'], strays.length);
    assert.deepEqual(await listFiles(out), [...ours, ...kept].sort());
  } finally {
    ctx.catalog.close();
  }
});

test('imagefolder: split renames, explicit columns, re-encoding and option errors', async () => {
  const { ctx } = await buildImageCatalog(SAMPLES);
  try {
    const out = join(ctx.baseDir, 'custom');
    const stats = await imageFolderExporter.run(
      ctx,
      ImageFolderOptions.parse({
        to: out, splits: { dev: 'validation' }, columns: { caption: 'text', edit_type: 'meta.edit', source: 'path' },
        reencode: { format: 'webp', quality: 70 },
      }),
    );
    assert.equal(stats['files re-encoded'], 6);
    assert.equal(stats['samples validation'], 1);
    const row = JSON.parse((await readFile(join(out, 'validation', 'metadata.jsonl'), 'utf8')).trim());
    assert.deepEqual(Object.keys(row), ['file_name', 'caption', 'edit_type', 'source']);
    assert.equal(row.caption, 'a dog');
    assert.equal(row.edit_type, '');
    assert.equal(row.source, 'data/dog/003.png');
    assert.match(row.file_name, /\.webp$/);
    assert.equal((await sharp(join(out, 'validation', row.file_name)).metadata()).format, 'webp');

    const bad = (o: unknown) => {
      const r = ImageFolderOptions.safeParse(o);
      assert.equal(r.success, false);
      return r.error!.issues.map((i) => i.message).join('\n');
    };
    assert.match(bad({ to: 'x', columns: { mask_file_name: 'path' } }), /read as an image path/);
    assert.match(bad({ to: 'x', columns: { c: 'caption' } }), /source 'caption' must be one of/);
    assert.match(bad({ to: 'x', splits: { dev: '../up' } }), /folder name '\.\.\/up'/);
  } finally {
    ctx.catalog.close();
  }
});

test('file names never carry a Hugging Face split keyword', () => {
  assert.ok(hasSplitKeyword('test_004_jpg'));
  assert.ok(hasSplitKeyword('a-val'));
  assert.ok(hasSplitKeyword('x_train2'));
  assert.ok(!hasSplitKeyword('contest_1'));
  assert.ok(!hasSplitKeyword('devices'));
  const names = imageFolderNames(['test/004.jpg', 'cat/001.jpg', 'validation', 'my-dev-set/1.png']);
  assert.equal(names.get('cat/001.jpg'), 'cat_001_jpg');
  for (const id of ['test/004.jpg', 'validation', 'my-dev-set/1.png']) assert.match(names.get(id)!, /^s[0-9a-f]{16}$/);
  for (const n of names.values()) assert.deepEqual(hfSplitsOf(`${n}.jpg`), []);
});
