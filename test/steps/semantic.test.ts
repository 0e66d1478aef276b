import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { Catalog } from '../../src/catalog/catalog.js';
import { generateDemoDataset, type DemoTruth } from '../../src/demo/dataset.js';
import { similar } from '../../src/embed/similar.js';
import { SemanticParams, semanticStep } from '../../src/steps/semantic.js';
import { semanticLeaks } from '../../src/steps/semantic-leaks.js';
import { buildEmbedded, installTinyModel, runReduce } from '../embed/helpers.js';
import { tinyTextModel, writeModel } from '../helpers/onnx-model.js';
import { tempDir } from '../helpers/tmp.js';

// Created at top level: a tempDir made inside a hook is removed when the hook ends.
const root = await tempDir();
let workdir: string;
let runId: number;
let truth: DemoTruth;

before(async () => {
  process.env.IMGSIFT_MODELS = await installTinyModel(join(root, 'models'), 'tiny', { text_model: 'tiny-text' });
  truth = await generateDemoDataset(join(root, 'data'), { count: 120 });
  workdir = join(root, 'wd');
  ({ runId } = await buildEmbedded(workdir, { format: 'imagefolder', path: join(root, 'data'), fields: { text: 'text', label: 'label' } }, 'tiny'));
});

interface IssueRow { id: string; type: string; score: number; flagged: boolean; evidence: Record<string, unknown> }
async function issues(type: string): Promise<IssueRow[]> {
  const c = await Catalog.open(workdir);
  try {
    const rows = await c.all<{ id: string; type: string; score: number; flagged: boolean; evidence: string }>(
      `SELECT sample_id AS id, type, score, flagged, evidence::VARCHAR AS evidence FROM issues WHERE step = 'semantic' AND type = ? ORDER BY score DESC, id`,
      [type],
    );
    return rows.map((r) => ({ ...r, evidence: JSON.parse(r.evidence) as Record<string, unknown> }));
  } finally {
    c.close();
  }
}

test('label disagreement finds the planted mislabels and suggests their real class', async () => {
  const stats = (await runReduce(workdir, runId, semanticStep, SemanticParams.parse({ dedup: { threshold: 0.99 } }))) as Record<string, number>;
  assert.ok(stats['index vectors added'] > 100);
  const rows = await issues('label_disagreement');
  const flagged = rows.filter((r) => r.flagged);
  for (const m of truth.mislabeled) {
    const r = flagged.find((x) => x.id === m.file);
    assert.ok(r, `${m.file} (labelled ${m.label}, shows ${m.actual}) is flagged`);
    assert.equal(r.evidence.label, m.label);
    assert.equal(r.evidence.suggested_label, m.actual);
    assert.ok(r.score >= 0.6 && r.score <= 1);
    assert.ok(Array.isArray(r.evidence.neighbours));
  }
  // A crude 64-d colour/texture model confuses some classes, but flags a small minority.
  assert.ok(flagged.length <= rows.length * 0.2, `${flagged.length} of ${rows.length} flagged`);
});

test('semantic duplicates: planted near copies are clustered with their original, without chains', async () => {
  const rows = await issues('semantic_duplicate');
  const pairOf = new Map(rows.map((r) => [r.id, r.evidence.kept as string]));
  // A keeper is its own cluster; each duplicate names its keeper.
  const clusterOf = (id: string) => pairOf.get(id) ?? id;
  const sameGroup = (a: string, b: string) => clusterOf(a) === clusterOf(b);
  for (const g of [...truth.exactDuplicates, ...truth.nearDuplicates]) {
    for (const c of g.copies) {
      if (!['copy', 'resized', 'recompressed', 'blurred', 'cropped'].includes(c.transform)) continue;
      assert.ok(sameGroup(g.original, c.file), `${c.transform} copy ${c.file} of ${g.original}`);
    }
  }
  // Non-chaining: every member is within the threshold of the sample it names as kept, which is itself kept.
  for (const r of rows) {
    assert.ok((r.evidence.similarity as number) >= 0.99);
    assert.ok(!pairOf.has(r.evidence.kept as string), `${r.evidence.kept} is kept`);
  }
  // Outliers: one score per sample in [0,1].
  const out = await issues('outlier');
  assert.ok(out.length > 100 && out.every((r) => r.score >= 0 && r.score <= 1));
});

