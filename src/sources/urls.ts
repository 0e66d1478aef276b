import { dirname, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { boundedBatches } from './bounded.js';
import { CSV_SUFFIXES, CsvSource } from './csv.js';
import { JSONL_SUFFIXES, JsonlSource, type ManifestSourceOptions } from './jsonl.js';
import { listInputFiles } from './listing.js';
import { PARQUET_SUFFIXES, ParquetSource } from './parquet.js';
import { readLineBatches } from './textfile.js';
import type { FieldMap, ReadOptions, Source, SourceRecord } from './types.js';

/**
 * URL lists: a manifest whose file columns are http(s) URLs, to be fetched by the download step.
 * JSONL, CSV and Parquet manifests are read by their own readers (several URL columns per row
 * through `fields.files`, e.g. the input and output of an edit pair); a `.txt` file holds one URL
 * per line (blank lines and `#` comments skipped), the URL being both the image and the id.
 * Every file location of a record must be an http(s) URL; a row with a local path is a bad row.
 */

export const URL_LIST_FORMATS = ['txt', 'jsonl', 'csv', 'parquet'] as const;
export type UrlListFormat = (typeof URL_LIST_FORMATS)[number];
export const TXT_SUFFIXES = ['.txt', '.txt.gz'];

const SUFFIXES: Record<UrlListFormat, readonly string[]> = {
  txt: TXT_SUFFIXES, jsonl: JSONL_SUFFIXES, csv: CSV_SUFFIXES, parquet: PARQUET_SUFFIXES,
};

export interface UrlsSourceOptions {
  path: string;
  fields?: FieldMap;
  listFormat?: UrlListFormat;
  delimiter?: string;
}

const HTTP = /^https?:\/\/\S+$/i;

/** The list format of `path`: given, from its name, or from the files of a folder. */
export async function detectListFormat(path: string): Promise<UrlListFormat> {
  const lower = path.toLowerCase();
  for (const f of URL_LIST_FORMATS) if (SUFFIXES[f].some((s) => lower.endsWith(s))) return f;
  let isDir = false;
  try {
    isDir = (await stat(path)).isDirectory();
  } catch {
    throw new InputError({ file: path }, 'source path does not exist');
  }
  if (isDir) {
    for (const f of URL_LIST_FORMATS) {
      try {
        await listInputFiles(path, SUFFIXES[f]);
        return f;
      } catch {
        // none of this kind
      }
    }
  }
  throw new InputError(
    { file: path, field: 'source.list_format' },
    `cannot tell the URL list format from the name; name it .txt, .jsonl, .csv or .parquet, or set list_format (${URL_LIST_FORMATS.join(', ')})`,
  );
}

export class UrlsSource implements Source {
  readonly description: string;
  constructor(private readonly opts: UrlsSourceOptions) {
    this.description = `url list ${opts.path}`;
  }

  read(options: ReadOptions): AsyncIterable<SourceRecord> {
    return this.records(options);
  }

  private async *records(options: ReadOptions): AsyncGenerator<SourceRecord> {
    const format = this.opts.listFormat ?? (await detectListFormat(this.opts.path));
    if (format === 'txt') {
      yield* boundedBatches(this.txt(options), options);
      return;
    }
    const manifest: ManifestSourceOptions = {
      path: this.opts.path,
      fields: this.opts.fields ?? {},
      // URLs do not resolve against a folder; a relative path in the list is reported as not a URL.
      root: dirname(resolve(this.opts.path)),
      allowAbsolutePaths: true,
    };
    const inner =
      format === 'jsonl' ? new JsonlSource(manifest)
      : format === 'csv' ? new CsvSource({ ...manifest, delimiter: this.opts.delimiter ?? ',' })
      : new ParquetSource(manifest);
    // maxRecords counts good records, so it is applied here, after the URL check.
    const { maxRecords, ...rest } = options;
    let n = 0;
    if (maxRecords !== undefined && maxRecords <= 0) return;
    for await (const rec of inner.read(rest)) {
      const notUrl = Object.entries(rec.files).find(([, uri]) => !HTTP.test(uri));
      if (notUrl) {
        const shown = notUrl[0] === 'image' && rec.path !== undefined ? rec.path : notUrl[1];
        options.onBadRow(new InputError({ file: rec.ref, field: notUrl[0] }, `expected an http(s) URL, found '${shown}'`));
        continue;
      }
      yield rec;
      if (maxRecords !== undefined && ++n >= maxRecords) return;
    }
  }

  private async *txt(options: ReadOptions): AsyncGenerator<SourceRecord[]> {
    for (const file of await listInputFiles(this.opts.path, TXT_SUFFIXES)) {
      for await (const batch of readLineBatches(file)) {
        const out: SourceRecord[] = [];
        for (const { text, line } of batch) {
          const url = text.trim();
          if (url === '' || url.startsWith('#')) continue;
          if (!HTTP.test(url)) {
            options.onBadRow(new InputError({ file, line }, `expected one http(s) URL per line, found '${url.slice(0, 80)}'`));
            continue;
          }
          out.push({ id: url, files: { image: url }, ref: `${file}:${line}` });
        }
        if (out.length) yield out;
      }
    }
  }
}
