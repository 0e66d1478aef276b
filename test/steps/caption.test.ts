import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { Reporter } from '../../src/exec/reporter.js';
import { CaptionParams, captionStep } from '../../src/steps/caption.js';
import type { StepContext } from '../../src/steps/types.js';
import { photoJpeg } from '../../src/demo/synth.js';
import { tempDir } from '../helpers/tmp.js';

interface Spec { id: string; label?: string; text?: string; meta?: Record<string, unknown>; caption?: { ext: string; bytes: Buffer | string } }

/** A catalog whose samples' images are real files, with caption files beside some of them. */
async function catalogWith(samples: Spec[]): Promise<StepContext> {
  const dir = await tempDir('imgsift-caption-');
  const catalog = await Catalog.open(join(dir, 'work'));
  await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 't', now(), 'running')`);
  const files = [];
  for (const [i, s] of samples.entries()) {
    const image = join(dir, `${s.id}.jpg`);
    await writeFile(image, await photoJpeg({ seed: i, width: 64, height: 48 }));
    if (s.caption) await writeFile(join(dir, `${s.id}${s.caption.ext}`), s.caption.bytes);
    files.push({ sample_id: s.id, role: 'image', uri: image });
  }
  await catalog.append('samples', COLUMNS.samples, samples.map((s, i) => ({
    id: s.id, source: 'test', label: s.label, text: s.text, meta: s.meta, ord: i, first_run: 1, seen_run: 1,
  })));
  await catalog.append('files', COLUMNS.files, files);
  await useRun(catalog, 1);
  return { catalog, runId: 1, workdir: join(dir, 'work'), baseDir: dir, reporter: new Reporter({ mode: 'quiet' }) };
}

test('caption: template filled from caption files, source text and fields; checks become issues', async () => {
  const ctx = await catalogWith([
    { id: 'a', caption: { ext: '.txt', bytes: 'brown hair, sitting at a desk\nsecond line\n' } },
    { id: 'b', caption: { ext: '.caption', bytes: '\uFEFFbrown hair, standing' } },
    { id: 'c', text: 'from the manifest', meta: { pose: 'running' } },
    { id: 'd', caption: { ext: '.txt', bytes: Buffer.from('caf\xe9 terrace', 'latin1') } },
    { id: 'e', caption: { ext: '.txt', bytes: Array.from({ length: 40 }, (_, i) => `word${i}`).join(', ') } },
    { id: 'f', caption: { ext: '.txt', bytes: 'Brown hair,  standing' } },
    { id: 'r', label: 'reg', caption: { ext: '.txt', bytes: 'a man outdoors' } },
  ]);
  try {
    const stats = await captionStep.run(ctx, CaptionParams.parse({ template: '[trigger], [class], [caption], [pose]', trigger: 'ohwx', class: 'man', no_trigger_labels: ['reg'] }));
    const rows = await ctx.catalog.all<{ id: string; text: string; from: string | null; source: string | null }>(
      `SELECT id, text, json_extract_string(meta, '$.caption_from') AS "from", json_extract_string(meta, '$.caption_source') AS source FROM samples ORDER BY id`,
    );
    const text = Object.fromEntries(rows.map((r) => [r.id, r.text]));
    assert.equal(text.a, 'ohwx, man, brown hair, sitting at a desk', 'first line only, as sd-scripts reads it');
    assert.equal(text.b, 'ohwx, man, brown hair, standing', '.caption read, BOM dropped');
    assert.equal(text.c, 'ohwx, man, from the manifest, running', 'no file: the source text, and a meta field');
    assert.equal(text.d, 'ohwx, man, caf\uFFFD terrace');
    assert.equal(text.r, 'man, a man outdoors', 'regularization captions get no trigger');
    assert.equal(rows.find((r) => r.id === 'c')!.source, 'from the manifest');
    assert.ok(rows.find((r) => r.id === 'a')!.from!.endsWith('a.txt'));

    const issues = await ctx.catalog.all<{ sample_id: string; type: string }>(`SELECT sample_id, type FROM issues WHERE step = 'caption' ORDER BY sample_id, type`);
    assert.deepEqual(issues.map((i) => `${i.sample_id}:${i.type}`), [
      'a:caption_multiline', 'b:caption_duplicate', 'd:caption_not_utf8', 'e:caption_too_long', 'f:caption_duplicate',
    ]);
    assert.equal(stats['from caption files'], 6);

    // A rerun replaces the step's issues rather than adding to them.
    await captionStep.run(ctx, CaptionParams.parse({ trigger: 'ohwx', class: 'man', no_trigger_labels: ['reg'] }));
    assert.equal(await ctx.catalog.scalar(`SELECT count(*) FROM issues WHERE step = 'caption'`), 5);
  } finally {
    ctx.catalog.close();
  }
});

test('caption: a caption without the trigger word is flagged', async () => {
  const ctx = await catalogWith([{ id: 'x', caption: { ext: '.txt', bytes: 'a man' } }]);
  try {
    await captionStep.run(ctx, CaptionParams.parse({ template: '{caption}', trigger: 'ohwx' }));
    assert.deepEqual(await ctx.catalog.all(`SELECT type FROM issues WHERE step = 'caption'`), [{ type: 'caption_missing_trigger' }]);
  } finally {
    ctx.catalog.close();
  }
});
