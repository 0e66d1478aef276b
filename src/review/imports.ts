import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { userInfo } from 'node:os';
import type { Catalog } from '../catalog/catalog.js';
import { latestRunId } from '../catalog/run-view.js';
import { InputError, UsageError, errorMessage } from '../errors.js';
import { CsvParser, type CsvRow } from '../sources/csv-parser.js';
import { openText } from '../sources/textfile.js';
import { writeFileAtomic } from '../util/fs.js';
import { csvLine } from './tagged-manifest.js';

/**
 * Import a third-party issue export (seed 002: a Visual Layer CSV of flagged images) as `issues`
 * rows with the tool's name as `source`, matched to catalog samples by id, else by path.
 * Re-importing replaces that source's issues, so the same file imported twice is a no-op.
 */

import { DEFAULT_IMPORT_SOURCE, FIELD_ALIASES, IMPORT_FIELDS, SOURCE_NAME, type FieldMap, type ImportField } from './import-fields.js';

export { DEFAULT_IMPORT_SOURCE, FIELD_ALIASES, IMPORT_FIELDS, SOURCE_NAME, parseFieldMap, type FieldMap, type ImportField } from './import-fields.js';

export interface ImportIssuesOptions {
  catalog: Catalog;
  /** The export (CSV/TSV, optionally .gz). */
  file: string;
  /** Tool name stored as the issues' source (default 'visual_layer'). */
  source?: string;
  /** Field → column name, for columns the aliases do not cover. */
  map?: FieldMap;
  /** Count and skip malformed rows instead of failing on the first. */
  skipBadRows?: boolean;
  /** Where `unmatched_<stem>.csv` goes (default: the catalog's folder). */
  workdir?: string;
  /** Who imported, for the events row (default: the OS user). */
  who?: string;
  delimiter?: string;
}

export interface UnmatchedRow {
  line: number;
  id: string | null;
  path: string | null;
  reason: string;
}

export interface ImportIssuesResult {
  file: string;
  source: string;
  /** Which column each field was read from (null: absent). */
  columns: Record<ImportField, string | null>;
  /** Data rows read (bad rows included). */
  rows: number;
  /** Issue rows written. */
  imported: number;
  matchedById: number;
  matchedByPath: number;
  unmatched: number;
  unmatchedExamples: UnmatchedRow[];
  /** The file the unmatched rows were written to, or null when all matched. */
  unmatchedFile: string | null;
  badRows: number;
  badRowExamples: string[];
  /** This source's issue rows that the import replaced. */
  replaced: number;
  /** Issue rows written, by type. */
  types: Record<string, number>;
}

interface ParsedRow {
  line: number;
  id: string | null;
  path: string | null;
  label: string | null;
  type: string;
  score: number | null;
  suggested: string | null;
  reason: string | null;
}

const EXAMPLES = 5;

