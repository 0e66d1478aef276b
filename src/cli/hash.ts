import { Command, InvalidArgumentError, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { EXIT, errorMessage } from '../errors.js';
import type { HashAlgo } from '../image/perceptual.js';
import { HASH_ALGOS } from './choices.js';
import { action, type CliState } from './common.js';

export interface HashFileRow {
  /** The path as given. */
  path: string;
  phash?: string;
  dhash?: string;
  ahash?: string;
  whash?: string;
  sha256?: string;
  pixel_sha256?: string;
  /** Why the file could not be read or decoded; the hashes are then absent. */
  error?: string;
}

export interface HashFilesOptions {
  algos?: readonly HashAlgo[];
  /**
   * Hash the decoded pixels too (default false): it needs a full-size decode, which costs several
   * times the perceptual hashes' reduced decode, and is not part of imagehash's output.
   */
  pixel?: boolean;
  /** Resample from the full-size decode, bit-exact with imagehash (slower). */
  exact?: boolean;
  /** Files hashed at once (default: number of cores). */
  concurrency?: number;
}

/** Hash files; one row per path, in the order given. A failing file gets an `error` and the rest go on. */
export async function hashFiles(paths: readonly string[], options: HashFilesOptions = {}): Promise<HashFileRow[]> {
  const algos: readonly HashAlgo[] = options.algos ?? HASH_ALGOS;
  const concurrency = options.concurrency ?? availableParallelism();
  const rows: HashFileRow[] = paths.map((path) => ({ path }));
  const { computeHashes } = await import('../image/hashes.js');
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const i = next++;
      try {
        const h = await computeHashes(await readFile(paths[i]), algos, {
          pixel: options.pixel ?? false,
          reducedMinSide: options.exact ? 0 : undefined,
        });
        for (const a of algos) rows[i][a] = h[a];
        rows[i].sha256 = h.sha256;
        if (h.pixel_sha256) rows[i].pixel_sha256 = h.pixel_sha256;
      } catch (err) {
        rows[i].error = errorMessage(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, paths.length)) }, worker));
  return rows;
}

export function parseAlgos(value: string, previous?: HashAlgo[]): HashAlgo[] {
  const list = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (list.length === 0) throw new InvalidArgumentError(`--algo needs at least one of ${HASH_ALGOS.join(', ')}`);
  for (const a of list) {
    if (!(HASH_ALGOS as readonly string[]).includes(a)) {
      throw new InvalidArgumentError(`unknown hash algorithm '${a}'; allowed: ${HASH_ALGOS.join(', ')}`);
    }
  }
  const all = [...(previous ?? []), ...(list as HashAlgo[])];
  return HASH_ALGOS.filter((a) => all.includes(a));
}

const SHA_SHOWN = 16;

/** An aligned text table: path, the hashes, and the first digits of the two sha256s. */
export function formatHashTable(rows: readonly HashFileRow[], algos: readonly HashAlgo[], pixel: boolean): string {
  const cols: Array<{ head: string; cell: (r: HashFileRow) => string }> = [
    ...algos.map((a) => ({ head: a, cell: (r: HashFileRow) => r[a] ?? '' })),
    { head: 'sha256', cell: (r) => (r.sha256 ? r.sha256.slice(0, SHA_SHOWN) + '…' : '') },
    ...(pixel ? [{ head: 'pixel_sha256', cell: (r: HashFileRow) => (r.pixel_sha256 ? r.pixel_sha256.slice(0, SHA_SHOWN) + '…' : '') }] : []),
  ];
  const pathWidth = Math.max(4, ...rows.map((r) => r.path.length));
  const widths = cols.map((c) => Math.max(c.head.length, SHA_SHOWN + 1, ...rows.map((r) => c.cell(r).length)));
  const line = (first: string, cells: string[]) => [first.padEnd(pathWidth), ...cells.map((c, i) => c.padEnd(widths[i]))].join('  ').trimEnd();
  const out = [line('path', cols.map((c) => c.head))];
  for (const r of rows) out.push(r.error ? line(r.path, [`error: ${r.error}`]) : line(r.path, cols.map((c) => c.cell(r))));
  return out.join('\n') + '\n';
}

export function registerHash(program: Command, state: CliState): void {
  program
    .command('hash')
    .description('imagehash-compatible perceptual hashes (16 hex digits) plus the file sha256, one line per file')
    .argument('<files...>', 'image files')
    .addOption(new Option('--algo <list>', `comma-separated: ${HASH_ALGOS.join(', ')}`).argParser(parseAlgos))
    .option('--json', 'one JSON object per line: {"path", <algo>…, "sha256"} (and "pixel_sha256" with --pixel) or {"path", "error"}')
    .option('--pixel', 'also the sha256 of the decoded pixels (full-size decode: several times slower)')
    .option('--no-pixel', 'no decoded-pixel sha256 (the default)')
    .option('--exact', 'resample from the full-size decode: bit-exact with imagehash, several times slower')
    .action(
      action(state, async (files: string[], opts: { algo?: HashAlgo[]; json?: boolean; pixel?: boolean; exact?: boolean }) => {
        const algos = opts.algo ?? [...HASH_ALGOS];
        const pixel = opts.pixel === true;
        const rows = await hashFiles(files, { algos, pixel, exact: opts.exact });
        if (opts.json) {
          for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
        } else {
          process.stdout.write(formatHashTable(rows, algos, pixel));
        }
        const failed = rows.filter((r) => r.error).length;
        if (failed > 0) {
          process.stderr.write(`imgsift: ${failed} of ${rows.length} file(s) could not be hashed\n`);
          return EXIT.attention;
        }
        return EXIT.ok;
      }),
    );
}
