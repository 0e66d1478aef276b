import type { Command } from 'commander';
import { action, parsePositiveInt, reporterFor, withOutputFlags, type CliState, type OutputFlags } from './common.js';
import { interruptSignal } from './signals.js';

/** The rows --skip-bad-rows skipped: the first ones with file:line and reason, and where the rest are. */
export function formatBadRows(ingest: { badRows: number; badRowExamples: string[]; badRowsFile?: string }): string {
  if (ingest.badRows === 0) return '';
  const shown = ingest.badRowExamples.length;
  const lines = [
    `imgsift: ${ingest.badRows} bad row(s) skipped` +
      (shown < ingest.badRows ? `, the first ${shown}:` : ':'),
    ...ingest.badRowExamples.map((e) => `  ${e}`),
  ];
  if (ingest.badRowsFile) lines.push(`imgsift: every skipped row, with its reason: ${ingest.badRowsFile}`);
  return lines.join('\n') + '\n';
}

interface BuildFlags extends OutputFlags {
  maxSamples?: number;
  dev?: boolean;
  skipBadRows?: boolean;
  workers?: number;
  workdir?: string;
  set: string[];
  tag?: string;
}

export function registerBuild(program: Command, state: CliState): void {
  withOutputFlags(
    program
      .command('build')
      .description('run a recipe: ingest the source, run its steps, write its exports, print the summary')
      .argument('<recipe>', 'recipe YAML file')
      .option('--max-samples <n>', 'process only the first N samples of the source', parsePositiveInt('--max-samples'))
      .option('--dev', 'development mode: extract shards locally instead of uploading', false)
      .option('--skip-bad-rows', 'go on past malformed manifest rows, counting them (default: stop at the first)', false)
      .option('--workers <n>', 'worker threads for per-sample steps (default: number of cores)', parsePositiveInt('--workers'))
      .option('--workdir <dir>', "catalog folder (default: the recipe's workdir, else .imgsift/<name>)")
      .option('--tag <name>', "name this build's dataset version (v5); imgsift runs / diff / export --tag read it")
      .option('--set <key=value>', 'override a recipe value, e.g. steps[2].quality.min_side=768 (repeatable)', (v: string, prev: string[]) => [...prev, v], []),
  ).action(
    action(state, async (recipe: string, flags: BuildFlags) => {
      const { build } = await import('../exec/build.js');
      const { formatSummary } = await import('../report/summary.js');
      const reporter = reporterFor(flags);
      const interrupt = interruptSignal(reporter);
      try {
        const result = await build(recipe, {
          maxSamples: flags.maxSamples, dev: flags.dev, skipBadRows: flags.skipBadRows, workers: flags.workers,
          workdir: flags.workdir, set: flags.set, reporter, signal: interrupt.signal, argv: process.argv.slice(2), tag: flags.tag,
        });
        if (flags.json) process.stdout.write(JSON.stringify(result.summary) + '\n');
        else {
          process.stderr.write(formatBadRows(result.summary.ingest));
          process.stdout.write(formatSummary(result.summary) + '\n');
        }
        return result.exitCode;
      } finally {
        interrupt.dispose();
      }
    }),
  );
}
