import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '../../examples/prompt-versions/generate.js';
import { build } from '../../src/exec/build.js';
import { loadRecipe } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { main } from '../../src/cli/main.js';
import { tempDir } from '../helpers/tmp.js';

const RECIPE = fileURLToPath(new URL('../../examples/prompt-versions/recipe.yaml', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Seed 004's rules, written again from its description (not with imgsift's code)

interface Row {
  id: string;
  source: string;
  text: string;
  sourceSplit?: string;
}

/** The generated data as the recipe's three sources list it, in ingest order. */
async function readSources(data: string, withOpen: boolean): Promise<Row[]> {
  const rows: Row[] = [];
  const read = async (source: string, dir: string, prefix: string, split?: string) => {
    for (const line of (await readFile(join(dir, 'metadata.jsonl'), 'utf8')).split('\n').filter(Boolean)) {
      const { file_name, text } = JSON.parse(line) as { file_name: string; text: string };
      rows.push({ id: `${source}/${prefix}${file_name}`, source, text, sourceSplit: split });
    }
  };
  await read('ddb', join(data, 'ddb', 'train'), 'train/', 'train');
  await read('ddb', join(data, 'ddb', 'validation'), 'validation/', 'validation');
  await read('chatgpt', join(data, 'chatgpt_0330'), '');
  if (withOpen) await read('openprompts', join(data, 'openprompts_120k'), '');
  return rows;
}

/** make_captions' preprocessing: NFKC, lower case, artist names removed, spaces collapsed. */
function preprocess(text: string, names: string[]): string {
  let t = text.normalize('NFKC').toLowerCase();
  for (const n of names) t = t.split(n).join(' ');
  return t.replace(/\s+/g, ' ').trim();
}

/** Dedup's view of a prompt: no punctuation, single spaces. */
const norm = (t: string) => t.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}\s]/gu, ' ').replace(/\s+/g, ' ').trim();

/** Jaccard of character 3-gram multisets. */
function similarity(a: string, b: string): number {
  const grams = (s: string) => {
    const m = new Map<string, number>();
    for (let i = 0; i + 3 <= s.length; i++) m.set(s.slice(i, i + 3), (m.get(s.slice(i, i + 3)) ?? 0) + 1);
    return m;
  };
  const ga = grams(norm(a));
  const gb = grams(norm(b));
  let inter = 0;
  let union = 0;
  for (const k of new Set([...ga.keys(), ...gb.keys()])) {
    inter += Math.min(ga.get(k) ?? 0, gb.get(k) ?? 0);
    union += Math.max(ga.get(k) ?? 0, gb.get(k) ?? 0);
  }
  return union === 0 ? 1 : inter / union;
}

/** 5% validation by the md5 of the id, for rows without a split folder. */
function splitOf(r: Row): string {
  if (r.sourceSplit) return r.sourceSplit;
  const u = parseInt(createHash('md5').update(r.id).digest('hex').slice(0, 8), 16) / 2 ** 32;
  return u < 0.95 ? 'train' : 'validation';
}

/** The dataset a version should hold: id → { split, text }. */
function expected(rows: Row[], names: string[]): Map<string, { split: string; text: string; source: string }> {
  const prepared = rows
    .map((r) => ({ ...r, text: preprocess(r.text, names), split: splitOf(r) }))
    .filter((r) => (r.text.match(/[\p{L}\p{N}]+/gu) ?? []).length >= 3 && !/https?:\/\//.test(r.text));
  // Self dedup per split at 0.85: a prompt goes when an earlier kept one of its split is that close.
  const kept: typeof prepared = [];
  for (const r of prepared) {
    if (!kept.some((k) => k.split === r.split && similarity(k.text, r.text) >= 0.85)) kept.push(r);
  }
  // Cross dedup at 0.75: train prompts near a validation prompt go.
  const validation = kept.filter((r) => r.split === 'validation');
  const out = new Map<string, { split: string; text: string; source: string }>();
  for (const r of kept) {
    if (r.split === 'train' && validation.some((v) => similarity(v.text, r.text) >= 0.75)) continue;
    out.set(r.id, { split: r.split, text: r.text, source: r.source });
  }
  return out;
}

/** An imagefolder export as a sorted list of `split|normalised text`. */
async function exported(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const split of await readdir(dir)) {
    const meta = join(dir, split, 'metadata.jsonl');
    if (!existsSync(meta)) continue;
    for (const line of (await readFile(meta, 'utf8')).split('\n').filter(Boolean)) {
      const row = JSON.parse(line) as { file_name: string; text: string };
      assert.deepEqual(Object.keys(row), ['file_name', 'text'], 'metadata.jsonl holds file_name and text, as HF expects');
      assert.ok(existsSync(join(dir, split, row.file_name)), `${split}/${row.file_name} exists`);
      out.push(`${split}|${norm(row.text)}`);
    }
  }
  return out.sort();
}

