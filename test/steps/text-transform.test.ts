import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { Reporter } from '../../src/exec/reporter.js';
import { textTransformStep, TextTransformParams } from '../../src/steps/text-transform.js';
import { textFilterStep, TextFilterParams } from '../../src/steps/text-filter.js';
import type { StepContext } from '../../src/steps/types.js';
import { tempDir } from '../helpers/tmp.js';
import { writeTinyClipVocab } from '../helpers/clip-vocab.js';

interface Spec { id: string; text?: string; meta?: Record<string, unknown> }

async function catalogWith(samples: Spec[], warnings: string[] = []): Promise<StepContext> {
  const dir = await tempDir('imgsift-text-transform-');
  const catalog = await Catalog.open(dir);
  await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 't', now(), 'running')`);
  await catalog.append('samples', COLUMNS.samples, samples.map((s, i) => ({
    id: s.id, source: 'test', text: s.text, meta: s.meta, ord: i, first_run: 1, seen_run: 1,
  })));
  await useRun(catalog, 1);
  const reporter = new Reporter({ mode: 'quiet' });
  reporter.warn = (m: string) => void warnings.push(m);
  return { catalog, runId: 1, workdir: dir, baseDir: dir, reporter };
}

const texts = async (ctx: StepContext) =>
  (await ctx.catalog.all<{ id: string; text: string | null; original: string | null; meta: string | null }>(
    `SELECT id, text, json_extract_string(meta, '$.text_original') AS original, meta::VARCHAR AS meta FROM samples ORDER BY ord`,
  ));

test('text_transform: a second transform in the same run keeps the first original; shared texts are computed once', async () => {
  const ctx = await catalogWith([
    { id: 'a', text: 'A  Red Car', meta: { seed: 7 } },
    { id: 'b', text: 'A  Red Car' },
    { id: 'c', text: 'an owl' },
    { id: 'd' },
  ]);
  try {
    const s1 = await textTransformStep.run(ctx, TextTransformParams.parse({ rules: [{ whitespace: true }, { case: 'lower' }] }));
    assert.deepEqual(s1, { 'texts computed': 2, 'texts from cache': 0, 'samples changed': 2 });
    const s2 = await textTransformStep.run(ctx, TextTransformParams.parse({ rules: [{ replace: { pattern: 'red', with: 'blue' } }] }));
    assert.equal(s2['samples changed'], 2);
    const rows = await texts(ctx);
    assert.deepEqual(rows.map((r) => [r.id, r.text, r.original]), [
      ['a', 'a blue car', 'A  Red Car'], ['b', 'a blue car', 'A  Red Car'], ['c', 'an owl', null], ['d', null, null],
    ]);
    assert.equal(JSON.parse(rows[0].meta!).seed, 7, 'other meta fields stay');
  } finally {
    ctx.catalog.close();
  }
});

test('text_transform: word lists from files; a text the rules cannot settle is left as it was and reported', async () => {
  const warnings: string[] = [];
  const ctx = await catalogWith([{ id: 'a', text: 'a knight by Greg Rutkowski' }, { id: 'b', text: 'zzz' }], warnings);
  try {
    await writeFile(join(ctx.baseDir, 'names.txt'), '# names\nGreg Rutkowski\n');
    const stats = await textTransformStep.run(ctx, TextTransformParams.parse({
      rules: [{ remove_words: { file: 'names.txt' } }, { trim_modifiers: {} }, { replace: { pattern: 'z', with: 'zz' } }],
    }));
    assert.equal(stats['texts failed'], 1);
    assert.match(warnings[0], /1 text\(s\) left as they were, e.g. "zzz" → the rules do not settle/);
    assert.deepEqual((await texts(ctx)).map((r) => r.text), ['a knight', 'zzz']);
    await assert.rejects(
      textTransformStep.run(ctx, TextTransformParams.parse({ rules: [{ remove_words: { file: 'missing.txt' } }] })),
      /missing\.txt.*cannot read the word list/s,
    );
  } finally {
    ctx.catalog.close();
  }
  assert.throws(() => TextTransformParams.parse({ rules: [{ max_length: {} }] }), /chars, words or tokens/);
  assert.throws(() => TextTransformParams.parse({ rules: [{ lowercase: true }] }));
  assert.throws(() => TextTransformParams.parse({ rules: [] }));
});

test('text_filter on a meta field: drops recorded with the rule name; a rerun adds no second drop', async () => {
  const ctx = await catalogWith([
    { id: 'a', meta: { prompt: 'a red car in the rain' } },
    { id: 'b', meta: { prompt: 'car' } },
    { id: 'c', meta: {} },
    { id: 'd', meta: { prompt: 'a <i>red</i> car' } },
  ]);
  try {
    const params = TextFilterParams.parse({ field: 'prompt', words: { min: 2 }, markup: true });
    const stats = await textFilterStep.run(ctx, params);
    assert.deepEqual(stats, {
      'texts computed': 4, 'texts from cache': 0, 'dropped: empty': 1, 'dropped: words': 1, 'dropped: markup': 1,
      'samples before': 4, 'samples after': 1,
    });
    const drops = await ctx.catalog.all<{ sample_id: string; reason: string; step: string }>(`SELECT sample_id, reason, step FROM drops ORDER BY sample_id`);
    assert.deepEqual(drops.map((d) => [d.sample_id, d.reason, d.step]), [['b', 'words', 'text_filter'], ['c', 'empty', 'text_filter'], ['d', 'markup', 'text_filter']]);
    const again = await textFilterStep.run(ctx, params);
    assert.equal(again['texts from cache'], 1);
    assert.equal(await ctx.catalog.scalar(`SELECT count(*) FROM drops`), 3);
  } finally {
    ctx.catalog.close();
  }
});

test('the text cache is filled a page at a time; each distinct text computed once', async () => {
  const { fillTextCache } = await import('../../src/text/text-cache.js');
  const ctx = await catalogWith(Array.from({ length: 7 }, (_, i) => ({ id: `s${i}`, text: `prompt ${i % 5}` })));
  try {
    const seen: string[] = [];
    const key = { step: 'probe_cache', paramsHash: 'p1' };
    const fill = await fillTextCache(ctx.catalog, 1, key, 'text', (t) => (seen.push(t), t.toUpperCase()), undefined, 2);
    assert.deepEqual({ ...fill, failures: undefined }, { computed: 5, cached: 0, failed: 0, failures: undefined });
    assert.deepEqual(seen.sort(), ['prompt 0', 'prompt 1', 'prompt 2', 'prompt 3', 'prompt 4']);
    const again = await fillTextCache(ctx.catalog, 1, key, 'text', () => assert.fail('cached'), undefined, 2);
    assert.equal(again.cached, 5);
    assert.equal(await ctx.catalog.scalar(`SELECT count(*) FROM text_results WHERE result = 'PROMPT 3'`), 1);
  } finally {
    ctx.catalog.close();
  }
});

test('text_transform max_length tokens: tokenizer from a directory (relative to the recipe) or a model manifest; clear errors without one', async () => {
  const ctx = await catalogWith([{ id: 'a', text: 'a cat, a dog, cats' }, { id: 'b', text: 'red dog' }]);
  try {
    await writeTinyClipVocab(join(ctx.baseDir, 'clip'));
    const stats = await textTransformStep.run(ctx, TextTransformParams.parse({ rules: [{ max_length: { tokens: 7, tokenizer: 'clip' } }] }));
    assert.equal(stats['samples changed'], 1);
    assert.deepEqual((await texts(ctx)).map((r) => [r.text, r.original]), [['a cat, a dog', 'a cat, a dog, cats'], ['red dog', null]]);
    // The same vocabulary elsewhere: the cache is keyed by the files' hash, so 'red dog' comes from it.
    await writeTinyClipVocab(join(ctx.baseDir, 'clip-copy'));
    const moved = await textTransformStep.run(ctx, TextTransformParams.parse({ rules: [{ max_length: { tokens: 7, tokenizer: 'clip-copy' } }] }));
    assert.deepEqual([moved['texts computed'], moved['texts from cache'], moved['samples changed']], [1, 1, 0]);

    // An imgsift model directory whose manifest names its tokenizer files.
    const model = join(ctx.baseDir, 'model');
    const files = await writeTinyClipVocab(join(model, 'tok'));
    await writeFile(join(model, 'manifest.json'), JSON.stringify({ tokenizer: { kind: 'clip-bpe', vocab: 'tok/vocab.json', merges: 'tok/merges.txt' } }));
    const again = await textTransformStep.run(ctx, TextTransformParams.parse({ rules: [{ max_length: { tokens: 2, tokenizer: model } }] }));
    assert.equal(again['samples changed'], 1);
    assert.deepEqual((await texts(ctx)).map((r) => r.text), ['a cat', 'red dog']);
    // The vocab.json file itself, with merges.txt beside it.
    await textTransformStep.run(ctx, TextTransformParams.parse({ rules: [{ max_length: { tokens: 1, tokenizer: files.vocab } }] }));
    assert.deepEqual((await texts(ctx)).map((r) => r.text), ['a', 'red']);

    await assert.rejects(
      textTransformStep.run(ctx, TextTransformParams.parse({ rules: [{ max_length: { tokens: 7, tokenizer: 'nowhere' } }] })),
      /nowhere.*max_length\.tokenizer.*no tokenizer at .*nowhere: give a directory holding CLIP's vocab\.json and merges\.txt/s,
    );
  } finally {
    ctx.catalog.close();
  }
  assert.throws(
    () => TextTransformParams.parse({ rules: [{ max_length: { tokens: 75 } }] }),
    (err: unknown) => /tokens needs tokenizer/.test(String(err)) && /"tokenizer"/.test(String(err)),
  );
});
