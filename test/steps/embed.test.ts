import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
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
