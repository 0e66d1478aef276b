import type { Command } from 'commander';
import { EXIT } from '../errors.js';
import { DEFAULT_IMPORT_SOURCE, FIELD_ALIASES, parseFieldMap, type FieldMap } from '../review/import-fields.js';
import type { ImportIssuesResult } from '../review/imports.js';
import { action, type CliState } from './common.js';

interface ImportFlags {
  workdir?: string;
  map?: FieldMap;
  source: string;
  skipBadRows?: boolean;
  json?: boolean;
}

export function formatImportResult(r: ImportIssuesResult): string {
  const lines = [
    `Imported ${r.imported} issue(s) from ${r.file} as source '${r.source}' (${r.rows} rows read)`,
    `  matched by id: ${r.matchedById}, by path: ${r.matchedByPath}` + (r.replaced ? `; replaced ${r.replaced} earlier '${r.source}' issue(s)` : ''),
    `  columns: ${Object.entries(r.columns).filter(([, c]) => c).map(([f, c]) => `${f}=${c}`).join(', ')}`,
  ];
  const types = Object.entries(r.types);
  if (types.length) lines.push(`  by type: ${types.map(([t, n]) => `${t} ${n}`).join(', ')}`);
  if (r.unmatched) {
    lines.push(`  ${r.unmatched} row(s) matched no sample; written to ${r.unmatchedFile}. First:`);
    for (const u of r.unmatchedExamples) lines.push(`    line ${u.line}: id=${u.id ?? ''} path=${u.path ?? ''} (${u.reason})`);
  }
  if (r.badRows) {
    lines.push(`  ${r.badRows} malformed row(s) skipped. First:`);
    for (const b of r.badRowExamples) lines.push(`    ${b}`);
  }
  return lines.join('\n') + '\n';
}

export function registerImportIssues(program: Command, state: CliState): void {
  program
    .command('import-issues')
    .description("load a third-party issue export (e.g. Visual Layer's CSV) into the catalog as issues of that tool")
    .argument('<export>', 'CSV/TSV export, one flagged image per row')
    .option('--workdir <dir>', 'catalog folder (default: .imgsift, else the current folder)')
    .option(
      '--map <field=column,...>',
      `columns for fields the defaults miss; fields: ${Object.keys(FIELD_ALIASES).join(', ')}`,
      (v: string, prev: FieldMap = {}) => ({ ...prev, ...parseFieldMap(v) }),
    )
    .option('--source <name>', 'tool name stored with the issues; re-importing replaces that source', DEFAULT_IMPORT_SOURCE)
    .option('--skip-bad-rows', 'skip malformed rows, counting them (default: stop at the first)', false)
    .option('--json', 'print the result as JSON')
    .action(
      action(state, async (file: string, flags: ImportFlags) => {
        const { Catalog } = await import('../catalog/catalog.js');
        const { findWorkdir } = await import('../report/workdir.js');
        const { importIssues } = await import('../review/imports.js');
        const workdir = findWorkdir(flags.workdir);
        const catalog = await Catalog.open(workdir);
        try {
          const r = await importIssues({ catalog, file, source: flags.source, map: flags.map, skipBadRows: flags.skipBadRows, workdir });
          process.stdout.write(flags.json ? JSON.stringify(r) + '\n' : formatImportResult(r));
          if (r.unmatched || r.badRows) {
            process.stderr.write(`imgsift: ${r.unmatched} unmatched and ${r.badRows} malformed row(s) in ${file}\n`);
            return EXIT.attention;
          }
          return EXIT.ok;
        } finally {
          catalog.close();
        }
      }),
    );
}
