import { rm } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import { DECIDED_LABEL } from './labels.js';
import { S3Options, sinkFor, splitFileTarget } from './sink.js';
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
  })
  .strict();
export type ManifestOptions = z.infer<typeof ManifestOptions>;

export const manifestExporter: Exporter<ManifestOptions> = {
  format: 'manifest',
  description: 'flat JSONL/Parquet/CSV manifest of all samples with probe facts, issues, tags and decisions',
  options: ManifestOptions,
  async run(ctx: ExportContext, options: ManifestOptions): Promise<ExportStats> {
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
        throw err;
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
