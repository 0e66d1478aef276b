import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { Catalog } from '../../src/catalog/catalog.js';
import { photoJpeg, SCENE_KINDS } from '../../src/demo/synth.js';
import { decodeF16 } from '../../src/embed/float16.js';
import { getEncoder } from '../../src/embed/encoder.js';
import { resolveModel } from '../../src/embed/models-dir.js';
import { cosine } from '../../src/embed/semantic.js';
import { buildEmbedded, installTinyModel } from '../embed/helpers.js';
import { tempDir } from '../helpers/tmp.js';

async function writeScenes(dir: string, from: number, count: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = from; i < from + count; i++) {
    await writeFile(join(dir, `img_${i}.jpg`), await photoJpeg({ seed: 300 + i, width: 200, height: 150, kind: SCENE_KINDS[i % 5] }));
  }
}

test('embed: vectors land in the embeddings table as float16; reruns and new samples embed only what is new', async () => {
  const root = await tempDir();
  process.env.IMGSIFT_MODELS = await installTinyModel(join(root, 'models'));
  const data = join(root, 'data');
  await writeScenes(data, 0, 6);
  await writeFile(join(data, 'copy_of_0.jpg'), await photoJpeg({ seed: 300, width: 200, height: 150, kind: SCENE_KINDS[0] }));
  await writeFile(join(data, 'broken.jpg'), Buffer.from('not a jpeg'));
  const workdir = join(root, 'wd');
  const source = { format: 'folder', path: data };

  const first = await buildEmbedded(workdir, source, 'tiny');
  // Every sample is read on the first run (a content's hash is only known once read): 6 scenes,
  // the exact copy and the broken file (which fails). The copy adds no vector (checked below).
  assert.equal(first.computed, 8);
  const again = await buildEmbedded(workdir, source, 'tiny');
  assert.equal(again.computed, 0, 'nothing recomputed on a rerun');
  await writeScenes(data, 6, 2);
  const grown = await buildEmbedded(workdir, source, 'tiny');
  assert.equal(grown.computed, 2, 'only the new samples are embedded');

  const catalog = await Catalog.open(workdir);
  try {
    const rows = await catalog.all<{ content_hash: string; model: string; dim: number; vector: Buffer }>(`SELECT * FROM embeddings ORDER BY content_hash`);
    assert.equal(rows.length, 8);
    const model = resolveModel({ model: 'tiny' });
    assert.ok(rows.every((r) => r.model === model.id && r.dim === 64 && r.vector.length === 128));
    // The stored vector is the model's embedding, to float16 precision.
    const bytes = await (await import('node:fs/promises')).readFile(join(data, 'img_3.jpg'));
    const sha = (await import('node:crypto')).createHash('sha256').update(bytes).digest('hex');
    const stored = decodeF16(rows.find((r) => r.content_hash === sha)!.vector);
    const [direct] = await (await getEncoder(model)).embedImages([bytes]);
    assert.ok(cosine(stored, direct) > 0.9999);
    // The cache rows keep only the model and dim; the vector lives in the embeddings table.
    const results = await catalog.all<{ result: string }>(`SELECT result::VARCHAR AS result FROM step_results WHERE step = 'embed' AND ok`);
    assert.equal(results.length, 8);
    assert.ok(results.every((r) => !r.result.includes('f16')));
    const failed = await catalog.all<{ error: string }>(`SELECT error FROM step_results WHERE step = 'embed' AND NOT ok`);
    assert.equal(failed.length, 1);
  } finally {
    catalog.close();
  }
});

test('embed: samples are embedded in batches, the same as one by one; a bad image fails alone; the batch size is not in the cache key', async () => {
  const root = await tempDir();
  process.env.IMGSIFT_MODELS = await installTinyModel(join(root, 'models'));
  const data = join(root, 'data');
  await writeScenes(data, 0, 9);
  await writeFile(join(data, 'img_4_truncated.jpg'), (await photoJpeg({ seed: 999, width: 200, height: 150 })).subarray(0, 900));
  const workdir = join(root, 'wd');
  const source = { format: 'folder', path: data };

  const first = await buildEmbedded(workdir, source, 'tiny', [], { batch_size: 4 });
  assert.equal(first.computed, 10);
  assert.equal((await buildEmbedded(workdir, source, 'tiny', [], { batch_size: 1 })).computed, 0, 'another batch size reuses the cache');

  const catalog = await Catalog.open(workdir);
  try {
    const rows = await catalog.all<{ path: string; vector: Buffer | null; error: string | null }>(
      `SELECT s.path, e.vector, r.error FROM samples s JOIN files f ON f.sample_id = s.id JOIN file_status fs ON fs.uri = f.uri
       JOIN step_results r ON r.content_hash = fs.sha256 AND r.step = 'embed'
       LEFT JOIN embeddings e ON e.content_hash = fs.sha256 ORDER BY s.path`,
    );
    assert.equal(rows.length, 10);
    const enc = await getEncoder(resolveModel({ model: 'tiny' }));
    for (const r of rows) {
      if (r.path === 'img_4_truncated.jpg') {
        assert.equal(r.vector, null);
        assert.ok(r.error, 'the truncated image has its own error');
        continue;
      }
      assert.equal(r.error, null, `${r.path} embedded despite the bad image in its batch`);
      const [alone] = await enc.embedImages([await readFile(join(data, r.path))]);
      assert.ok(cosine(decodeF16(r.vector!), alone) > 0.9999, `${r.path}: batched = alone`);
    }
  } finally {
    catalog.close();
  }
});
