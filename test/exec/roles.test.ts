import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdir, readFile, writeFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { collectGarbage } from '../../src/exec/gc.js';
import { photoJpeg } from '../../src/demo/synth.js';
import { sha256Hex } from '../../src/util/hash.js';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';

const quiet = () => new Reporter({ mode: 'quiet' });

async function withCatalog<T>(workdir: string, fn: (c: Catalog) => Promise<T>): Promise<T> {
  const c = await Catalog.open(workdir);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

test('a two-role manifest: the output role behind a CDN prefix on 127.0.0.1 is downloaded, steps read either role', async () => {
  const dir = await tempDir();
  const inputs = join(dir, 'inputs');
  await mkdir(inputs, { recursive: true });
  const outputs = new Map<string, Buffer>();
  const rows: string[] = [];
  for (let i = 0; i < 6; i++) {
    await writeFile(join(inputs, `in${i}.jpg`), await photoJpeg({ seed: 10 + i, width: 96, height: 64 }));
    // Outputs are PNGs of another size: a download that kept the bytes keeps them PNG.
    outputs.set(`/images/positive-edit/${i}.png`, await sharp(await photoJpeg({ seed: 50 + i, width: 80, height: 80 })).png().toBuffer());
    rows.push(JSON.stringify({ open_image_input_url: `inputs/in${i}.jpg`, output_image: `images/positive-edit/${i}.png`, edit_type: i % 2 ? 'add' : 'style' }));
  }
  await writeFile(join(dir, 'sft.jsonl'), rows.join('\n') + '\n');
  const server = createServer((req, res) => {
    const body = outputs.get(req.url ?? '');
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const cdn = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    const recipe = recipeFromObject({
      name: 'pairs',
      workdir: join(dir, 'work'),
      source: {
        format: 'jsonl', path: join(dir, 'sft.jsonl'),
        fields: { files: { input: 'open_image_input_url', output: { from: 'output_image', prefix: cdn } }, main: 'input' },
        where: "edit_type = 'add'",
      },
      steps: [{ download: { resize_mode: 'no' } }, { probe: { role: 'output' } }, { hash: { role: 'input' } }],
      export: [],
    }, dir);
    const r = await build(recipe, { reporter: quiet(), workers: 1 });
    assert.equal(r.summary.total, 3, 'source.where keeps the three add edits');
    await withCatalog(join(dir, 'work'), async (c) => {
      const files = await c.all<{ sample_id: string; role: string; uri: string }>(`SELECT * FROM files ORDER BY sample_id, role`);
      assert.deepEqual([...new Set(files.map((f) => f.role))].sort(), ['image', 'output']);
      const outs = files.filter((f) => f.role === 'output');
      assert.equal(outs.length, 3);
      for (const f of outs) {
        assert.ok(!f.uri.startsWith('http'), 'the output now points at the stored object');
        const bytes = await readFile(f.uri);
        assert.equal(bytes.subarray(1, 4).toString(), 'PNG', 'PNG bytes are kept as PNG');
      }
      const probed = await c.all<{ w: number; f: string }>(
        `SELECT CAST(result->>'width' AS INT) AS w, result->>'format' AS f FROM step_results WHERE step = 'probe'`,
      );
      assert.deepEqual(probed.map((p) => [p.w, p.f]), [[80, 'png'], [80, 'png'], [80, 'png']], 'probe read the output role');
      const hashed = await c.scalar(`SELECT count(*) FROM step_results WHERE step = 'hash'`);
      assert.equal(hashed, 3, 'hash read the input (main) role');
    });
  } finally {
    server.close();
  }
});

test('explode makes one sample per item; crop writes each item box as a derived file that a later step hashes; a rerun with other items leaves no orphans', async () => {
  const dir = await tempDir();
  const images = join(dir, 'images');
  await mkdir(images, { recursive: true });
  const photo = await photoJpeg({ seed: 7, width: 200, height: 150 });
  await writeFile(join(images, 'a.jpg'), photo);
  await writeFile(join(images, 'b.jpg'), await photoJpeg({ seed: 8, width: 120, height: 90 }));
  const write = (items: Record<string, unknown[]>) =>
    writeFile(join(dir, 'annos.jsonl'), Object.entries(items).map(([f, it]) => JSON.stringify({ image: `images/${f}`, items: it })).join('\n') + '\n');
  await write({
    'a.jpg': [{ bbox: [10, 20, 90, 100], style: 1 }, { bbox: [150, 100, 260, 160], style: 2 }, { bbox: [0, 0, 40, 30], style: 0 }],
    'b.jpg': [{ bbox: [5, 5, 60, 45], style: 1 }],
  });
  const recipe = () => recipeFromObject({
    name: 'items',
    workdir: join(dir, 'work'),
    source: { format: 'jsonl', path: join(dir, 'annos.jsonl'), explode: { field: 'items', id: 'item{index}' }, where: 'style > 0' },
    steps: [{ crop: { box: 'bbox', quality: 95 } }, { hash: { role: 'crop', algos: ['phash'] } }],
    export: [{ format: 'files', to: join(dir, 'out'), role: 'crop', path: '{split}/{parent_id}_item{index}.{ext}' }],
  }, dir);
  const first = await build(recipe(), { reporter: quiet(), workers: 1 });
  assert.equal(first.summary.total, 3, 'style 0 left out by source.where, after explode');
  // The export writes the crop's bytes as they were stored.
  const exported = await readFile(join(dir, 'out', 'all', 'images/a.jpg_item1.jpg'));
  await withCatalog(join(dir, 'work'), async (c) => {
    const ids = (await c.all<{ id: string; parent_id: string }>(`SELECT id, parent_id FROM samples ORDER BY id`));
    assert.deepEqual(ids.map((r) => [r.id, r.parent_id]), [['images/a.jpg/item1', 'images/a.jpg'], ['images/a.jpg/item2', 'images/a.jpg'], ['images/b.jpg/item1', 'images/b.jpg']]);
    const crops = await c.all<{ sample_id: string; uri: string }>(`SELECT sample_id, uri FROM files WHERE role = 'crop' ORDER BY sample_id`);
    assert.equal(crops.length, 3);
    // The first item's crop is the box as sharp cuts it from the stored image, encoded at q95.
    const expected = await sharp(photo).extract({ left: 10, top: 20, width: 80, height: 80 }).removeAlpha().jpeg({ quality: 95 }).toBuffer();
    const got = await readFile(crops[0].uri);
    assert.equal(sha256Hex(got), sha256Hex(expected));
    assert.equal(sha256Hex(exported), sha256Hex(got), 'exported byte-identically');
    assert.ok(crops[0].uri.includes(`/assets/${sha256Hex(got).slice(0, 2)}/${sha256Hex(got)}.jpg`));
    // The second box runs past the right edge: clamped to the image (150..200 × 100..150).
    const meta = await sharp(await readFile(crops[1].uri)).metadata();
    assert.deepEqual([meta.width, meta.height], [50, 50]);
    const lineage = await c.all<{ step: string }>(`SELECT step FROM derived_files`);
    assert.equal(lineage.length, 3);
    assert.ok(lineage.every((l) => l.step === 'crop'));
    const hashes = await c.all<{ content_hash: string }>(`SELECT content_hash FROM step_results WHERE step = 'hash'`);
    assert.deepEqual(new Set(hashes.map((h) => h.content_hash)), new Set(await Promise.all(crops.map(async (x) => sha256Hex(await readFile(x.uri))))), 'hash ran on the crops');
  });

  // Rerun: cached.
  const again = await build(recipe(), { reporter: quiet(), workers: 1 });
  const cropStats = again.summary.steps.find((s) => s.name === 'crop')!.stats;
  assert.equal(cropStats['samples computed'], 0);

  // Other annotations: a.jpg loses item2, b.jpg gets another box. The old children go.
  await write({
    'a.jpg': [{ bbox: [10, 20, 90, 100], style: 1 }],
    'b.jpg': [{ bbox: [10, 10, 50, 50], style: 1 }, { bbox: [0, 0, 30, 30], style: 3 }],
  });
  const third = await build(recipe(), { reporter: quiet(), workers: 1 });
  assert.equal(third.summary.total, 3);
  await withCatalog(join(dir, 'work'), async (c) => {
    const ids = (await c.all<{ id: string }>(`SELECT id FROM samples ORDER BY id`)).map((r) => r.id);
    assert.deepEqual(ids, ['images/a.jpg/item1', 'images/b.jpg/item1', 'images/b.jpg/item2'], 'no orphan children in the catalog');
    assert.equal(await c.scalar(`SELECT count(*) FROM files WHERE sample_id NOT IN (SELECT id FROM samples)`), 0);
    assert.equal(await c.scalar(`SELECT count(*) FROM derived_files WHERE sample_id NOT IN (SELECT id FROM samples)`), 0);
    const before = (await readdir(join(dir, 'work', 'assets'), { recursive: true })).filter((n) => n.endsWith('.jpg')).length;
    const gc = await collectGarbage(c, join(dir, 'work'));
    assert.equal(gc.kept, 3);
    assert.equal(gc.removed, before - 3, 'the crops of the old boxes are unreferenced');
    const live = await c.all<{ uri: string }>(`SELECT uri FROM files WHERE role = 'crop'`);
    assert.ok(live.every((f) => existsSync(f.uri)));
  });
});

test('an empty source, or nothing left after source.where, is exit 1 with a statement', async () => {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 3);
  await writeFile(join(dir, 'm.jsonl'), '');
  const empty = recipeFromObject({ name: 'e', workdir: join(dir, 'w1'), source: { format: 'jsonl', path: join(dir, 'm.jsonl') } }, dir);
  await assert.rejects(build(empty, { reporter: quiet() }), (err: Error & { exitCode?: number }) => {
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /has no samples/);
    return true;
  });
  await writeFile(join(dir, 'm.jsonl'), ['img_00000.jpg', 'img_00001.jpg'].map((f) => JSON.stringify({ image: `images/${f}`, kind: 'x' })).join('\n'));
  const none = recipeFromObject({ name: 'e', workdir: join(dir, 'w2'), source: { format: 'jsonl', path: join(dir, 'm.jsonl'), where: "kind = 'y'" } }, dir);
  await assert.rejects(build(none, { reporter: quiet() }), (err: Error & { exitCode?: number }) => {
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /none of the 2 records matched source.where/);
    return true;
  });
});