const asList = (m: Map<string, { split: string; text: string }>) => [...m.values()].map((v) => `${v.split}|${norm(v.text)}`).sort();

/** The real CLI, in this process; stdout captured. */
async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  const write = process.stdout.write;
  const writeErr = process.stderr.write;
  let stdout = '';
  process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return { code: await main(args), stdout };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

test('prompt-versions: v1 from two sources, v2 with a third; diff, runs, rollback export and prune', async () => {
  const dir = await tempDir();
  const data = join(dir, 'data');
  await generate(data);
  const names = (await readFile(join(data, 'resources', 'names.txt'), 'utf8')).split('\n').filter(Boolean);
  const env = { DATA: data, OUT: join(dir, 'out'), WORKDIR: join(dir, 'wd') };
  const quiet = new Reporter({ mode: 'quiet' });

  // v1: openprompts switched off.
  const r1 = await build(await loadRecipe(RECIPE, { env: { ...env, TAG: 'v1' }, set: ['sources[2].enabled=false'] }), { workers: 1, reporter: quiet });
  const want1 = expected(await readSources(data, false), names);
  const hf = join(dir, 'out', 'hf');
  assert.deepEqual(await exported(hf), asList(want1), 'v1 holds exactly the prompts seed 004 rules keep');
  assert.equal(r1.summary.tag, 'v1');
  assert.deepEqual(Object.keys(r1.summary.sources).sort(), ['chatgpt', 'ddb']);
  const bySource = (m: typeof want1, s: string) => [...m.values()].filter((v) => v.source === s).length;
  assert.equal(r1.summary.sources.ddb.out, bySource(want1, 'ddb'));
  assert.equal(r1.summary.sources.chatgpt.in, 17);

  // Per-step counts: text_filter and filter each report their own drops.
  const step = (name: string) => r1.summary.steps.find((s) => s.name === name)!;
  assert.equal(step('text_filter').rows!.in - step('text_filter').rows!.out, 4, "'cat', 'red dog', 'ok' and a URL");
  assert.equal(step('filter').rows!.out, want1.size);
  assert.equal(step('filter').rows!.dropped.text_duplicate, step('text_filter').rows!.out - want1.size);

  // A stray image two folders down in the export, no metadata names it: v2 prunes it.
  await mkdir(join(hf, 'train', 'old'), { recursive: true });
  await copyFile(join(data, 'ddb', 'train', '00001.jpg'), join(hf, 'train', 'old', 'stray.jpg'));

  // v2: all three sources.
  const r2 = await build(await loadRecipe(RECIPE, { env: { ...env, TAG: 'v2' } }), { workers: 1, reporter: quiet });
  const want2 = expected(await readSources(data, true), names);
  assert.deepEqual(await exported(hf), asList(want2), 'v2 holds exactly the prompts seed 004 rules keep');
  assert.ok(!existsSync(join(hf, 'train', 'old', 'stray.jpg')));
  assert.ok([...want2.keys()].every((id) => id.startsWith(`${want2.get(id)!.source}/`)), 'ids are <source>/<id>');

  // diff v1 v2: added and removed ids per source, with the step that removed them.
  const diffOut = join(dir, 'diff');
  const d = await cli(['diff', 'v1', 'v2', '--workdir', env.WORKDIR, '--out', diffOut]);
  assert.equal(d.code, 0);
  const ids = async (f: string) => (await readFile(join(diffOut, f), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; source: string; why: string });
  const added = await ids('added.jsonl');
  const removed = await ids('removed.jsonl');
  assert.deepEqual(added.map((r) => r.id).sort(), [...want2.keys()].filter((id) => !want1.has(id)).sort());
  assert.deepEqual(removed.map((r) => r.id).sort(), [...want1.keys()].filter((id) => !want2.has(id)).sort());
  assert.ok(removed.length >= 1, 'the openprompts row in validation takes a ddb train prompt out');
  // v2 prunes the stray image and the images of v1's rows that v2 no longer has.
  assert.equal(r2.summary.exports[0].stats['unlisted files pruned'], 1 + removed.length);
  assert.ok(removed.every((r) => r.why === 'filter: text_duplicate' && r.source === 'ddb'));
  assert.ok(added.every((r) => r.source === 'openprompts' && r.why === 'new in source'));
  assert.match(d.stdout, new RegExp(`source openprompts: \\+${added.length} -0`));

  // runs lists both versions with per-source and per-step figures.
  const runs = await cli(['runs', '--workdir', env.WORKDIR]);
  assert.match(runs.stdout, /run 1 {2}tag v1 .* finished {2}\d+ samples/);
  assert.match(runs.stdout, /run 2 {2}tag v2 /);
  assert.match(runs.stdout, /source openprompts: read 17, in 17, out \d+/);
  assert.match(runs.stdout, /step 5 filter: \d+ → \d+ .*dropped: text_duplicate \d+/);

  // Rollback: export --tag v1 writes v1's dataset again.
  const back = join(dir, 'rollback');
  const e = await cli(['export', '--workdir', env.WORKDIR, '--tag', 'v1', '--format', 'imagefolder', '--to', back, '--opt', 'columns.text=text']);
  assert.equal(e.code, 0);
  assert.deepEqual(await exported(back), asList(want1));

  // report --run 1 gives v1's figures, not the latest run's.
  const rep = await cli(['report', '--workdir', env.WORKDIR, '--run', '1', '--json', '--out', join(dir, 'r1.html')]);
  const figures = JSON.parse(rep.stdout) as { kept: number; listed: number; funnel: Array<{ name: string; after: number; removed: number }> };
  assert.equal(figures.kept, want1.size);
  assert.equal(figures.listed, 59);
  assert.deepEqual(figures.funnel.filter((f) => f.removed > 0).map((f) => [f.name, f.removed]), [['text_filter', 4], ['filter', 55 - want1.size]]);
});

