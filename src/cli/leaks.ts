import { Command, InvalidArgumentError, Option } from 'commander';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import type { Reporter } from '../exec/reporter.js';
import { LEAK_METHODS, type LeakMethodName } from './choices.js';
import { action, parseNonNegativeNumber, parsePositiveInt, reporterFor, withOutputFlags, type CliState, type OutputFlags } from './common.js';
import { interruptSignal } from './signals.js';
import { csvLine, failedImages, runStandalone } from './workdir-run.js';

/** Seed 002's report columns. */
export const LEAKS_CSV_HEADER = ['train_image', 'test_image', 'method', 'similarity', 'leak_type', 'hamming_distance'];

export interface LeaksDirsOptions {
  methods?: LeakMethodName[];
  phashThreshold?: number;
  /** Perceptual: also use dedup's matcher (default true); false: the plain pHash distance alone. */
  matcher?: boolean;
  semanticThreshold?: number;
  /** Embedding model for `semantic` (a name in IMGSIFT_MODELS or a path to an .onnx file). */
  model?: string;
  workdir?: string;
  workers?: number;
  reporter?: Reporter;
  signal?: AbortSignal;
}

export interface LeakRow {
  train_image: string;
  test_image: string;
  method: LeakMethodName;
  similarity: number;
  leak_type: string;
  hamming_distance: number | null;
}

export interface LeaksDirsResult {
  trainImages: number;
  testImages: number;
  rows: LeakRow[];
  failed: Array<{ path: string; reason: string }>;
  csv: string;
  summary: string;
  summaryPath: string;
}

/** `R.csv` → `R_summary.txt`, beside it. */
export function summaryPathFor(output: string): string {
  const name = basename(output).replace(/\.csv$/i, '');
  return join(dirname(output), `${name}_summary.txt`);
}

/**
 * Seed 002's leak check between two folders: both are ingested into one catalog as splits
 * `train` and `test` (via a JSONL manifest the run writes in its workdir), hashed, and compared by
 * the `leaks` step. Writes `output` (CSV: train_image, test_image, method, similarity, leak_type,
 * hamming_distance; paths as the folders were given plus the path inside them) and
 * `<output without .csv>_summary.txt`.
 */
