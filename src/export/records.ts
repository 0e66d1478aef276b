import { rm, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Catalog } from '../catalog/catalog.js';
import { orderedJson } from './ordered-json.js';
import type { Committed, Sink } from './sink.js';

/**
 * Writing records (ordered key → value lists) as one file through a sink: JSONL (one object per
 * line, keys in field order), CSV (a header, nested values as JSON text) or Parquet (column types
 * inferred by DuckDB from the JSONL).
 */

export const RecordFormat = z.enum(['jsonl', 'csv', 'parquet']);
export type RecordFormat = z.infer<typeof RecordFormat>;

/** One record: field → value, in field order. */
export type Row = Map<string, unknown>;

export function recordFormatOf(name: string): RecordFormat {
  const lower = name.toLowerCase();
  if (lower.endsWith('.parquet')) return 'parquet';
  if (lower.endsWith('.csv')) return 'csv';
  return 'jsonl';
}

export async function writeRecords(
  catalog: Catalog,
  sink: Sink,
  name: string,
  format: RecordFormat,
  keys: string[],
  rows: Row[],
): Promise<Committed> {
  if (format === 'parquet') return writeParquet(catalog, sink, name, keys, rows);
  const w = await sink.create(name);
  try {
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length) await w.write(Buffer.from(batch.join(''), 'utf8'));
      batch = [];
    };
    if (format === 'csv') batch.push(keys.map(csvCell).join(',') + '\n');
    for (const row of rows) {
      batch.push(format === 'csv' ? [...row.values()].map(csvCell).join(',') + '\n' : orderedJson(row) + '\n');
      if (batch.length >= 1000) await flush();
    }
    await flush();
    return await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function writeParquet(catalog: Catalog, sink: Sink, name: string, keys: string[], rows: Row[]): Promise<Committed> {
  const tmp = await sink.scratchFile(name);
  const json = `${tmp}.jsonl`;
  try {
    await writeFile(json, rows.map((r) => orderedJson(r) + '\n').join(''));
    const cols = keys.map((k) => `"${k.replace(/"/g, '""')}"`).join(', ');
    const q = (p: string) => `'${p.replace(/'/g, "''")}'`;
    const source = rows.length ? `read_json_auto(${q(json)}, format = 'newline_delimited')` : `(SELECT ${keys.map((k) => `NULL AS "${k.replace(/"/g, '""')}"`).join(', ')} LIMIT 0)`;
    await catalog.run(`COPY (SELECT ${cols} FROM ${source}) TO ${q(tmp)} (FORMAT PARQUET)`);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await rm(json, { force: true });
  }
  return sink.putFile(name, tmp);
}
