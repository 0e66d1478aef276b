import { asStorageError } from '../errors.js';
import { rm } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { z } from 'zod';
import { ImgsiftError } from '../errors.js';
import { compareIds } from './file-export.js';
import { commitOwned, ownedKey, type OwnedFile } from './owned-files.js';
import { pathTemplateProblem, splitFileName, templateFields } from './path-template.js';
import { recordFormatOf, writeRecords, type Row } from './records.js';
import { rolePaths } from './role-paths.js';
import { FieldList, activeSamplesWithFiles, emptyFields, fieldValue, parseFields, type Field, type ViewSample } from './sample-view.js';
import { S3Options, sinkFor, splitFileTarget, type Sink } from './sink.js';
import { DECIDED_LABEL } from './labels.js';
import type { Exporter, ExportContext, ExportStats } from './types.js';

/**
 * A flat manifest of every active sample with everything the catalog knows of it: the sample's
 * columns, its image's probe facts, its flagged issues, tags and review decision. JSONL or Parquet,
 * chosen by the file extension (or `as`). Written through DuckDB's COPY to a temporary file, then
 * committed through the export sink (renamed into place, or uploaded to s3://), so the manifest is
 * complete or absent; an unchanged manifest is left untouched.
 */
export const ManifestOptions = z
  .object({
    /** A file: local (relative to the recipe) or s3://bucket/key. With --dev an s3:// one goes to dev_extracted/<name>. */
    to: z.string().min(1),
    s3: S3Options.optional(),
    as: z.enum(['jsonl', 'parquet', 'csv']).optional(),
    /** Include samples that were dropped, with their drop reasons (default: only kept samples). */
    include_dropped: z.boolean().default(false),
    /**
     * Which fields each record has, in order: names (`sku_id`, `label`, `meta.bbox`) or renames
     * (`{image_path: role:crop}`); see sample-view.ts. Default: every column of manifestSelect.
     */
    fields: FieldList.optional(),
    /** One file per split named by this template (`{split}_image_text.jsonl`); `to` is then the folder. */
    name: z.string().min(1).optional(),
    /** `role:` fields not written by a files export into `to`: paths relative to this folder (relative to the recipe). */
    relative_to: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.name !== undefined) {
      const p = pathTemplateProblem(o.name);
      if (p) ctx.addIssue({ code: 'custom', path: ['name'], message: p });
      else if (!templateFields(o.name).includes('split')) {
        ctx.addIssue({ code: 'custom', path: ['name'], message: `name ${JSON.stringify(o.name)} must contain {split} (one file per split)` });
      } else if (templateFields(o.name).some((f) => f !== 'split')) {
        ctx.addIssue({ code: 'custom', path: ['name'], message: `name ${JSON.stringify(o.name)} may only use {split}` });
      }
    }
    if (o.fields) {
      try {
        parseFields(o.fields, 'fields');
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['fields'], message: (err as Error).message });
      }
    }
  });
export type ManifestOptions = z.infer<typeof ManifestOptions>;

export const manifestExporter: Exporter<ManifestOptions> = {
  format: 'manifest',
  description: 'flat JSONL/Parquet/CSV manifest of all samples with probe facts, issues, tags and decisions',
  options: ManifestOptions,
  async run(ctx: ExportContext, options: ManifestOptions): Promise<ExportStats> {
    if (options.fields || options.name !== undefined) return layoutManifest(ctx, options);
    const { dir, name } = splitFileTarget(options.to);
    const kind = options.as ?? kindFromExtension(name);
    const sink = await sinkFor(ctx, dir, options.s3);
    try {
      const from = options.include_dropped
        ? `(SELECT * FROM samples WHERE seen_run = ${ctx.runId})`
        : 'active';
      const select = manifestSelect(from, ctx.runId);
      const format = kind === 'jsonl' ? `FORMAT JSON` : kind === 'csv' ? `FORMAT CSV, HEADER` : `FORMAT PARQUET`;
      const tmp = await sink.scratchFile(name);
      try {
        await ctx.catalog.run(`COPY (${select}) TO '${tmp.replace(/'/g, "''")}' (${format})`);
      } catch (err) {
        await rm(tmp, { force: true });
        throw asStorageError(err, options.to);
      }
      await sink.putFile(name, tmp);
      const rows = await ctx.catalog.scalar(`SELECT count(*) FROM ${from}`);
      return { [`manifest ${options.to}`]: rows };
    } finally {
      await sink.close();
    }
  },
};

function kindFromExtension(path: string): 'jsonl' | 'parquet' | 'csv' {
  const ext = extname(path).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.csv') return 'csv';
  return 'jsonl';
}

