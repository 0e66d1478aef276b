import { Command, InvalidArgumentError, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { Reporter } from '../exec/reporter.js';
import { EXIT, UsageError, errorMessage } from '../errors.js';
import type { QualityParamsInput } from '../steps/quality.js';
import { writeFileAtomic } from '../util/fs.js';
import { toPosixRelative } from '../util/paths.js';
import { QUALITY_ISSUE_TYPES, type QualityIssueType } from './choices.js';
import { action, parseList, parseNonNegativeNumber, parsePositiveInt, reporterFor, withOutputFlags, type CliState } from './common.js';

/** File extensions the directory walk treats as images (lower case). */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif', '.bmp']);

export interface QualityDirOptions {
  /** Step parameters (thresholds, rules); defaults as the `quality` step. */
  params?: QualityParamsInput;
  /** Images measured at once (default: number of cores). */
  concurrency?: number;
  reporter?: Reporter;
}

export interface QualityRow {
  /** Path relative to the scanned directory, with forward slashes. */
  path: string;
  /** Per issue type, absent for an image that could not be read. */
  issues?: Partial<Record<QualityIssueType, { score: number; flagged: boolean }>>;
  error?: string;
}

export interface QualityDirSummary {
  images: number;
  failed: number;
  /** Flagged images per issue type, every type present. */
  counts: Record<QualityIssueType, number>;
  issuesCsv: string;
  summaryTxt: string;
  summaryJson: string;
  rows: QualityRow[];
}

/**
 * Measure every image under `dir` (sorted walk, common image extensions) and write
 * `out/issues.csv` (one row per image: path, `<type>_score` and `is_<type>_issue` for every type,
 * error), `out/summary.txt` and `out/summary.json` (flagged counts per type). An image that cannot be
 * read gets a row with its error; the run goes on. `odd_size` compares the readable images' sizes.
 */
export async function runQualityDir(dir: string, out: string, options: QualityDirOptions = {}): Promise<QualityDirSummary> {
  const { QualityParams, measureOptionsFromParams, thresholdsFromParams } = await import('../steps/quality.js');
  const { measureQuality, scoreOddSize, scoreQuality } = await import('../image/quality.js');
  const parsed = QualityParams.safeParse(options.params ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`quality: parameter ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const params = parsed.data;
  const concurrency = options.concurrency ?? availableParallelism();
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`concurrency must be a whole number >= 1 (got ${concurrency})`);
  const root = resolve(dir);
  const rootStat = await stat(root).catch(() => undefined);
  if (!rootStat?.isDirectory()) throw new UsageError(`${dir}: not a directory`);
  const reporter = options.reporter ?? new Reporter({ mode: 'quiet' });

  const files = await listImages(root);
  const measureOpts = measureOptionsFromParams(params);
  const thresholds = thresholdsFromParams(params);
  const rows: QualityRow[] = files.map((f) => ({ path: toPosixRelative(root, f) }));
  const sizes: Array<{ width: number; height: number } | undefined> = new Array(files.length);
  const progress = reporter.progress('quality', files.length);

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      try {
        const m = await measureQuality(await readFile(files[i]), measureOpts);
        sizes[i] = { width: m.width, height: m.height };
        const issues: QualityRow['issues'] = {};
        for (const r of scoreQuality(m, thresholds)) issues[r.type as QualityIssueType] = { score: r.score, flagged: r.flagged };
        rows[i].issues = issues;
        progress.tick();
      } catch (err) {
        rows[i].error = errorMessage(err).split('\n')[0];
        progress.tick(1, 1);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(files.length, 1)) }, worker));
  progress.finish();

  // odd_size needs every readable image's size: the whole-dataset pass.
  const measured = rows.map((_, i) => i).filter((i) => sizes[i] !== undefined);
  const odd = scoreOddSize(measured.map((i) => sizes[i]!), params.odd_size_threshold);
  measured.forEach((i, k) => (rows[i].issues!.odd_size = { score: odd[k].score, flagged: odd[k].flagged }));

  const counts = Object.fromEntries(QUALITY_ISSUE_TYPES.map((t) => [t, 0])) as Record<QualityIssueType, number>;
  for (const row of rows) for (const t of QUALITY_ISSUE_TYPES) if (row.issues?.[t]?.flagged) counts[t]++;
  const failed = rows.filter((r) => r.error !== undefined).length;

  const issuesCsv = formatIssuesCsv(rows);
  const summaryJson = JSON.stringify({ images: rows.length, failed, counts, params }, null, 2) + '\n';
  const summaryTxt = formatSummary(rows.length, failed, counts);
  await writeFileAtomic(join(out, 'issues.csv'), issuesCsv);
  await writeFileAtomic(join(out, 'summary.json'), summaryJson);
  await writeFileAtomic(join(out, 'summary.txt'), summaryTxt);
  return { images: rows.length, failed, counts, issuesCsv, summaryTxt, summaryJson, rows };
}

/** Image files under `root`, sorted by path; hidden entries are skipped, symlinked directories not followed. */
async function listImages(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) {
        if (e.isFile() || (e.isSymbolicLink() && (await stat(p).catch(() => undefined))?.isFile())) found.push(p);
      }
    }
  };
  await walk(root);
  // Sort on the relative posix path so the order is the same on every platform.
  return found.sort((a, b) => cmp(toPosixRelative(root, a), toPosixRelative(root, b)));
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The header of issues.csv. */
export function issuesCsvHeader(): string[] {
  return ['path', ...QUALITY_ISSUE_TYPES.flatMap((t) => [`${t}_score`, `is_${t}_issue`]), 'error'];
}

function formatIssuesCsv(rows: QualityRow[]): string {
  const lines = [issuesCsvHeader().map(csvField).join(',')];
  for (const row of rows) {
    const cells = [row.path];
    for (const t of QUALITY_ISSUE_TYPES) {
      const r = row.issues?.[t];
      // Booleans as pandas writes them, so cleanvision users read the file unchanged.
      cells.push(r ? formatScore(r.score) : '', r ? (r.flagged ? 'True' : 'False') : '');
    }
    cells.push(row.error ?? '');
    lines.push(cells.map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}

/** Six decimals: enough to rank, and stable across platforms. */
function formatScore(v: number): string {
  return String(Math.round(v * 1e6) / 1e6);
}

/** RFC 4180: quote fields holding a comma, quote, CR or LF; double embedded quotes. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function formatSummary(images: number, failed: number, counts: Record<QualityIssueType, number>): string {
  const order = [...QUALITY_ISSUE_TYPES].sort((a, b) => counts[b] - counts[a] || QUALITY_ISSUE_TYPES.indexOf(a) - QUALITY_ISSUE_TYPES.indexOf(b));
  const width = Math.max(...order.map((t) => t.length), 'issue_type'.length);
  const lines = [
    `${images} images, ${failed} could not be read`,
    '',
    `${'issue_type'.padEnd(width)}  num_images`,
    ...order.map((t) => `${t.padEnd(width)}  ${counts[t]}`),
  ];
  return lines.join('\n') + '\n';
}

/** Flags: option name (commander camelCases it to the param key's camelCase), param key, help, max. */
const NUMBER_FLAGS: Array<{ flag: string; key: keyof QualityParamsInput; help: string; max?: number; int?: boolean }> = [
  { flag: 'dark-threshold', key: 'dark_threshold', help: 'flag dark when the 99th brightness percentile is below this (default 0.32)', max: 1 },
  { flag: 'light-threshold', key: 'light_threshold', help: 'flag light when 1 - the 5th brightness percentile is below this (default 0.05)', max: 1 },
  { flag: 'odd-aspect-ratio-threshold', key: 'odd_aspect_ratio_threshold', help: 'flag when min(w/h, h/w) is below this (default 0.35)', max: 1 },
  { flag: 'low-information-threshold', key: 'low_information_threshold', help: 'flag when entropy x 0.1 is below this (default 0.3)', max: 1 },
  { flag: 'blurry-threshold', key: 'blurry_threshold', help: 'flag blurry when the blur score is below this (default 0.29)', max: 1 },
  { flag: 'odd-size-threshold', key: 'odd_size_threshold', help: 'flag when sqrt(area) is this many times off the median (default 10)' },
  { flag: 'grayscale-tolerance', key: 'grayscale_tolerance', help: 'largest channel difference still counted as grey (default 0)', max: 255, int: true },
  { flag: 'min-side', key: 'min_side', help: 'flag low_resolution below this many pixels on either side (default off)', int: true },
  { flag: 'min-width', key: 'min_width', help: 'flag low_resolution below this width (default off)', int: true },
  { flag: 'min-height', key: 'min_height', help: 'flag low_resolution below this height (default off)', int: true },
  { flag: 'underexposed-fraction', key: 'underexposed_fraction', help: 'flag when more than this fraction of pixels is darker than 50 (default 0.5)', max: 1 },
  { flag: 'overexposed-fraction', key: 'overexposed_fraction', help: 'flag when more than this fraction of pixels is 200 or brighter (default 0.5)', max: 1 },
  { flag: 'laplacian-threshold', key: 'laplacian_threshold', help: 'flag low_sharpness when the Laplacian variance is below this (default 100)' },
  { flag: 'max-side', key: 'max_side', help: 'measure on a decode shrunk to this longer side (default 0: full resolution)', int: true },
];

const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function registerQuality(program: Command, state: CliState): void {
  const cmd = program
    .command('quality')
    .description('score every image in DIR for quality issues (cleanvision types plus resolution, format, exposure, sharpness)')
    .argument('<dir>', 'directory of images (walked recursively)')
    .requiredOption('--out <dir>', 'where to write issues.csv, summary.txt and summary.json');
  for (const f of NUMBER_FLAGS) {
    const parse = f.int ? parseNonNegativeInt(`--${f.flag}`, f.max) : parseNonNegativeNumber(`--${f.flag}`, f.max);
    cmd.option(`--${f.flag} <n>`, f.help, parse);
  }
  cmd
    .option('--allowed-formats <list>', 'comma-separated formats; flag others as disallowed_format (e.g. png,jpg,webp)', parseList)
    .addOption(new Option('--blur-resize <how>', "'pil' (cleanvision's numbers exactly) or 'libvips' (faster)").choices(['pil', 'libvips']))
    .option('--concurrency <n>', 'images measured at once (default: number of cores)', parsePositiveInt('--concurrency'));
  withOutputFlags(cmd).action(
    action(state, async (dir: string, opts: Record<string, unknown>) => {
      const params: Record<string, unknown> = {};
      for (const f of NUMBER_FLAGS) if (opts[camel(f.flag)] !== undefined) params[f.key] = opts[camel(f.flag)];
      if (opts.allowedFormats !== undefined) params.allowed_formats = opts.allowedFormats;
      if (opts.blurResize !== undefined) params.blur_resize = opts.blurResize;
      const flags = opts as { quiet?: boolean; json?: boolean };
      const reporter = reporterFor(flags);
      const summary = await runQualityDir(dir, String(opts.out), {
        params: params as QualityParamsInput,
        concurrency: opts.concurrency as number | undefined,
        reporter,
      });
      if (summary.images === 0) reporter.warn(`${dir}: no image files found`);
      process.stdout.write(flags.json ? summary.summaryJson : summary.summaryTxt);
      if (summary.failed > 0) {
        reporter.warn(`${summary.failed} of ${summary.images} images could not be read (see the error column of issues.csv)`);
        return EXIT.attention;
      }
      return EXIT.ok;
    }),
  );
}

function parseNonNegativeInt(name: string, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from 0 to ${max} (got '${value}')`);
    }
    return n;
  };
}