test('--max-samples counts records that pass source.where', async () => {
  const dir = await tempDir();
  const names = await writePhotos(join(dir, 'images'), 12);
  await writeFile(join(dir, 'm.jsonl'), names.map((f, i) => JSON.stringify({ image: `images/${f}`, n: i })).join('\n'));
  const r = recipeFromObject({ name: 'm', workdir: join(dir, 'w'), source: { format: 'jsonl', path: join(dir, 'm.jsonl'), where: 'n % 3 = 0' }, steps: [] }, dir);
  const res = await build(r, { reporter: quiet(), maxSamples: 3 });
  assert.equal(res.summary.total, 3);
  await withCatalog(join(dir, 'w'), async (c) => {
    const ns = (await c.all<{ n: string }>(`SELECT meta->>'n' AS n FROM samples ORDER BY ord`)).map((x) => Number(x.n));
    assert.deepEqual(ns, [0, 3, 6]);
  });
});

test('a step reading a role nothing makes is refused before any work', async () => {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 2);
  const r = recipeFromObject({ name: 'x', workdir: join(dir, 'w'), source: { format: 'folder', path: join(dir, 'images') }, steps: [{ hash: { role: 'mask' } }] }, dir);
  await assert.rejects(build(r, { reporter: quiet() }), /reads role 'mask', which neither the source \(image\) nor an earlier step makes/);
  assert.ok(!existsSync(join(dir, 'w', 'catalog.duckdb')), 'nothing was started');
});

test('a source path that is an http URL is fetched once into the workdir', async () => {
  const dir = await tempDir();
  const names = await writePhotos(join(dir, 'images'), 3);
  const manifest = names.map((f) => JSON.stringify({ image: join(dir, 'images', f) })).join('\n') + '\n';
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url === '/data/sft.jsonl') res.writeHead(200).end(manifest);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/data/sft.jsonl`;
  try {
    const recipe = recipeFromObject({ name: 'u', workdir: join(dir, 'w'), source: { format: 'jsonl', path: url, allow_absolute_paths: true }, steps: [{ hash: {} }] }, dir);
    assert.equal((await build(recipe, { reporter: quiet(), workers: 1 })).summary.total, 3);
    assert.equal((await build(recipe, { reporter: quiet(), workers: 1 })).summary.total, 3);
    assert.equal(hits, 1, 'the second build reads the cached copy');
    const cached = (await readdir(join(dir, 'w', 'sources'), { recursive: true })).filter((n) => n.endsWith('sft.jsonl'));
    assert.equal(cached.length, 1);
  } finally {
    server.close();
  }
});