export async function importIssues(o: ImportIssuesOptions): Promise<ImportIssuesResult> {
  const source = o.source ?? DEFAULT_IMPORT_SOURCE;
  if (!SOURCE_NAME.test(source) || source === 'imgsift') {
    throw new UsageError(`source name '${source}' must match ${SOURCE_NAME} and not be 'imgsift'`);
  }
  const { header, columns, rows, bad, total } = await readExport(o);
  const catalog = o.catalog;
  const runId = (await latestRunId(catalog)) ?? null;
  const who = o.who ?? safeUser();

  const outcome = await catalog.transaction(async (tx) => {
    await tx.run(`CREATE OR REPLACE TEMP TABLE import_rows (line INTEGER, ext_id VARCHAR, ext_path VARCHAR, label VARCHAR,
      type VARCHAR, score DOUBLE, suggested VARCHAR, reason VARCHAR)`);
    await tx.append('import_rows', {
      line: 'int', ext_id: 'varchar', ext_path: 'varchar', label: 'varchar', type: 'varchar', score: 'double', suggested: 'varchar', reason: 'varchar',
    }, rows.map((r) => ({ line: r.line, ext_id: r.id, ext_path: r.path, label: r.label, type: r.type, score: r.score, suggested: r.suggested, reason: r.reason })));
    // By id first; the rest by path (the id stands in for a missing path: exports often use the file name as id).
    // A path matches a sample whose path equals it or is a '/'-suffix of it (or the reverse);
    // exact equality wins, and a row with several equally good candidates is ambiguous.
    await tx.run(`CREATE OR REPLACE TEMP TABLE import_match AS
      WITH by_id AS (
        SELECT r.line, s.id AS sample_id, 'id' AS how FROM import_rows r JOIN samples s ON s.id = r.ext_id
      ), rest AS (
        SELECT r.line, regexp_replace(regexp_replace(replace(coalesce(r.ext_path, r.ext_id), '\\', '/'), '^(file://)?(\\./)*', ''), '/+', '/', 'g') AS p
        FROM import_rows r WHERE r.line NOT IN (SELECT line FROM by_id) AND coalesce(r.ext_path, r.ext_id) IS NOT NULL
      ), cand AS (
        SELECT r.line, s.id AS sample_id, CASE WHEN s.path = r.p THEN 0 ELSE 1 END AS rank
        FROM rest r JOIN samples s ON s.path IS NOT NULL
          AND regexp_extract(s.path, '[^/]*$') = regexp_extract(r.p, '[^/]*$')
        WHERE s.path = r.p OR ends_with(r.p, '/' || s.path) OR ends_with(s.path, '/' || r.p)
      ), best AS (
        SELECT line, min(rank) AS rank FROM cand GROUP BY line
      ), by_path AS (
        SELECT c.line, CASE WHEN count(*) = 1 THEN min(c.sample_id) END AS sample_id, count(*) AS n
        FROM cand c JOIN best b ON b.line = c.line AND b.rank = c.rank GROUP BY c.line
      )
      SELECT line, sample_id, how, 1 AS n FROM by_id
      UNION ALL SELECT line, sample_id, 'path', n FROM by_path`);
    const replaced = Number((await tx.all<{ n: bigint }>(`SELECT count(*) AS n FROM issues WHERE source = ?`, [source]))[0].n);
    await tx.run(`DELETE FROM issues WHERE source = ?`, [source]);
    await tx.run(
      `INSERT INTO issues (sample_id, type, score, flagged, evidence, step, source, run_id)
       SELECT m.sample_id, r.type, r.score, true,
              json_object('suggested_label', r.suggested, 'reason', r.reason, 'label', r.label, 'line', r.line),
              'import', ?, ?
       FROM import_rows r JOIN import_match m ON m.line = r.line WHERE m.sample_id IS NOT NULL ORDER BY r.line`,
      [source, runId],
    );
    const counts = await tx.all<{ how: string; n: bigint }>(
      `SELECT how, count(*) AS n FROM import_match WHERE sample_id IS NOT NULL GROUP BY how`,
    );
    const types = await tx.all<{ type: string; n: bigint }>(
      `SELECT r.type, count(*) AS n FROM import_rows r JOIN import_match m ON m.line = r.line
       WHERE m.sample_id IS NOT NULL GROUP BY r.type ORDER BY n DESC, r.type`,
    );
    const unmatched = await tx.all<{ line: number; id: string | null; path: string | null; n: bigint | null }>(
      `SELECT r.line, r.ext_id AS id, r.ext_path AS path, m.n FROM import_rows r LEFT JOIN import_match m ON m.line = r.line
       WHERE m.sample_id IS NULL ORDER BY r.line`,
    );
    const byId = Number(counts.find((c) => c.how === 'id')?.n ?? 0);
    const byPath = Number(counts.find((c) => c.how === 'path')?.n ?? 0);
    const summary = {
      file: o.file, source, rows: total, imported: byId + byPath, matched_by_id: byId, matched_by_path: byPath,
      unmatched: unmatched.length, bad_rows: bad.length,
    };
    await tx.run(`INSERT INTO events (who, action, sample_id, old, new) VALUES (?, 'import', NULL, ?, ?)`, [
      who, JSON.stringify({ source, issues: replaced }), JSON.stringify(summary),
    ]);
    await tx.run(`DROP TABLE import_rows`);
    await tx.run(`DROP TABLE import_match`);
    return { replaced, byId, byPath, types, unmatched };
  });

  const unmatched: UnmatchedRow[] = outcome.unmatched.map((u) => ({
    line: u.line, id: u.id, path: u.path,
    reason: u.n && Number(u.n) > 1 ? `path matches ${u.n} samples` : 'no sample with this id or path',
  }));
  const stem = basename(o.file).replace(/(\.(csv|tsv|txt))?(\.gz)?$/i, '');
  const unmatchedPath = join(o.workdir ?? dirname(catalog.path), `unmatched_${stem}.csv`);
  if (unmatched.length) await writeUnmatched(o, header, unmatched, unmatchedPath);
  else await rm(unmatchedPath, { force: true });

  return {
    file: o.file,
    source,
    columns,
    rows: total,
    imported: outcome.byId + outcome.byPath,
    matchedById: outcome.byId,
    matchedByPath: outcome.byPath,
    unmatched: unmatched.length,
    unmatchedExamples: unmatched.slice(0, EXAMPLES),
    unmatchedFile: unmatched.length ? unmatchedPath : null,
    badRows: bad.length,
    badRowExamples: bad.slice(0, EXAMPLES).map((e) => e.message),
    replaced: outcome.replaced,
    types: Object.fromEntries(outcome.types.map((t) => [t.type, Number(t.n)])),
  };
}

