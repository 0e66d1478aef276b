import { dirname, resolve } from 'node:path';
import { InputError, errorMessage } from '../errors.js';
import { boundedBatches } from './bounded.js';
import { CsvParser, type CsvRow } from './csv-parser.js';
import { rootGuard, type ManifestSourceOptions } from './jsonl.js';
import { listInputFiles } from './listing.js';
import { resolveColumns, rowToRecord, type ResolvedColumns } from './manifest.js';
import { openText } from './textfile.js';
import type { ReadOptions, Source, SourceRecord } from './types.js';

export const CSV_SUFFIXES = ['.csv', '.tsv', '.csv.gz', '.tsv.gz'];

export interface CsvSourceOptions extends ManifestSourceOptions {
  delimiter: string;
}

/** CSV / TSV manifests with a header row; all values are text. */
export class CsvSource implements Source {
  readonly description: string;
  constructor(private readonly opts: CsvSourceOptions) {
    this.description = `csv manifest ${opts.path}`;
  }

  read(options: ReadOptions): AsyncIterable<SourceRecord> {
    return boundedBatches(this.batches(options), options);
  }

  private async *batches(options: ReadOptions): AsyncGenerator<SourceRecord[]> {
    for (const file of await listInputFiles(this.opts.path, CSV_SUFFIXES)) {
      yield* this.readFile(file, options);
    }
  }

  private async *readFile(file: string, options: ReadOptions): AsyncGenerator<SourceRecord[]> {
    const root = this.opts.root ?? dirname(resolve(file));
    const guard = rootGuard(this.opts, root);
    const parser = new CsvParser(this.opts.delimiter);
    const stream = openText(file);
    let header: string[] | null = null;
    let cols: ResolvedColumns | null = null;

    const handle = (row: CsvRow): SourceRecord | InputError | null => {
      if (header === null) {
        header = row.fields;
        if (row.error) throw new InputError({ file, line: row.line }, `malformed header: ${row.error}`);
        const seen = new Set<string>();
        for (const name of header) {
          if (seen.has(name)) throw new InputError({ file, line: row.line, field: name }, 'duplicate column name in the header');
          seen.add(name);
        }
        cols = resolveColumns(file, this.opts.fields, header);
        return null;
      }
      if (row.error) return new InputError({ file, line: row.line }, row.error);
      if (row.fields.length !== header.length) {
        return new InputError(
          { file, line: row.line },
          `expected ${header.length} fields as in the header, found ${row.fields.length}`,
        );
      }
      const obj: Record<string, unknown> = {};
      for (let i = 0; i < header.length; i++) obj[header[i]] = row.fields[i];
      return rowToRecord(obj, cols!, { file, line: row.line, root, pathRoot: this.opts.pathRoot, allowAbsolutePaths: this.opts.allowAbsolutePaths });
    };

    const parse = (push: () => CsvRow[]): CsvRow[] => {
      try {
        return push();
      } catch (err) {
        throw new InputError({ file }, errorMessage(err));
      }
    };

    const convert = (rows: CsvRow[]): SourceRecord[] => {
      const out: SourceRecord[] = [];
      for (const row of rows) {
        const r = handle(row);
        if (r instanceof InputError) options.onBadRow(r);
        else if (r) out.push(r);
      }
      return out;
    };

    try {
      for await (const chunk of stream as AsyncIterable<string>) {
        const out = convert(parse(() => parser.push(chunk)));
        const kept = guard ? guard.filter(out, options.onSkip) : out;
        if (kept.length) yield kept;
      }
      const out = convert(parser.end());
      const kept = guard ? guard.filter(out, options.onSkip) : out;
      if (kept.length) yield kept;
    } finally {
      stream.destroy();
    }
  }
}