test('semanticLeaks finds the planted train/test leaks', async () => {
  const c = await Catalog.open(workdir);
  try {
    const pairs = await semanticLeaks(c, runId, ['train', ['test']], 0.99);
    for (const l of truth.leaks) {
      const p = pairs.find((x) => x.sample === l.test && x.train_sample === l.train);
      assert.ok(p, `${l.kind} leak ${l.test} ← ${l.train}`);
      assert.equal(p.split, 'test');
      assert.equal(p.train_split, 'train');
      assert.ok(p.similarity >= 0.99);
    }
    assert.ok(pairs.every((p) => p.split === 'test' && p.train_split === 'train' && p.method === 'semantic'));
    await assert.rejects(semanticLeaks(c, runId, ['train', 'train'], 0.9), /both sides/);
  } finally {
    c.close();
  }
});

test('outliers: a picture unlike the rest scores highest; the index is reused and only new vectors added', async () => {
  // A new sample that is unlike every scene: a hard black/white checkerboard.
  const cells = Buffer.alloc(64 * 64 * 3);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) cells.fill(((x >> 3) + (y >> 3)) % 2 ? 255 : 0, (y * 64 + x) * 3, (y * 64 + x) * 3 + 3);
  const odd = join(root, 'data', 'train', 'beach', 'odd_one.png');
  await writeFile(odd, await sharp(cells, { raw: { width: 64, height: 64, channels: 3 } }).resize(400, 300).png().toBuffer());
  const meta = join(root, 'data', 'train', 'metadata.jsonl');
  await writeFile(meta, (await (await import('node:fs/promises')).readFile(meta, 'utf8')) + JSON.stringify({ file_name: 'beach/odd_one.png', text: 'a checkerboard', label: 'beach' }) + '\n');
  const again = await buildEmbedded(workdir, { format: 'imagefolder', path: join(root, 'data'), fields: { text: 'text', label: 'label' } }, 'tiny');
  assert.equal(again.computed, 1);
  const stats = (await runReduce(workdir, again.runId, semanticStep, SemanticParams.parse({ dedup: false }))) as Record<string, number>;
  assert.equal(stats['index vectors added'], 1, 'the persisted index gains only the new content');
  const out = await issues('outlier');
  assert.equal(out[0].id, 'train/beach/odd_one.png');
  assert.ok(out[0].flagged && out[0].score > 0.9);
  assert.equal((await issues('semantic_duplicate')).length, 0, 'dedup: false writes none (and old ones are replaced)');
  runId = again.runId;
});

test('similar: by sample id the near copy comes first; by text through the text tower', async () => {
  const g = truth.nearDuplicates.find((x) => x.copies[0].transform === 'recompressed')!;
  const r = await similar({ workdir, id: g.original, k: 3 });
  assert.equal(r.hits[0].id, g.copies[0].file);
  assert.ok(r.hits[0].similarity > 0.99);
  assert.ok(!r.hits.some((h) => h.id === g.original));
  await assert.rejects(similar({ workdir, text: 'a beach' }), /not installed/);
  await writeModel(join(process.env.IMGSIFT_MODELS!, 'tiny-text', 'model.onnx'), tinyTextModel({ dim: 64 }));
  await writeFile(join(process.env.IMGSIFT_MODELS!, 'tiny-text', 'manifest.json'), JSON.stringify({
    name: 'tiny-text', kind: 'text', input: 'input_ids', output: 'text_embeds', dim: 64,
    tokenizer: { kind: 'bytes', context_length: 32 },
  }));
  const t = await similar({ workdir, text: 'a beach', k: 5 });
  assert.equal(t.hits.length, 5);
  assert.match((t.query as { textModel: string }).textModel, /^tiny-text@/);
  for (let i = 1; i < t.hits.length; i++) assert.ok(t.hits[i - 1].similarity >= t.hits[i].similarity);
});