/** Resolve each field to a header column: the mapping first, then the aliases. */
export function resolveImportColumns(file: string, header: readonly string[], map: FieldMap = {}): Record<ImportField, string | null> {
  const lower = new Map(header.map((h) => [h.trim().toLowerCase(), h]));
  const out = {} as Record<ImportField, string | null>;
  const used = new Set<string>();
  for (const field of IMPORT_FIELDS) {
    const mapped = map[field];
    if (mapped !== undefined) {
      const col = header.includes(mapped) ? mapped : lower.get(mapped.trim().toLowerCase());
      if (!col) throw new InputError({ file, line: 1 }, `--map ${field}=${mapped}: no such column; columns: ${header.join(', ')}`);
      out[field] = col;
      used.add(col);
    }
  }
  for (const field of IMPORT_FIELDS) {
    if (map[field] !== undefined) continue;
    const col = FIELD_ALIASES[field].map((a) => lower.get(a)).find((c) => c !== undefined && !used.has(c));
    out[field] = col ?? null;
    if (col) used.add(col);
  }
  if (!out.id && !out.path) {
    throw new InputError({ file, line: 1 }, `no id or path column (looked for ${[...FIELD_ALIASES.id, ...FIELD_ALIASES.path].join(', ')}); columns: ${header.join(', ')}; name one with --map id=COLUMN or path=COLUMN`);
  }
  if (!out.issue_type) {
    throw new InputError({ file, line: 1 }, `no issue type column (looked for ${FIELD_ALIASES.issue_type.join(', ')}); columns: ${header.join(', ')}; name it with --map issue_type=COLUMN`);
  }
  return out;
}