export async function runLeaksDirs(trainDir: string, testDir: string, output: string, options: LeaksDirsOptions = {}): Promise<LeaksDirsResult> {
  const stepParams = {
    between: ['train', 'test'],
    methods: options.methods ?? ['exact', 'perceptual'],
    ...(options.phashThreshold !== undefined ? { phash_threshold: options.phashThreshold } : {}),
    ...(options.matcher === false ? { matcher: false } : {}),
    ...(options.semanticThreshold !== undefined ? { semantic_threshold: options.semanticThreshold } : {}),
  };
  const { DEFAULT_IMAGE_EXTENSIONS } = await import('../sources/config.js');
  const { LeaksParamsSchema, readLeaks } = await import('../steps/leaks.js');
  const { emptyCounts, requireFolder, walkImages } = await import('../sources/walk.js');
  const { writeFileAtomic } = await import('../util/fs.js');
  const parsed = LeaksParamsSchema.safeParse(stepParams);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`leaks: parameter ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const semantic = parsed.data.methods.includes('semantic');
  if (semantic && !options.model) {
    // Fail before any work: without a model there are no embeddings to compare.
    throw new UsageError(
      "leaks: method 'semantic' compares image embeddings: name a local ONNX model with --model NAME|PATH " +
        "(see 'imgsift models'), or use --methods exact perceptual",
    );
  }
  const sides = [
    { split: 'train', dir: trainDir },
    { split: 'test', dir: testDir },
  ];
  for (const s of sides) await requireFolder(resolve(s.dir));
  /** Sample id → the path written in the report. */
  const display = new Map<string, string>();

  const recipe = async (workdir: string) => {
    const lines: string[] = [];
    for (const s of sides) {
      const ext = [...DEFAULT_IMAGE_EXTENSIONS];
      for await (const f of walkImages(resolve(s.dir), { extensions: ext, recursive: true }, emptyCounts())) {
        const id = `${s.split}:${f.rel}`;
        display.set(id, posix.join(s.dir.split('\\').join('/'), f.rel));
        lines.push(JSON.stringify({ id, image: f.full, split: s.split }));
      }
    }
    const manifest = join(workdir, 'leaks-input.jsonl');
    await writeFileAtomic(manifest, lines.join('\n') + '\n');
    return {
      name: 'leaks',
      source: { format: 'jsonl', path: manifest, allow_absolute_paths: true, fields: { id: 'id', image: 'image', split: 'split' } },
      steps: [
        { probe: {} }, { hash: {} }, { dedup_signals: {} },
        ...(semantic ? [{ embed: { model: options.model } }] : []),
        { leaks: stepParams },
      ],
    };
  };

  return runStandalone(recipe, options, async (catalog, result) => {
    const leaks = await readLeaks(catalog, result.runId);
    const failed = (await failedImages(catalog, result.runId)).map((f) => ({ path: display.get(f.id) ?? f.path, reason: f.reason }));
    const count = async (split: string) => catalog.scalar(`SELECT count(*) FROM active WHERE split = ?`, [split]);
    const trainImages = await count('train');
    const testImages = await count('test');
    const rows: LeakRow[] = leaks.map((l) => ({
      train_image: display.get(l.train_id) ?? l.train_image,
      test_image: display.get(l.test_id) ?? l.test_image,
      method: l.method, similarity: l.similarity, leak_type: l.leak_type, hamming_distance: l.hamming_distance,
    }));
    const csv = [csvLine(LEAKS_CSV_HEADER), ...rows.map((r) => csvLine([r.train_image, r.test_image, r.method, r.similarity, r.leak_type, r.hamming_distance]))].join('\n') + '\n';
    const summary = formatLeakSummary({ trainDir, testDir, trainImages, testImages, rows, failed: failed.length, params: parsed.data });
    const summaryPath = summaryPathFor(output);
    await writeFileAtomic(output, csv);
    await writeFileAtomic(summaryPath, summary);
    return { trainImages, testImages, rows, failed, csv, summary, summaryPath };
  });
}

function formatLeakSummary(r: {
  trainDir: string; testDir: string; trainImages: number; testImages: number; rows: LeakRow[]; failed: number;
  params: { methods: string[]; phash_threshold: number; semantic_threshold: number; matcher: boolean };
}): string {
  const leakedTest = new Set(r.rows.map((x) => x.test_image)).size;
  const pct = r.testImages ? ((leakedTest / r.testImages) * 100).toFixed(2) : '0.00';
  const count = (key: 'method' | 'leak_type', v: string) => r.rows.filter((x) => x[key] === v).length;
  const out = [
    'TRAIN-TEST LEAK DETECTION SUMMARY',
    `train: ${r.trainDir} (${r.trainImages} images)`,
    `test: ${r.testDir} (${r.testImages} images)`,
    `methods: ${r.params.methods.join(', ')}; phash threshold ${r.params.phash_threshold}` +
      (r.params.methods.includes('perceptual') && r.params.matcher ? ' plus the near-copy matcher (crop, rotation, watermark, caption, mirror, letterbox)' : '') +
      (r.params.methods.includes('semantic') ? `; semantic threshold ${r.params.semantic_threshold}` : ''),
    '',
    `leaked pairs: ${r.rows.length}`,
    `test images with a leak: ${leakedTest} (${pct}% of test)`,
    '',
    'by method:',
    ...r.params.methods.map((m) => `  ${m}: ${count('method', m)}`),
    '',
    'by leak type:',
    ...['exact_duplicate', 'near_duplicate', 'semantic_duplicate'].map((t) => `  ${t}: ${count('leak_type', t)}`),
  ];
  if (r.failed) out.push('', `images that could not be read or decoded (not compared): ${r.failed}`);
  return out.join('\n') + '\n';
}

interface LeaksFlags extends OutputFlags {
  train: string;
  test: string;
  methods: LeakMethodName[];
  phashThreshold?: number;
  matcher: boolean;
  semanticThreshold?: number;
  model?: string;
  output: string;
  workdir?: string;
  workers?: number;
}

function parseMethod(value: string, previous: LeakMethodName[] = []): LeakMethodName[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const m of list) {
    if (!(LEAK_METHODS as readonly string[]).includes(m)) throw new InvalidArgumentError(`unknown method '${m}'; allowed: ${LEAK_METHODS.join(', ')}`);
  }
  return [...previous, ...(list as LeakMethodName[])];
}

export function registerLeaks(program: Command, state: CliState): void {
  withOutputFlags(
    program
      .command('leaks')
      .description('train–test leaks between two folders: a CSV of leaked pairs and a summary beside it')
      .requiredOption('--train <dir>', 'training images (searched recursively)')
      .requiredOption('--test <dir>', 'evaluation images (searched recursively)')
      .addOption(new Option('--methods <method...>', `any of ${LEAK_METHODS.join(', ')}`).argParser(parseMethod))
      .option('--phash-threshold <bits>', 'perceptual: pHash distance at most this (default 5)', parseNonNegativeNumber('--phash-threshold', 64))
      .option('--no-matcher', "perceptual: the plain pHash distance only, without dedup's near-copy matcher")
      .option('--semantic-threshold <cos>', 'semantic: cosine similarity at least this (default 0.95)', parseNonNegativeNumber('--semantic-threshold', 1))
      .option('--model <name|path>', "semantic: the embedding model (see 'imgsift models')")
      .requiredOption('--output <file.csv>', 'report CSV; the summary goes to <file>_summary.txt')
      .option('--workdir <dir>', 'keep the catalog here, so a rerun reuses the per-image work (default: a temporary folder)')
      .option('--workers <n>', 'worker threads (default: number of cores)', parsePositiveInt('--workers')),
  ).action(
    action(state, async (flags: LeaksFlags) => {
      const reporter = reporterFor(flags);
      const interrupt = interruptSignal(reporter);
      try {
        if (flags.phashThreshold !== undefined && !Number.isInteger(flags.phashThreshold)) {
          throw new UsageError(`--phash-threshold must be a whole number of bits (got ${flags.phashThreshold})`);
        }
        const r = await runLeaksDirs(flags.train, flags.test, flags.output, {
          methods: flags.methods ? [...new Set(flags.methods)] : undefined, phashThreshold: flags.phashThreshold, matcher: flags.matcher,
          semanticThreshold: flags.semanticThreshold, model: flags.model, workdir: flags.workdir, workers: flags.workers, reporter, signal: interrupt.signal,
        });
        if (flags.json) {
          process.stdout.write(JSON.stringify({ train: r.trainImages, test: r.testImages, pairs: r.rows.length, failed: r.failed.length, output: flags.output, summary: r.summaryPath }) + '\n');
        } else {
          process.stdout.write(r.summary + `\n→ ${flags.output}, ${r.summaryPath}\n`);
        }
        if (r.failed.length > 0) {
          for (const f of r.failed.slice(0, 10)) process.stderr.write(`imgsift: ${f.path}: ${f.reason}\n`);
          process.stderr.write(`imgsift: ${r.failed.length} image(s) could not be read or decoded; they were not compared\n`);
          return EXIT.attention;
        }
        return EXIT.ok;
      } finally {
        interrupt.dispose();
      }
    }),
  );
}
