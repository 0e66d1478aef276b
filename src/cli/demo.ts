import type { Command } from 'commander';
import { action, parsePositiveInt, reporterFor, withOutputFlags, type CliState, type OutputFlags } from './common.js';
import { interruptSignal } from './signals.js';

interface DemoFlags extends OutputFlags {
  out: string;
  workers?: number;
}

export function registerDemo(program: Command, state: CliState): void {
  withOutputFlags(
    program
      .command('demo')
      .description('make a sample dataset with planted problems, build it, and show what was found')
      .option('--out <dir>', 'where the sample data, recipe, catalog and outputs go', 'imgsift-demo')
      .option('--workers <n>', 'worker threads (default: number of cores)', parsePositiveInt('--workers')),
  ).action(
    action(state, async (flags: DemoFlags) => {
      const { runDemo } = await import('../demo/run.js');
      const { formatSummary } = await import('../report/summary.js');
      const { describeDemo } = await import('../demo/describe.js');
      const reporter = reporterFor(flags);
      const interrupt = interruptSignal(reporter);
      try {
        const demo = await runDemo(flags.out, { reporter, workers: flags.workers, signal: interrupt.signal });
        if (flags.json) {
          process.stdout.write(JSON.stringify({ summary: demo.build.summary, out: demo.out }) + '\n');
        } else {
          process.stdout.write(formatSummary(demo.build.summary) + '\n');
          process.stdout.write(await describeDemo(demo) + '\n');
        }
        return demo.build.exitCode;
      } finally {
        interrupt.dispose();
      }
    }),
  );
}