/** 'Near Duplicate' → 'near_duplicate'. */
export function normaliseIssueType(v: string): string {
  return v.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

async function readExport(o: ImportIssuesOptions): Promise<{
  header: string[]; columns: Record<ImportField, string | null>; rows: ParsedRow[]; bad: InputError[]; total: number;
}> {
  const file = o.file;
  const delimiter = o.delimiter ?? (/\.tsv(\.gz)?$/i.test(file) ? '\t' : ',');
  let header: string[] | null = null;
  let columns: Record<ImportField, string | null> | null = null;
  let index: Record<ImportField, number> | null = null;
  const rows: ParsedRow[] = [];
  const bad: InputError[] = [];
  let total = 0;

  const onRow = (row: CsvRow) => {
    if (header === null) {
      if (row.error) throw new InputError({ file, line: row.line }, `malformed header: ${row.error}`);
      header = row.fields;
      columns = resolveImportColumns(file, header, o.map);
      index = Object.fromEntries(IMPORT_FIELDS.map((f) => [f, columns![f] === null ? -1 : header!.indexOf(columns![f]!)])) as Record<ImportField, number>;
      return;
    }
    total++;
    const parsed = parseRow(file, row, header.length, index!, columns!);
    if (parsed instanceof InputError) {
      if (!o.skipBadRows) throw new InputError(parsed.location, `${parsed.message.slice(parsed.message.indexOf(': ') + 2)} (use --skip-bad-rows to skip malformed rows)`);
      bad.push(parsed);
    } else rows.push(parsed);
  };

  const parser = new CsvParser(delimiter);
  const stream = openText(file);
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      let out: CsvRow[];
      try {
        out = parser.push(chunk);
      } catch (err) {
        throw new InputError({ file }, errorMessage(err));
      }
      for (const r of out) onRow(r);
    }
    for (const r of parser.end()) onRow(r);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`cannot read ${file}: no such file`);
    throw err;
  } finally {
    stream.destroy();
  }
  if (header === null) throw new InputError({ file }, 'the export is empty (no header row)');
  return { header, columns: columns!, rows, bad, total };
}

function parseRow(
  file: string,
  row: CsvRow,
  width: number,
  index: Record<ImportField, number>,
  columns: Record<ImportField, string | null>,
): ParsedRow | InputError {
  const line = row.line;
  if (row.error) return new InputError({ file, line }, row.error);
  if (row.fields.length !== width) return new InputError({ file, line }, `expected ${width} fields as in the header, found ${row.fields.length}`);
  const get = (f: ImportField): string | null => {
    const i = index[f];
    if (i < 0) return null;
    const v = row.fields[i].trim();
    return v === '' ? null : v;
  };
  const id = get('id');
  const path = get('path');
  if (id === null && path === null) {
    return new InputError({ file, line, field: columns.id ?? columns.path ?? undefined }, 'no id and no path: the row names no sample');
  }
  const typeText = get('issue_type');
  if (typeText === null) return new InputError({ file, line, field: columns.issue_type! }, 'empty issue type');
  const type = normaliseIssueType(typeText);
  if (!/^[a-z0-9][a-z0-9_.:/]*$/.test(type)) {
    return new InputError({ file, line, field: columns.issue_type! }, `issue type '${typeText}' has characters other than letters, digits, _ . : /`);
  }
  let score: number | null = null;
  const conf = get('confidence');
  if (conf !== null) {
    score = Number(conf);
    if (!Number.isFinite(score) || score < 0 || score > 1) {
      return new InputError({ file, line, field: columns.confidence! }, `confidence must be a number from 0 to 1 (got '${conf}')`);
    }
  }
  return { line, id, path, label: get('label'), type, score, suggested: get('suggested_label'), reason: get('reason') };
}

/** The unmatched rows as they were in the export, plus the line and why they did not match. */
async function writeUnmatched(o: ImportIssuesOptions, header: string[], unmatched: UnmatchedRow[], out: string): Promise<void> {
  const why = new Map(unmatched.map((u) => [u.line, u.reason]));
  const delimiter = o.delimiter ?? (/\.tsv(\.gz)?$/i.test(o.file) ? '\t' : ',');
  const parser = new CsvParser(delimiter);
  const lines: string[] = [csvLine([...header, '_line', '_reason'])];
  const take = (rows: CsvRow[]) => {
    for (const r of rows) {
      const reason = why.get(r.line);
      if (reason !== undefined && r.line > 1) lines.push(csvLine([...r.fields, String(r.line), reason]));
    }
  };
  const stream = openText(o.file);
  try {
    for await (const chunk of stream as AsyncIterable<string>) take(parser.push(chunk));
    take(parser.end());
  } finally {
    stream.destroy();
  }
  await writeFileAtomic(out, lines.join(''));
}

function safeUser(): string {
  try {
    return userInfo().username || 'imgsift';
  } catch {
    return 'imgsift';
  }
}
