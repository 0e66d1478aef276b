import { Command, InvalidArgumentError, Option } from 'commander';
import { EXIT } from '../errors.js';
import type { Progress } from '../exec/reporter.js';
import { action, parsePositiveInt, reporterFor, withOutputFlags, type CliState } from './common.js';

/** A similarity threshold: a number in (0, 1]. */
function parseThreshold(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n > 1) throw new InvalidArgumentError(`${name} must be a number above 0 and at most 1 (got '${value}')`);
    return n;
  };
}

interface TextDedupFlags {
  field: string;
  idField: string;
  threshold: number;
  self: boolean;
  against?: string;
  crossThreshold: number;
  ngram?: number;
  shingles: 'char' | 'word';
  multiset: boolean;
  numPerm?: number;
  keepCase?: boolean;
  keepPunctuation?: boolean;
  unicode?: 'NFKC' | 'NFC' | 'none';
  skipBadRows?: boolean;
  out: string;
  quiet?: boolean;
  json?: boolean;
}

export function registerTextDedup(program: Command, state: CliState): void {
  const cmd = program
    .command('text-dedup')
    .description('remove near-duplicate prompts/captions (MinHash-LSH on character n-grams, exact Jaccard), within FILE and against a reference file')
    .argument('<file>', 'JSONL or CSV/TSV file (optionally .gz)')
    .requiredOption('--out <dir>', 'where to write kept.jsonl, removed.jsonl, summary.txt and summary.json')
    .option('--field <name>', 'column holding the text', 'text')
    .option('--id-field <name>', 'column reported as the matched row id', 'id')
    .option('--threshold <t>', 'self-dedup Jaccard threshold', parseThreshold('--threshold'), 0.85)
    .option('--no-self', 'skip self-dedup (only remove rows near --against)')
    .option('--against <file2>', 'reference file (e.g. validation): rows of FILE near one of its rows are removed')
    .option('--cross-threshold <t>', 'Jaccard threshold against --against', parseThreshold('--cross-threshold'), 0.75)
    .addOption(new Option('--shingles <unit>', 'compare character or word n-grams').choices(['char', 'word']).default('char'))
    .option('--ngram <n>', 'n-gram length (default 3 characters, 1 word)', parsePositiveInt('--ngram'))
    .option('--no-multiset', 'count each n-gram once (plain sets): a prompt repeated 3 times then matches itself said once')
    .option('--num-perm <n>', 'MinHash permutations (default 128)', parsePositiveInt('--num-perm'))
    .option('--keep-case', 'do not lowercase before comparing')
    .option('--keep-punctuation', 'do not remove punctuation and symbols before comparing')
    .addOption(new Option('--unicode <form>', 'Unicode normalisation before comparing').choices(['NFKC', 'NFC', 'none']).default('NFKC'))
    .option('--skip-bad-rows', 'skip malformed rows (counted; exit 1) instead of stopping at the first');
  withOutputFlags(cmd).action(
    action(state, async (file: string, opts: TextDedupFlags) => {
      const { dedupTextFile, formatTextDedupSummary } = await import('../text/file-dedup.js');
      const reporter = reporterFor(opts);
      const bars = new Map<string, { p: Progress; last: number }>();
      const summary = await dedupTextFile({
        file, out: opts.out, field: opts.field, idField: opts.idField, threshold: opts.threshold, self: opts.self,
        against: opts.against, crossThreshold: opts.crossThreshold, ngram: opts.ngram, numPerm: opts.numPerm,
        shingles: opts.shingles, multiset: opts.multiset,
        normalize: { lowercase: !opts.keepCase, punctuation: opts.keepPunctuation ? 'keep' : 'remove', unicode: opts.unicode },
        skipBadRows: opts.skipBadRows,
        onBadRow: (err) => reporter.warn(`skipped: ${err.message}`),
        onProgress: (stage, done, total) => {
          let b = bars.get(stage);
          if (!b) bars.set(stage, (b = { p: reporter.progress(`text-dedup ${stage}`, total), last: 0 }));
          b.p.tick(done - b.last);
          b.last = done;
          if (done >= total) b.p.finish();
        },
      });
      process.stdout.write(opts.json ? JSON.stringify(summary) + '\n' : formatTextDedupSummary(summary));
      if (summary.bad_rows_skipped > 0) {
        reporter.warn(`${summary.bad_rows_skipped} malformed row(s) skipped`);
        return EXIT.attention;
      }
      return EXIT.ok;
    }),
  );
}