test('prompt-versions: prompts.yaml cleans the prompt list before generation (preprocess, filter, self-dedup 0.85)', async () => {
  const dir = await tempDir();
  const data = join(dir, 'data');
  await generate(data);
  const names = (await readFile(join(data, 'resources', 'names.txt'), 'utf8')).split('\n').filter(Boolean);
  const file = fileURLToPath(new URL('../../examples/prompt-versions/prompts.yaml', import.meta.url));
  await build(await loadRecipe(file, { env: { DATA: data, OUT: join(dir, 'out'), WORKDIR: join(dir, 'wd') } }), { workers: 1, reporter: new Reporter({ mode: 'quiet' }) });
  const list = (await readFile(join(data, 'resources', 'prompts_chatgpt_0330.txt'), 'utf8')).split('\n').filter(Boolean);
  // One split for all: the rules of expected() with every row in train and no validation.
  const want = expected(list.map((text, i) => ({ id: `line-${i + 1}`, source: 'list', text, sourceSplit: 'train' })), names);
  const got = (await readFile(join(dir, 'out', 'prompts', 'prompts_dedup.jsonl'), 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: string; text: string });
  assert.deepEqual(got.map((g) => g.id).sort(), [...want.keys()].sort());
  assert.ok(got.length < list.length);
});
