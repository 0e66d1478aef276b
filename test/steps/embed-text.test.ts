import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from '../../src/catalog/catalog.js';
import { getEncoder } from '../../src/embed/encoder.js';
import { decodeF16 } from '../../src/embed/float16.js';
import { resolveModel } from '../../src/embed/models-dir.js';
import { cosine } from '../../src/embed/semantic.js';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { rng } from '../../src/util/random.js';
import { quiet } from '../embed/helpers.js';
import { writePhotos } from '../helpers/dataset.js';
import { tinyTextModel, writeModel } from '../helpers/onnx-model.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The tiny text tower sums a random vector per byte (the padding id's is zero), so texts made of
 * different characters embed far apart (cosine ~0.25 for random 30-character strings) and a copy
 * with two characters changed stays close (~0.93): near copies in vector space without a real model.
 */
async function installTextModel(dir: string): Promise<string> {
  await writeModel(join(dir, 'ttext', 'model.onnx'), tinyTextModel({ dim: 64, zeroRows: [258] }));
  await writeFile(join(dir, 'ttext', 'manifest.json'), JSON.stringify({
    name: 'ttext', kind: 'text', input: 'input_ids', output: 'text_embeds', dim: 64,
    tokenizer: { kind: 'bytes', context_length: 48, pad: 258 },
  }));
  return dir;
}

const r = rng(77);
const randomText = () => Array.from({ length: 30 }, () => String.fromCharCode(33 + Math.floor(r() * 94))).join('');
/** Two characters changed, at fixed places. */
const nearCopy = (t: string) => `${t.slice(0, 5)}~${t.slice(6, 20)}^${t.slice(21)}`;

interface Row { id: string; file: string; caption: string; split: string }

async function dataset(dir: string): Promise<{ rows: Row[]; source: Record<string, unknown> }> {
  const files = await writePhotos(join(dir, 'images'), 3);
  const texts = Array.from({ length: 12 }, randomText);
  const rows: Row[] = texts.map((t, i) => ({ id: `s${i}`, file: files[i % 3], caption: t, split: i < 9 ? 'train' : 'validation' }));
  rows.push({ id: 'near_s1', file: files[0], caption: nearCopy(texts[1]), split: 'train' }); // self: near s1
  rows.push({ id: 'same_s2', file: files[0], caption: texts[2], split: 'train' }); // self: identical to s2
  rows.push({ id: 'leak_s10', file: files[0], caption: nearCopy(texts[10]), split: 'train' }); // cross: near validation s10
  rows.push({ id: 'blank', file: files[0], caption: '   ', split: 'train' });
  await writeFile(join(dir, 'rows.jsonl'), rows.map((x) => JSON.stringify(x)).join('\n') + '\n');
  return {
    rows,
    source: { format: 'jsonl', path: './rows.jsonl', root: './images', fields: { id: 'id', image: 'file', text: 'caption', split: 'split' } },
  };
}

const STEPS = [
  { embed_text: { model: 'ttext', batch_size: 4 } },
  { text_dedup: { method: 'embedding', threshold: 0.85, cross: { from: ['train'], against: ['validation'], threshold: 0.85 } } },
  { semantic: { of: 'text', dedup: { threshold: 0.85 }, label_disagreement: false, outliers: { k: 3 } } },
];