/** One row per sample: its columns, image facts, flagged issues, tags, decision and drop reasons. */
export function manifestSelect(from: string, runId: number): string {
  return `
    SELECT s.id, s.path, f.uri, s.split, ${DECIDED_LABEL} AS label, s.label AS original_label, s.text, s.group_key AS "group", s.source, s.source_ref,
           fs.sha256, a.format, a.width, a.height, a.bytes, a.decodes,
           (SELECT list(DISTINCT i.type ORDER BY i.type) FROM issues i WHERE i.sample_id = s.id AND i.flagged) AS issues,
           (SELECT list(t.tag ORDER BY t.tag) FROM tags t WHERE t.sample_id = s.id) AS tags,
           d.action AS decision, d.new_label,
           (SELECT list(dr.reason ORDER BY dr.reason) FROM drops dr WHERE dr.sample_id = s.id AND dr.run_id = ${runId}) AS dropped_for,
           s.meta
    FROM ${from} s
    LEFT JOIN files f ON f.sample_id = s.id AND f.role = 'image'
    LEFT JOIN file_status fs ON fs.uri = f.uri
    LEFT JOIN assets a ON a.sha256 = fs.sha256
    LEFT JOIN decisions d ON d.sample_id = s.id
    ORDER BY s.id`;
}

// ---------------------------------------------------------------------------------------------
// Chosen fields and per-split files

/**
 * The manifest with `fields:` and/or `name:`. With `name`, `to` is a folder holding one file per
 * split (a sample without a split is in `all`); files of splits that are gone are removed on the
 * next run (recorded in `.imgsift/`, so other exports' files in the folder are safe). Without
 * `name`, `to` names the one file.
 */
async function layoutManifest(ctx: ExportContext, options: ManifestOptions): Promise<ExportStats> {
  const perSplit = options.name !== undefined;
  const target = perSplit ? { dir: options.to, name: '' } : splitFileTarget(options.to);
  const sink = await sinkFor(ctx, target.dir, options.s3);
  try {
    const from = options.include_dropped ? `(SELECT * FROM samples WHERE seen_run = ${Math.trunc(ctx.runId)})` : 'active';
    const samples = await activeSamplesWithFiles(ctx, from);
    const groups = new Map<string, ViewSample[]>();
    for (const s of samples) {
      const split = perSplit ? (s.split ?? 'all') : '';
      if (!groups.has(split)) groups.set(split, []);
      groups.get(split)!.push(s);
    }
    const files = [...groups].sort(([a], [b]) => compareIds(a, b)).map(([split, members]) => {
      const name = perSplit ? splitFileName('manifest', options.name!, split) : target.name;
      return { split, name, members };
    });
    const stats: ExportStats = {};
    const owned: OwnedFile[] = [];
    const relativeTo = options.relative_to !== undefined ? resolve(ctx.baseDir, options.relative_to) : undefined;
    const rolePath = await rolePaths(sink, relativeTo);
    const fields = options.fields ? parseFields(options.fields, 'manifest: fields') : null;
    if (fields) {
      const empty = emptyFields(samples, fields, rolePath);
      if (empty.length) throw new ImgsiftError(`manifest: no sample has a value for field(s) ${empty.join(', ')}; check the names against the samples' meta`);
    }
    for (const f of files) {
      const format = options.as ?? recordFormatOf(f.name);
      const committed = fields
        ? await writeRecords(ctx.catalog, sink, f.name, format, fields.map((x) => x.key), f.members.map((s) => record(s, fields, rolePath)))
        : await copyAll(ctx, sink, f.name, format, f.split);
      owned.push({ path: f.name, xxh128: committed.xxh128 });
      stats[`manifest ${perSplit ? f.name : options.to}`] = f.members.length;
    }
    if (perSplit) {
      const removed = await commitOwned(sink, ownedKey('manifest', options.name!), owned, { format: 'manifest', name: options.name, run: ctx.runId });
      if (removed) stats['stale files removed'] = removed;
    }
    return stats;
  } finally {
    await sink.close();
  }
}

function record(s: ViewSample, fields: Field[], rolePath: Parameters<typeof fieldValue>[2]): Row {
  return new Map(fields.map((f) => [f.key, fieldValue(s, f, rolePath)]));
}

/** The default columns of one split (or all samples, split ''), through DuckDB's COPY. */
async function copyAll(ctx: ExportContext, sink: Sink, name: string, kind: 'jsonl' | 'csv' | 'parquet', split: string) {
  const lit = `'${split.replace(/'/g, "''")}'`;
  const from = split === '' ? 'active' : `(SELECT * FROM active WHERE coalesce(split, 'all') = ${lit})`;
  const format = kind === 'jsonl' ? `FORMAT JSON` : kind === 'csv' ? `FORMAT CSV, HEADER` : `FORMAT PARQUET`;
  const tmp = await sink.scratchFile(name);
  try {
    await ctx.catalog.run(`COPY (${manifestSelect(from, ctx.runId)}) TO '${tmp.replace(/'/g, "''")}' (${format})`);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return sink.putFile(name, tmp);
}
