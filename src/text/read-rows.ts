import { InputError, errorMessage } from '../errors.js';
import { CsvParser } from '../sources/csv-parser.js';
import { openText, readLineBatches } from '../sources/textfile.js';

/** One row of a JSONL or CSV file, with every original column. */
export interface FileRow {
  /** 1-based line the row starts on. */
  line: number;
  row: Record<string, unknown>;
  /** The JSONL line as written (to copy it out byte for byte); absent for CSV. */
  raw?: string;
}

export type RowFormat = 'jsonl' | 'csv' | 'tsv';

/** JSONL (.jsonl, .ndjson), CSV (.csv) or TSV (.tsv), optionally gzipped, by file name. */
export function rowFormatOf(file: string): RowFormat {
  const name = file.toLowerCase().replace(/\.gz$/, '');
  if (name.endsWith('.jsonl') || name.endsWith('.ndjson') || name.endsWith('.json')) return 'jsonl';
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.tsv')) return 'tsv';
  throw new InputError({ file }, 'unknown file type: expected .jsonl, .ndjson, .csv or .tsv (optionally .gz)');
}

/**
 * The rows of a JSONL or CSV/TSV file (CSV values are strings; the header names the columns), in
 * batches. A malformed row goes to `onBadRow` (which may throw to stop) and is not yielded.
 */
export async function* readRows(file: string, onBadRow: (err: InputError) => void): AsyncGenerator<FileRow[]> {
  const format = rowFormatOf(file);
  if (format === 'jsonl') yield* readJsonl(file, onBadRow);
  else yield* readCsv(file, format === 'tsv' ? '\t' : ',', onBadRow);
}

async function* readJsonl(file: string, onBadRow: (err: InputError) => void): AsyncGenerator<FileRow[]> {
  for await (const batch of readLineBatches(file)) {
    const out: FileRow[] = [];
    for (const { text, line } of batch) {
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        onBadRow(new InputError({ file, line }, `expected one JSON object per line: ${errorMessage(err)}`));
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        onBadRow(new InputError({ file, line }, `expected a JSON object, found ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`));
        continue;
      }
      out.push({ line, row: value as Record<string, unknown>, raw: text });
    }
    if (out.length) yield out;
  }
}

async function* readCsv(file: string, delimiter: string, onBadRow: (err: InputError) => void): AsyncGenerator<FileRow[]> {
  const parser = new CsvParser(delimiter);
  const stream = openText(file);
  let header: string[] | null = null;
  const convert = (records: ReturnType<CsvParser['push']>): FileRow[] => {
    const out: FileRow[] = [];
    for (const r of records) {
      if (header === null) {
        if (r.error) throw new InputError({ file, line: r.line }, `malformed header: ${r.error}`);
        if (new Set(r.fields).size !== r.fields.length) throw new InputError({ file, line: r.line }, 'duplicate column name in the header');
        header = r.fields;
        continue;
      }
      if (r.error) onBadRow(new InputError({ file, line: r.line }, r.error));
      else if (r.fields.length !== header.length) {
        onBadRow(new InputError({ file, line: r.line }, `expected ${header.length} fields as in the header, found ${r.fields.length}`));
      } else {
        const row: Record<string, unknown> = {};
        for (let i = 0; i < header.length; i++) row[header[i]] = r.fields[i];
        out.push({ line: r.line, row });
      }
    }
    return out;
  };
  const parse = (push: () => ReturnType<CsvParser['push']>) => {
    try {
      return push();
    } catch (err) {
      throw new InputError({ file }, errorMessage(err));
    }
  };
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      const out = convert(parse(() => parser.push(chunk)));
      if (out.length) yield out;
    }
    const out = convert(parse(() => parser.end()));
    if (out.length) yield out;
  } finally {
    stream.destroy();
  }
}
