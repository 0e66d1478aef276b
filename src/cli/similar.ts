import type { Command } from 'commander';
import type { SimilarResult } from '../embed/similar.js';
import { UsageError } from '../errors.js';
import { action, parsePositiveInt, type CliState } from './common.js';

export function formatSimilar(r: SimilarResult): string {
  const q = 'id' in r.query ? `sample ${r.query.id}` : `text "${r.query.text}" (${r.query.textModel})`;
  const out = [`nearest to ${q} by ${r.model}:`];
  r.hits.forEach((h, i) => {
    const where = [h.split, h.label].filter(Boolean).join('/');
    out.push(`${String(i + 1).padStart(3)}  ${h.similarity.toFixed(4)}  ${h.id}${where ? `  [${where}]` : ''}${h.path && h.path !== h.id ? `  ${h.path}` : ''}`);
  });
  if (r.hits.length === 0) out.push('  (no samples)');
  return out.join('\n') + '\n';
}

export function registerSimilar(program: Command, state: CliState): void {
  program
    .command('similar')
    .description('the samples most similar to a sample or to a text query, by the embeddings of a build with an `embed` step')
    .option('--workdir <dir>', 'catalog folder (default: .imgsift, else the current folder)')
    .option('--id <id>', 'sample id to search from')
    .option('--text <query>', 'text query (needs the text tower of the image model, e.g. clip-vit-b32-text)')
    .option('--k <n>', 'number of results (default 10)', parsePositiveInt('--k'), 10)
    .option('--model <model>', 'image model id or name (default: the only one with embeddings)')
    .option('--text-model <model>', 'text tower: a name in the models directory or a path (default: the image model preset\'s)')
    .option('--json', 'print the result as JSON')
    .action(
      action(state, async (opts: { workdir?: string; id?: string; text?: string; k: number; model?: string; textModel?: string; json?: boolean }) => {
        if ((opts.id === undefined) === (opts.text === undefined)) throw new UsageError('similar: give exactly one of --id or --text');
        const { findWorkdir } = await import('../report/workdir.js');
        const { similar } = await import('../embed/similar.js');
        const r = await similar({ workdir: findWorkdir(opts.workdir), id: opts.id, text: opts.text, k: opts.k, model: opts.model, textModel: opts.textModel });
        process.stdout.write(opts.json ? JSON.stringify(r) + '\n' : formatSimilar(r));
      }),
    );
}
