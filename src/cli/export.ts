import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import type { ExportStats } from '../export/types.js';
import { action, reporterFor, withOutputFlags, type CliState, type OutputFlags } from './common.js';
import { interruptSignal } from './signals.js';

interface ExportFlags extends OutputFlags {
  workdir: string;
  format: string;
  to: string;
  opt: string[];
  dev?: boolean;
  /** Write this version (a tag or run number) instead of the latest run. */
  tag?: string;
}

/** `--opt key=value`: the value as JSON when it parses (numbers, booleans, lists), else as text; dotted keys nest. */
export function parseExportOpts(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--opt ${JSON.stringify(pair)}: expected key=value (e.g. --opt samples_per_shard=512)`);
    const path = pair.slice(0, eq).split('.');
    if (path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) {
      throw new UsageError(`--opt ${JSON.stringify(pair)}: '${pair.slice(0, eq)}' is not a valid option name`);
    }
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // plain text
    }
    let node = out;
    for (const p of path.slice(0, -1)) {
      const next = node[p];
      if (next !== undefined && (typeof next !== 'object' || next === null || Array.isArray(next))) {
        throw new UsageError(`--opt ${JSON.stringify(pair)}: '${p}' was already given a value`);
      }
      node = (node[p] ??= {}) as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return out;
}

function formatStats(format: string, stats: ExportStats): string {
  const width = Math.max(0, ...Object.keys(stats).map((k) => k.length));
  return [`export ${format}:`, ...Object.entries(stats).map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)].join('\n') + '\n';
}

/** Re-run one exporter on the latest run of an existing catalog. */
export async function runExport(flags: ExportFlags, reporter = reporterFor(flags), signal?: AbortSignal): Promise<ExportStats> {
  const { exporterFormats, getExporter } = await import('../export/registry.js');
  const { CATALOG_FILE, Catalog } = await import('../catalog/catalog.js');
  const { latestRunId, resolveRunRef, runPixelLimitOf, useRecordedRun, useRun } = await import('../catalog/run-view.js');
  const { pixelLimit, setPixelLimit } = await import('../image/open.js');
  const exporter = getExporter(flags.format);
  if (!exporter) throw new UsageError(`unknown export format ${JSON.stringify(flags.format)}; known formats: ${exporterFormats().join(', ')}`);
  const parsed = exporter.options.safeParse({ ...parseExportOpts(flags.opt), to: flags.to });
  if (!parsed.success) {
    const msgs = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'options'}: ${i.message}`);
    throw new UsageError(`export ${flags.format}: ${msgs.join('; ')}`);
  }
  const workdir = resolve(flags.workdir);
  if (!existsSync(join(workdir, CATALOG_FILE))) throw new UsageError(`no catalog in ${flags.workdir} (expected ${join(flags.workdir, CATALOG_FILE)}); run imgsift build first`);
  const catalog = await Catalog.open(workdir);
  try {
    const runId = flags.tag !== undefined ? await resolveRunRef(catalog, flags.tag) : await latestRunId(catalog);
    if (runId === undefined) throw new UsageError(`the catalog in ${flags.workdir} has no runs; run imgsift build first`);
    // An older version is written from what its run recorded (rollback); the latest from its run.
    if (flags.tag !== undefined) await useRecordedRun(catalog, runId);
    else await useRun(catalog, runId);
    // Images are decoded (converted) under the run's own pixel limit, as its build decoded them.
    const outer = pixelLimit();
    setPixelLimit((await runPixelLimitOf(catalog, runId)) ?? outer);
    try {
      return await exporter.run(
        { catalog, runId, workdir, reporter, baseDir: process.cwd(), signal, dev: flags.dev ?? false },
        parsed.data,
      );
    } finally {
      setPixelLimit(outer);
    }
  } finally {
    catalog.close();
  }
}

export function registerExport(program: Command, state: CliState): void {
  withOutputFlags(
    program
      .command('export')
      .description('write one export of the latest run of a catalog (webdataset, imagefolder, kohya, manifest, removal_list, ...)')
      .requiredOption('--workdir <dir>', 'the catalog folder (the recipe\'s workdir)')
      .requiredOption('--format <format>', 'export format')
      .requiredOption('--to <dest>', 'destination folder or file (local, or s3://bucket/prefix)')
      .option('--opt <key=value>', 'a format option, repeatable (dotted keys nest: --opt reencode.format=jpeg)', (v: string, prev: string[]) => [...prev, v], [] as string[])
      .option('--dev', 'development mode: extract shards locally', false)
      .option('--tag <version>', 'write this dataset version (a build tag or run number) instead of the latest run'),
  ).action(
    action(state, async (flags: ExportFlags) => {
      const reporter = reporterFor(flags);
      const interrupt = interruptSignal(reporter);
      try {
        const stats = await runExport(flags, reporter, interrupt.signal);
        if (flags.json) process.stdout.write(JSON.stringify({ format: flags.format, to: flags.to, stats }) + '\n');
        else process.stdout.write(formatStats(flags.format, stats));
        return EXIT.ok;
      } finally {
        interrupt.dispose();
      }
    }),
  );
}
