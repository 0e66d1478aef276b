import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Seed 004's prompt workflow through real builds: prompt lists per split → text_transform →
 * text_filter → text_dedup (self 0.85, cross 0.75) → manifest.
 */

const quiet = () => new Reporter({ mode: 'quiet' });

const TRAIN = [
  'Portrait of a Greek Hero by Greg Rutkowski, 8k, 8K',
  '',
  'portrait of a greek hero, 8k',                                   // a copy once transformed
  'an astronaut standing on a white rose (detailed), trending on artstation',
  'see https://example.com/prompt for more',                         // urls
  'a cat a cat a cat a cat',                                         // repeated
  '고양이 한 마리가 소파 위에서 자고 있다',                            // non_latin
  'ramen',                                                           // words < 2
  'a thundering retro robot crane inks on parchment with a droopy french bulldog',
  'Greg Rutkowski',                                                  // empty once transformed
  'ultrasaurus holding a black bean taco in the woods near an identical cheneosaurus',
];
const VALIDATION = [
  'a thundering retro robot crane inks on parchment with a droopy french bulldogs',
  'hyper realistic photo of a very friendly and dystopian crater',
];

async function setup(dir: string) {
  await mkdir(join(dir, 'prompts'), { recursive: true });
  await writeFile(join(dir, 'prompts', 'train.txt'), TRAIN.join('\n') + '\n');
  await writeFile(join(dir, 'prompts', 'validation.txt'), VALIDATION.join('\r\n'));
  await writeFile(join(dir, 'names.txt'), '# artists\ngreg rutkowski\n\nartgerm\n');
}

function recipe(dir: string, cross: Record<string, unknown> = {}) {
  return recipeFromObject(
    {
      name: 'prompts',
      workdir: join(dir, 'work'),
      source: { format: 'prompts', path: join(dir, 'prompts'), split: 'file' },
      steps: [
        {
          text_transform: {
            rules: [
              { unicode: 'NFKC' }, { whitespace: true }, { case: 'lower' },
              { replace: { pattern: '\\s*\\([^)]*\\)', with: '' } },
              { remove_words: { file: 'names.txt', words: ['trending on artstation'] } },
              { trim_modifiers: {} },
              { max_length: { chars: 200 } },
            ],
          },
        },
        { text_filter: { words: { min: 2 }, non_latin: { max_share: 0.3 }, urls: true, markup: true, repeated: { times: 3 } } },
        { text_dedup: { threshold: 0.85, cross: { threshold: 0.75, ...cross } } },
        { filter: { drop: ['text_duplicate'] } },
      ],
      export: [{ format: 'manifest', to: join(dir, 'out', 'manifest.jsonl') }],
    },
    dir,
  );
}

test('prompt lists are transformed, filtered per rule and deduplicated in a build; a rerun is served from the text cache', async () => {
  const dir = await tempDir();
  await setup(dir);
  const first = await build(recipe(dir), { reporter: quiet(), workers: 1 });
  const steps = Object.fromEntries(first.summary.steps.map((s) => [s.name, s.stats]));
  assert.equal(first.summary.ingest.read, TRAIN.length - 1 + VALIDATION.length, 'the blank line is skipped');
  assert.equal(first.summary.ingest.blankLines, 1);

  assert.equal(steps.text_transform['samples changed'], 3);
  assert.equal(steps.text_transform['texts computed'], 12);
  assert.deepEqual(
    Object.fromEntries(Object.entries(steps.text_filter).filter(([k]) => k.startsWith('dropped'))),
    { 'dropped: empty': 1, 'dropped: words': 1, 'dropped: non_latin': 1, 'dropped: urls': 1, 'dropped: repeated': 1 },
  );
  assert.equal(steps.text_dedup['self duplicates'], 1);
  assert.equal(steps.text_dedup['cross duplicates: train near validation'], 1);
  assert.match(String(steps.text_dedup.measure), /^Jaccard of character 3-gram multisets/);

  const catalog = await Catalog.open(join(dir, 'work'));
  try {
    const drops = await catalog.all<{ sample_id: string; reason: string; step: string }>(
      `SELECT sample_id, reason, step FROM drops WHERE run_id = 1 ORDER BY sample_id`,
    );
    const byId = Object.fromEntries(drops.map((d) => [d.sample_id, `${d.step}:${d.reason}`]));
    assert.deepEqual(byId, {
      'train.txt/line-3': 'filter:text_duplicate',
      'train.txt/line-5': 'text_filter:urls',
      'train.txt/line-6': 'text_filter:repeated',
      'train.txt/line-7': 'text_filter:non_latin',
      'train.txt/line-8': 'text_filter:words',
      'train.txt/line-9': 'filter:text_duplicate',
      'train.txt/line-10': 'text_filter:empty',
    });
    const kept = await catalog.all<{ id: string; text: string; split: string; original: string | null }>(
      `SELECT id, text, split, json_extract_string(meta, '$.text_original') AS original FROM samples WHERE drop_run IS NULL ORDER BY ord`,
    );
    assert.deepEqual(kept.map((k) => [k.id, k.split, k.text, k.original]), [
      ['train.txt/line-1', 'train', 'portrait of a greek hero, 8k', 'Portrait of a Greek Hero by Greg Rutkowski, 8k, 8K'],
      ['train.txt/line-4', 'train', 'an astronaut standing on a white rose', 'an astronaut standing on a white rose (detailed), trending on artstation'],
      ['train.txt/line-11', 'train', 'ultrasaurus holding a black bean taco in the woods near an identical cheneosaurus', null],
      ['validation.txt/line-1', 'validation', VALIDATION[0], null],
      ['validation.txt/line-2', 'validation', VALIDATION[1], null],
    ]);
  } finally {
    catalog.close();
  }
  const manifest = (await readFile(join(dir, 'out', 'manifest.jsonl'), 'utf8')).trim().split('\n');
  assert.equal(manifest.length, 5);

  // The rerun: ingest restores the source texts; both text steps come from their cache, same result.
  const second = await build(recipe(dir), { reporter: quiet(), workers: 1 });
  const again = Object.fromEntries(second.summary.steps.map((s) => [s.name, s.stats]));
  assert.equal(again.text_transform['texts computed'], 0);
  assert.equal(again.text_transform['texts from cache'], 12);
  assert.equal(again.text_transform['samples changed'], 3);
  assert.equal(again.text_filter['texts computed'], 0);
  assert.equal(second.summary.total, 5);
});

test('cross dedup can remove from the other side: validation rows near train (seed v7)', async () => {
  const dir = await tempDir();
  await setup(dir);
  const res = await build(recipe(dir, { from: ['validation'], against: ['train'] }), { reporter: quiet(), workers: 1 });
  const stats = res.summary.steps.find((s) => s.name === 'text_dedup')!.stats;
  assert.equal(stats['cross duplicates: validation near train'], 1);
  const catalog = await Catalog.open(join(dir, 'work'));
  try {
    const gone = await catalog.all<{ sample_id: string }>(`SELECT sample_id FROM issues WHERE json_extract_string(evidence, '$.kind') = 'cross'`);
    assert.deepEqual(gone.map((g) => g.sample_id), ['validation.txt/line-1']);
  } finally {
    catalog.close();
  }
});