test('embed_text embeds each distinct caption once; text_dedup (embedding) and semantic (of: text) use the vectors', async () => {
  const dir = await tempDir();
  process.env.IMGSIFT_MODELS = await installTextModel(join(dir, 'models'));
  const { rows, source } = await dataset(dir);
  const workdir = join(dir, 'work');
  const recipe = recipeFromObject({ name: 't', workdir, source, steps: STEPS, export: [] }, dir);

  const first = await build(recipe, { reporter: quiet(), workers: 1 });
  const embedStats = first.summary.steps.find((s) => s.name === 'embed_text')!.stats;
  // 12 random captions + the two near copies; the identical caption and the blank one add nothing.
  assert.equal(embedStats['distinct texts'], 14);
  assert.equal(embedStats['texts embedded'], 14);
  assert.equal(embedStats['samples without text'], 1);
  const again = await build(recipe, { reporter: quiet(), workers: 1 });
  const againStats = again.summary.steps.find((s) => s.name === 'embed_text')!.stats;
  assert.equal(againStats['texts embedded'], 0, 'a rerun embeds nothing');
  assert.equal(againStats['texts cached'], 14);

  const catalog = await Catalog.open(workdir);
  try {
    // Vectors are keyed by the sha256 of the caption and equal the encoder's own output.
    const model = resolveModel({ model: 'ttext' });
    const enc = await getEncoder(model);
    const caption = rows[3].caption;
    const sha = createHash('sha256').update(caption, 'utf8').digest('hex');
    const [stored] = await catalog.all<{ vector: Buffer }>(`SELECT vector FROM embeddings WHERE content_hash = ? AND model = ?`, [sha, model.id]);
    const [direct] = await enc.embedTexts([caption]);
    assert.ok(cosine(decodeF16(stored.vector), direct) > 0.9999);

    const issues = await catalog.all<{ id: string; type: string; step: string; evidence: string }>(
      `SELECT sample_id AS id, type, step, evidence::VARCHAR AS evidence FROM issues WHERE flagged ORDER BY step, type, id`,
    );
    const dups = issues.filter((i) => i.step === 'text_dedup').map((i) => ({ id: i.id, ...JSON.parse(i.evidence) }));
    assert.deepEqual(dups.map((d) => [d.id, d.kind, d.matched]), [['leak_s10', 'cross', 's10'], ['near_s1', 'self', 's1'], ['same_s2', 'self', 's2']]);
    for (const d of dups) {
      assert.equal(d.model, model.id);
      assert.ok(d.similarity >= 0.85 && d.similarity <= 1);
    }
    assert.equal(dups.find((d) => d.id === 'same_s2').similarity, 1);
    // The random captions are far from each other: nothing else is a duplicate.
    const sem = issues.filter((i) => i.type === 'text_semantic_duplicate').map((i) => [i.id, JSON.parse(i.evidence).kept]);
    assert.deepEqual(sem, [['leak_s10', 's10'], ['near_s1', 's1'], ['same_s2', 's2']]);
    assert.ok(issues.every((i) => i.type !== 'semantic_duplicate'), 'text findings keep their own issue types');
    const outliers = await catalog.scalar(`SELECT count(*) FROM issues WHERE type = 'text_outlier' AND step = 'semantic_text'`);
    assert.equal(outliers, rows.length - 1, 'one outlier score per sample with a caption');
  } finally {
    catalog.close();
  }
});

test('embed_text: an image model is refused, naming its text tower; text_dedup (embedding) without embed_text says what to add', async () => {
  const dir = await tempDir();
  const models = await installTextModel(join(dir, 'models'));
  await writeModel(join(models, 'img', 'model.onnx'), tinyTextModel());
  await writeFile(join(models, 'img', 'manifest.json'), JSON.stringify({
    name: 'img', kind: 'image', input: 'pixel_values', output: 'image_embeds', text_model: 'ttext', image: { size: 8 },
  }));
  process.env.IMGSIFT_MODELS = models;
  const { source } = await dataset(dir);
  assert.throws(
    () => recipeFromObject({ name: 't', workdir: join(dir, 'w1'), source, steps: [{ embed_text: { model: 'img' } }], export: [] }, dir),
    /image model; embed_text needs a text model; its text tower is 'ttext'/,
  );
  const recipe = recipeFromObject({ name: 't', workdir: join(dir, 'w2'), source, steps: [{ text_dedup: { method: 'embedding' } }], export: [] }, dir);
  await assert.rejects(build(recipe, { reporter: quiet(), workers: 1 }), /no embeddings of the texts \(text\).*add an `embed_text` step/);
});
