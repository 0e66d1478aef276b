/**
 * Nothing is read from outside the dataset root, and nothing is passed over in silence: manifest
 * (jsonl, csv, parquet) and imagefolder entries whose REAL path escapes the root are refused as
 * `outside_root`, and every kind of odd file (SVG, link loops, broken links, FIFOs, unsupported
 * formats) lands in the run's skipped.jsonl with its reason, counted in the summary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { photoJpeg } from '../../src/demo/synth.js';
import { JsonlSource } from '../../src/sources/jsonl.js';
import { CsvSource } from '../../src/sources/csv.js';
import { ParquetSource } from '../../src/sources/parquet.js';
import { ImageFolderSource } from '../../src/sources/imagefolder.js';
import { DEFAULT_IMAGE_EXTENSIONS } from '../../src/sources/config.js';
import type { Skip } from '../../src/sources/types.js';
import { build } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';
import { collect, tempDir } from './helpers.js';

/**
 * A dataset root `data/` with three good photos (one reached through a link inside the root) and
 * the hostile entries, plus `secret/` outside the root that links point at.
 */
async function hostileTree(dir: string): Promise<{ root: string; secret: string; names: string[] }> {
  const root = join(dir, 'data');
  const secret = join(dir, 'secret');
  await mkdir(join(root, 'img'), { recursive: true });
  await mkdir(secret, { recursive: true });
  for (const [i, name] of ['a.jpg', 'b.jpg'].entries()) await writeFile(join(root, 'img', name), await photoJpeg({ seed: 10 + i, width: 64, height: 48 }));
  await writeFile(join(secret, 'private.jpg'), await photoJpeg({ seed: 99, width: 64, height: 48 }));
  await symlink(join(root, 'img', 'a.jpg'), join(root, 'img', 'inside-link.jpg')); // stays inside: fine
  await symlink(join(secret, 'private.jpg'), join(root, 'img', 'out-link.jpg')); // file link out
  await symlink(secret, join(root, 'linked-dir')); // folder link out: linked-dir/private.jpg
  await symlink(join(root, 'img', 'gone.jpg'), join(root, 'img', 'broken.jpg'));
  await symlink(join(root, 'img', 'loop.jpg'), join(root, 'img', 'loop.jpg'));
  execFileSync('mkfifo', [join(root, 'img', 'pipe.jpg')]);
  const names = ['img/a.jpg', 'img/b.jpg', 'img/inside-link.jpg', 'img/out-link.jpg', 'linked-dir/private.jpg', 'img/broken.jpg', 'img/loop.jpg', 'img/pipe.jpg'];
  return { root, secret, names };
}

/** The reasons each refused entry got, by its path relative to the root. */
function reasons(skips: Skip[], root: string): Record<string, string> {
  return Object.fromEntries(skips.map((s) => [s.path.slice(root.length + 1), s.reason]));
}

const EXPECTED_REFUSALS = {
  'img/out-link.jpg': 'outside_root',
  'linked-dir/private.jpg': 'outside_root',
  'img/broken.jpg': 'broken symbolic link',
  'img/loop.jpg': 'symbolic link loop',
  'img/pipe.jpg': 'FIFO (named pipe)',
};

test('jsonl, csv and parquet manifests refuse files whose real path leaves the root, with the reason', async (t) => {
  const dir = await tempDir(t);
  const { root, names } = await hostileTree(dir);
  await writeFile(join(root, 'm.jsonl'), names.map((n) => JSON.stringify({ image: n })).join('\n') + '\n');
  await writeFile(join(root, 'm.csv'), ['image', ...names].join('\n') + '\n');
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  await conn.run(`COPY (SELECT unnest([${names.map((n) => `'${n}'`).join(',')}]) AS image) TO '${join(root, 'm.parquet')}' (FORMAT parquet)`);
  conn.closeSync();
  db.closeSync();

  const base = { fields: {}, allowAbsolutePaths: false };
  // The out-link is the 4th entry: line 4 of the jsonl, line 5 of the csv (after its header), row 4.
  for (const [source, at] of [
    [new JsonlSource({ ...base, path: join(root, 'm.jsonl') }), 'm.jsonl:4'],
    [new CsvSource({ ...base, path: join(root, 'm.csv'), delimiter: ',' }), 'm.csv:5'],
    [new ParquetSource({ ...base, path: join(root, 'm.parquet') }), 'm.parquet:4'],
  ] as const) {
    const skips: Skip[] = [];
    const { records, bad } = await collect(source, { onSkip: (s) => skips.push(s) });
    assert.deepEqual(bad, [], source.description);
    assert.deepEqual(records.map((r) => r.path), ['img/a.jpg', 'img/b.jpg', 'img/inside-link.jpg'], source.description);
    assert.deepEqual(reasons(skips, root), EXPECTED_REFUSALS, source.description);
    const out = skips.find((s) => s.path.endsWith('out-link.jpg'))!;
    assert.match(out.detail!, /^real path \S*\/secret\/private\.jpg is outside the dataset root \S*\/data; listed at /);
    assert.ok(out.detail!.endsWith(`/data/${at}`), out.detail);
  }

  // allow_absolute_paths accepts any local file, so the real-path check is not made.
  const open = await collect(new JsonlSource({ ...base, allowAbsolutePaths: true, path: join(root, 'm.jsonl') }));
  assert.ok(open.records.some((r) => r.path === 'img/out-link.jpg'));
});

