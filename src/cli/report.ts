import type { Command } from 'commander';
import { join } from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import { action, parsePositiveInt, type CliState } from './common.js';

interface ReportFlags {
  workdir?: string;
  out?: string;
  run?: number;
  json?: boolean;
}

export const DEFAULT_REPORT_FILE = 'report.html';

export function registerReport(program: Command, state: CliState): void {
  program
    .command('report')
    .description('write the static HTML report of a build (one self-contained file) and print its text summary')
    .option('--workdir <dir>', 'catalog folder (default: .imgsift, else the current folder)')
    .option('--out <file>', `report file (default: <workdir>/${DEFAULT_REPORT_FILE})`)
    .option('--run <n>', 'which run (default: the newest finished one)', parsePositiveInt('--run'))
    .option('--json', "print the report's figures as JSON instead of text")
    .action(
      action(state, async (flags: ReportFlags) => {
        const { Catalog } = await import('../catalog/catalog.js');
        const { latestRunId } = await import('../catalog/run-view.js');
        const { writeReport } = await import('../report/html.js');
        const { formatReportText } = await import('../report/text.js');
        const { findWorkdir } = await import('../report/workdir.js');
        const workdir = findWorkdir(flags.workdir);
        // Read-only: a report never changes the catalog, and may run beside other readers.
        const catalog = await Catalog.open(workdir, { readOnly: true });
        try {
          const runId = flags.run ?? (await latestRunId(catalog));
          if (runId === undefined) throw new UsageError(`catalog in ${workdir} has no runs yet; build a recipe first`);
          const out = flags.out ?? join(workdir, DEFAULT_REPORT_FILE);
          const r = await writeReport(catalog, runId, out);
          if (flags.json) process.stdout.write(JSON.stringify({ file: r.file, bytes: r.bytes, ...r.data }) + '\n');
          else process.stdout.write(formatReportText(r.data) + `Report: ${r.file} (${Math.ceil(r.bytes / 1024)} KiB)\n`);
          return r.data.run.status === 'finished' ? EXIT.ok : EXIT.attention;
        } finally {
          catalog.close();
        }
      }),
    );
}
