import type { Command } from 'commander';
import { EXIT } from '../errors.js';
import { action, parseNonNegativeNumber, parsePositiveInt, reporterFor, withOutputFlags, type CliState, type OutputFlags } from './common.js';

interface ValidateFlags extends OutputFlags {
  output?: string;
  maxSamples?: number;
  borderMargin?: number;
  fullCoverage?: number;
  format?: string;
  trigger?: string;
  batchSize?: number;
}

export function registerValidate(program: Command, state: CliState): void {
  withOutputFlags(
    program
      .command('validate')
      .description('check WebDataset shards: members per sample, unique keys, images decode, mask coverage/components/border; optional overlays')
      .argument('<shards>', 'a .tar shard, a folder of shards, or extracted shard folders (dev_extracted/<split>/shard-000000/)')
      .option('--output <dir>', 'write overlay images (input beside input with the mask in red) to this folder')
      .option('--max-samples <n>', 'check only the first N samples', parsePositiveInt('--max-samples'))
      .option('--border-margin <px>', 'masks within this many pixels of the border are flagged as touching it (default 0)', parseNonNegativeNumber('--border-margin'))
      .option('--full-coverage <percent>', 'masks covering at least this much are flagged as full (default 99)', parseNonNegativeNumber('--full-coverage', 100))
      .option('--format <format>', 'webdataset or kohya (default: kohya when the folder has img/<repeats>_<name>/)')
      .option('--trigger <word>', 'kohya: trigger word captions must hold (default: first word of each img/ folder name)')
      .option('--batch-size <n>', 'kohya: buckets with fewer images are flagged (default 1)', parsePositiveInt('--batch-size')),
  ).action(
    action(state, async (shards: string, flags: ValidateFlags) => {
      const { isKohyaFolder, validateKohya, formatKohyaReport } = await import('../validate/kohya.js');
      if (flags.format === 'kohya' || (flags.format === undefined && (await isKohyaFolder(shards)))) {
        const report = await validateKohya(shards, { trigger: flags.trigger, batchSize: flags.batchSize });
        process.stdout.write(flags.json ? JSON.stringify(report) + '\n' : formatKohyaReport(report));
        return report.problems.length ? EXIT.attention : EXIT.ok;
      }
      const { formatReport } = await import('../validate/format.js');
      const { validateShards } = await import('../validate/validate.js');
      const report = await validateShards(shards, {
        output: flags.output, maxSamples: flags.maxSamples, borderMargin: flags.borderMargin, fullCoverage: flags.fullCoverage,
        reporter: flags.json || flags.quiet ? undefined : reporterFor(flags),
      });
      if (flags.json) {
        const { maskRecords: _omit, ...rest } = report;
        process.stdout.write(JSON.stringify(rest) + '\n');
      } else {
        process.stdout.write(formatReport(report));
      }
      return report.problems.length ? EXIT.attention : EXIT.ok;
    }),
  );
}
