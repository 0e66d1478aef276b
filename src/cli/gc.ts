import type { Command } from 'commander';
import { action, type CliState } from './common.js';

interface GcFlags {
  workdir?: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerGc(program: Command, state: CliState): void {
  program
    .command('gc')
    .description('remove derived files (masks, crops, resized images) that no sample refers to any more')
    .option('--workdir <dir>', 'catalog folder (default: .imgsift, else the current folder)')
    .option('--dry-run', 'count what would be removed, remove nothing')
    .option('--json', 'print the figures as JSON')
    .action(
      action(state, async (flags: GcFlags) => {
        const { Catalog } = await import('../catalog/catalog.js');
        const { collectGarbage } = await import('../exec/gc.js');
        const { findWorkdir } = await import('../report/workdir.js');
        const workdir = findWorkdir(flags.workdir);
        const catalog = await Catalog.open(workdir);
        try {
          const s = await collectGarbage(catalog, workdir, { dryRun: flags.dryRun });
          if (flags.json) process.stdout.write(JSON.stringify(s) + '\n');
          else {
            const verb = flags.dryRun ? 'would remove' : 'removed';
            process.stdout.write(
              `${verb} ${s.removed} unreferenced derived files (${(s.bytesFreed / 1e6).toFixed(1)} MB), kept ${s.kept}` +
                `${s.tempRemoved ? `, ${s.tempRemoved} temporary files of interrupted writes` : ''}` +
                `${s.resultsForgotten ? `; ${s.resultsForgotten} cached results forgotten (they are remade when needed)` : ''}\n`,
            );
          }
          return 0;
        } finally {
          catalog.close();
        }
      }),
    );
}
