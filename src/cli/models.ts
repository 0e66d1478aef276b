import type { Command } from 'commander';
import { EXIT } from '../errors.js';
import { action, type CliState } from './common.js';

export function registerModels(program: Command, state: CliState): void {
  program
    .command('models')
    .description('list embedding model presets and the models installed in the models directory ($IMGSIFT_MODELS), and how to add one')
    .option('--dir <dir>', 'models directory (default: $IMGSIFT_MODELS, else the user cache directory)')
    .option('--json', 'print the report as JSON')
    .action(
      action(state, async (opts: { dir?: string; json?: boolean }) => {
        const { modelsReport, formatModelsReport } = await import('./models-report.js');
        const { modelsDir } = await import('../embed/models-dir.js');
        const report = modelsReport(opts.dir ?? modelsDir());
        process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatModelsReport(report));
        return report.installed.some((m) => m.problem) ? EXIT.attention : EXIT.ok;
      }),
    );
}