test('imagefolder metadata rows are held to the dataset root, not only to their own folder', async (t) => {
  const dir = await tempDir(t);
  const { root } = await hostileTree(dir);
  // train/metadata.jsonl lists a link to a file elsewhere in the dataset (fine) and links out of it.
  await mkdir(join(root, 'train'));
  await symlink(join(root, 'img', 'b.jpg'), join(root, 'train', 'sibling.jpg'));
  await symlink(join(dir, 'secret', 'private.jpg'), join(root, 'train', 'out.jpg'));
  await writeFile(join(root, 'train', 'a.jpg'), await photoJpeg({ seed: 5, width: 32, height: 32 }));
  await writeFile(join(root, 'train', 'metadata.jsonl'), ['a.jpg', 'sibling.jpg', 'out.jpg'].map((f) => JSON.stringify({ file_name: f })).join('\n') + '\n');
  const skips: Skip[] = [];
  const { records } = await collect(
    new ImageFolderSource({ path: root, fields: {}, extensions: [...DEFAULT_IMAGE_EXTENSIONS], labels: 'infer' }),
    { onSkip: (s) => skips.push(s) },
  );
  assert.deepEqual(records.map((r) => r.path), ['train/a.jpg', 'train/sibling.jpg']);
  assert.equal(reasons(skips, root)['train/out.jpg'], 'outside_root');
});

test('a build lists every refused entry in skipped.jsonl and counts them by reason; the outside file is never read', async (t) => {
  const dir = await tempDir(t);
  const { root, names } = await hostileTree(dir);
  await writeFile(join(root, 'm.jsonl'), names.map((n) => JSON.stringify({ image: n })).join('\n') + '\n');
  const recipe = join(dir, 'recipe.yaml');
  await writeFile(recipe, 'name: roots\nworkdir: work\nsource: { format: jsonl, path: data/m.jsonl }\nsteps:\n  - probe: {}\n');
  const r = await build(recipe, { reporter: new Reporter({ mode: 'quiet' }), workers: 1 });
  assert.equal(r.summary.ingest.read, 3);
  assert.deepEqual(r.summary.ingest.skipped, { outside_root: 2, 'broken symbolic link': 1, 'symbolic link loop': 1, 'FIFO (named pipe)': 1 });
  const listed = (await readFile(join(dir, 'work', 'skipped.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(Object.fromEntries(listed.map((l) => [l.path.slice(root.length + 1), l.reason])), EXPECTED_REFUSALS);
  assert.ok(listed.every((l) => l.source.startsWith('jsonl manifest')));
  assert.equal(r.summary.total, 3);
});

test('the folder source lists SVGs, link loops, broken links, FIFOs and unsupported formats in skipped.jsonl', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'images');
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(root, 'ok.jpg'), await photoJpeg({ seed: 1, width: 32, height: 32 }));
  await writeFile(join(root, 'logo.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>');
  await writeFile(join(root, 'scan.tga'), Buffer.alloc(64));
  await symlink(join(root, 'nowhere.jpg'), join(root, 'broken.jpg'));
  await symlink(join(root, 'loop.jpg'), join(root, 'loop.jpg'));
  await symlink(root, join(root, 'sub', 'again')); // a folder reached twice
  execFileSync('mkfifo', [join(root, 'pipe.jpg')]);
  const recipe = join(dir, 'recipe.yaml');
  await writeFile(recipe, 'name: kinds\nworkdir: work\nsource: { format: folder, path: images }\nsteps:\n  - probe: {}\n');
  const r = await build(recipe, { reporter: new Reporter({ mode: 'quiet' }), workers: 1 });
  assert.equal(r.summary.total, 1);
  const listed = (await readFile(join(dir, 'work', 'skipped.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const byName = Object.fromEntries(listed.map((l) => [l.path.slice(root.length + 1), l.reason]));
  assert.deepEqual(byName, {
    'broken.jpg': 'broken symbolic link',
    'logo.svg': 'SVG (vector image, not supported)',
    'loop.jpg': 'symbolic link loop',
    'pipe.jpg': 'FIFO (named pipe)',
    'scan.tga': 'not an image extension',
    'sub/again': 'folder reached twice (symbolic link loop)',
  });
  for (const reason of Object.values(byName)) assert.ok(r.summary.ingest.skipped[reason] >= 1, reason);
});
