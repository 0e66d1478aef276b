import type { Command } from 'commander';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DiffRow } from '../catalog/versions.js';
import { EXIT } from '../errors.js';
import { action, type CliState } from './common.js';

/** `imgsift runs`: every build of a workdir with its tag, date and rows in and out per step and source. */
export function registerRuns(program: Command, state: CliState): void {
  program
    .command('runs')
    .description('list the builds of a catalog: tag, date, status, samples per source and per step')
    .option('--workdir <dir>', 'catalog folder (default: .imgsift, else the current folder)')
    .option('--json', 'print the runs as JSON')
    .action(
      action(state, async (flags: { workdir?: string; json?: boolean }) => {
        const { Catalog } = await import('../catalog/catalog.js');
        const { findWorkdir } = await import('../report/workdir.js');
        const { formatRuns, listRuns } = await import('../catalog/versions.js');
        const catalog = await Catalog.open(findWorkdir(flags.workdir), { readOnly: true });
        try {
          const runs = await listRuns(catalog);
          process.stdout.write(flags.json ? JSON.stringify(runs) + '\n' : formatRuns(runs));
          return EXIT.ok;
        } finally {
          catalog.close();
        }
      }),
    );
}

/** `imgsift diff A B`: rows added and removed between two versions (tags or run numbers), ids written to files. */
export function registerDiff(program: Command, state: CliState): void {
  program
    .command('diff')
    .description('compare two dataset versions (tags or run numbers): rows added and removed per source and per step')
    .argument('<from>', 'the older version: a tag (v4) or a run number')
    .argument('<to>', 'the newer version')
    .option('--workdir <dir>', 'catalog folder (default: .imgsift, else the current folder)')
    .option('--out <dir>', 'where added.jsonl and removed.jsonl go (default: <workdir>/diff/<from>..<to>)')
    .option('--json', 'print the counts as JSON')
    .action(
      action(state, async (from: string, to: string, flags: { workdir?: string; out?: string; json?: boolean }) => {
        const { Catalog } = await import('../catalog/catalog.js');
        const { findWorkdir } = await import('../report/workdir.js');
        const { resolveRunRef } = await import('../catalog/run-view.js');
        const { diffRuns, formatDiff } = await import('../catalog/versions.js');
        const workdir = findWorkdir(flags.workdir);
        const catalog = await Catalog.open(workdir, { readOnly: true });
        try {
          const d = await diffRuns(catalog, await resolveRunRef(catalog, from), await resolveRunRef(catalog, to));
          const out = resolve(flags.out ?? join(workdir, 'diff', `${from}..${to}`));
          await mkdir(out, { recursive: true });
          const lines = (rows: DiffRow[]) => rows.map((r) => JSON.stringify(r) + '\n').join('');
          await writeFile(join(out, 'added.jsonl'), lines(d.added));
          await writeFile(join(out, 'removed.jsonl'), lines(d.removed));
          if (flags.json) {
            const { added, removed, ...counts } = d;
            process.stdout.write(JSON.stringify({ ...counts, added: added.length, removed: removed.length, out }) + '\n');
          } else {
            process.stdout.write(formatDiff(d, { from, to }) + `ids: ${join(out, 'added.jsonl')}, ${join(out, 'removed.jsonl')}\n`);
          }
          return EXIT.ok;
        } finally {
          catalog.close();
        }
      }),
    );
}
