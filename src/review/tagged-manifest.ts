import { basename, dirname, posix } from 'node:path';
import { z } from 'zod';
import type { Catalog } from '../catalog/catalog.js';
import { createSink, S3Options, sinkFor, type SinkWriter } from '../export/sink.js';
import type { Exporter, ExportContext, ExportStats } from '../export/types.js';

/**
 * Seed 002's tagged manifest: one CSV row per sample that has something to review — a flagged
 * issue (imgsift's or an imported tool's), a review tag or a decision — with what was found and
 * what the reviewers decided. Columns: id, path, label, issues (types joined by ';'), user_tags
 * (joined by ',' as the seed's scripts do), user_action (keep/remove/relabel), new_label, reviewer.
 */

export const TAGGED_MANIFEST_COLUMNS = ['id', 'path', 'label', 'issues', 'user_tags', 'user_action', 'new_label', 'reviewer'] as const;
export type TaggedManifestRow = Record<(typeof TAGGED_MANIFEST_COLUMNS)[number], string | null> & {
  /** The sample's split (not a column of the tagged manifest; the final cleaning manifest writes it). */
  split: string | null;
};

export interface TaggedManifestOptions {
  /** The run whose samples are listed (default: the newest sample listing in the catalog). */
  runId?: number;
  /** 'run': every sample the run listed, dropped ones included (default); 'active': only kept ones. */
  scope?: 'run' | 'active';
  /** Also list the samples this run dropped (by any step) with nothing else to show (final cleaning manifest). */
  withDroppedBy?: number;
}

const PAGE = 20_000;
let tableSeq = 0;

/** The manifest's rows in id order, a page at a time (memory holds one page). */
export async function* taggedManifestRows(catalog: Catalog, options: TaggedManifestOptions = {}): AsyncGenerator<TaggedManifestRow[]> {
  const from =
    options.scope === 'active'
      ? 'active'
      : options.runId !== undefined
        ? `(SELECT * FROM samples WHERE seen_run = ${Math.trunc(options.runId)})`
        : '(SELECT * FROM samples WHERE seen_run = (SELECT max(seen_run) FROM samples))';
  const table = `tagged_manifest_${++tableSeq}`;
  await catalog.run(`CREATE OR REPLACE TEMP TABLE ${table} AS
    WITH iss AS (
      SELECT sample_id, string_agg(DISTINCT type, ';' ORDER BY type) AS issues FROM issues WHERE flagged GROUP BY sample_id
    ), tg AS (
      SELECT sample_id, string_agg(tag, ',' ORDER BY tag) AS user_tags, arg_max(reviewer, created_at) AS reviewer
      FROM tags GROUP BY sample_id
    )
    SELECT s.id, s.path, s.split, s.label, iss.issues, tg.user_tags, d.action AS user_action, d.new_label,
           coalesce(d.reviewer, tg.reviewer) AS reviewer
    FROM ${from} s
    LEFT JOIN iss ON iss.sample_id = s.id
    LEFT JOIN tg ON tg.sample_id = s.id
    LEFT JOIN decisions d ON d.sample_id = s.id
    WHERE iss.sample_id IS NOT NULL OR tg.sample_id IS NOT NULL OR d.sample_id IS NOT NULL${
      options.withDroppedBy !== undefined ? ` OR EXISTS (SELECT 1 FROM drops dr WHERE dr.sample_id = s.id AND dr.run_id = ${Math.trunc(options.withDroppedBy)})` : ''
    }`);
  try {
    let after: string | null = null;
    for (;;) {
      const page: TaggedManifestRow[] = await catalog.all<TaggedManifestRow>(
        `SELECT ${TAGGED_MANIFEST_COLUMNS.join(', ')}, split FROM ${table} ${after === null ? '' : 'WHERE id > ?'} ORDER BY id LIMIT ${PAGE}`,
        after === null ? [] : [after],
      );
      if (page.length === 0) return;
      yield page;
      after = page[page.length - 1].id;
      if (page.length < PAGE) return;
    }
  } finally {
    await catalog.run(`DROP TABLE IF EXISTS ${table}`);
  }
}

/** Write the manifest to a writer; returns the number of rows. */
export async function writeTaggedManifestTo(catalog: Catalog, writer: SinkWriter, options: TaggedManifestOptions = {}): Promise<number> {
  let n = 0;
  await writer.write(Buffer.from(csvLine(TAGGED_MANIFEST_COLUMNS)));
  for await (const page of taggedManifestRows(catalog, options)) {
    await writer.write(Buffer.from(page.map((r) => csvLine(TAGGED_MANIFEST_COLUMNS.map((c) => r[c]))).join('')));
    n += page.length;
  }
  return n;
}

/** Write the manifest to a local file (complete or absent); returns the number of rows. */
export async function writeTaggedManifest(catalog: Catalog, file: string, options: TaggedManifestOptions = {}): Promise<number> {
  const sink = await createSink(dirname(file), process.cwd());
  return writeThrough(sink.create(basename(file)), (w) => writeTaggedManifestTo(catalog, w, options));
}

async function writeThrough(writerP: Promise<SinkWriter>, body: (w: SinkWriter) => Promise<number>): Promise<number> {
  const w = await writerP;
  try {
    const n = await body(w);
    await w.commit();
    return n;
  } catch (err) {
    await w.abort();
    throw err;
  }
}

/** One CSV record (RFC 4180, LF line end): fields with a comma, quote or line break are quoted. */
export function csvLine(fields: ReadonlyArray<string | number | null | undefined>): string {
  return fields.map((f) => {
    const s = f === null || f === undefined ? '' : String(f);
    return /[",\r\n\t]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
  }).join(',') + '\n';
}

export const TaggedManifestExportOptions = z
  .object({
    /** A .csv file, or a folder (the file is then `tagged_manifest.csv`). Local or s3://. */
    to: z.string().min(1),
    /** S3 settings when `to` is s3://. */
    s3: S3Options.optional(),
    /** List only the run's kept samples (default: dropped ones too, with why they were flagged). */
    only_active: z.boolean().default(false),
  })
  .strict();
export type TaggedManifestExportOptions = z.infer<typeof TaggedManifestExportOptions>;

/** Recipe export `{ format: tagged_manifest, to: ./out/tagged_manifest.csv }`. */
export const taggedManifestExporter: Exporter<TaggedManifestExportOptions> = {
  format: 'tagged_manifest',
  description: "seed 002's tagged manifest CSV: flagged, tagged or decided samples with issues, tags and decisions",
  options: TaggedManifestExportOptions,
  async run(ctx: ExportContext, options: TaggedManifestExportOptions): Promise<ExportStats> {
    const isFile = /\.csv$/i.test(options.to);
    const folder = isFile ? posix.dirname(options.to.replace(/\\/g, '/')) : options.to;
    const name = isFile ? posix.basename(options.to.replace(/\\/g, '/')) : 'tagged_manifest.csv';
    const sink = await sinkFor(ctx, folder, options.s3);
    try {
      const rows = await writeThrough(sink.create(name), (w) =>
        writeTaggedManifestTo(ctx.catalog, w, { runId: ctx.runId, scope: options.only_active ? 'active' : 'run' }),
      );
      return { [`tagged manifest ${options.to}`]: rows };
    } finally {
      await sink.close();
    }
  },
};
