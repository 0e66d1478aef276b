import { dirname, resolve } from 'node:path';
import { InputError, errorMessage } from '../errors.js';
import { boundedBatches } from './bounded.js';
import { listInputFiles } from './listing.js';
import { resolveColumns, rowToRecord, type ResolvedColumns, type RowContext } from './manifest.js';
import { readLineBatches, type TextLine } from './textfile.js';
import type { FieldMap, ReadOptions, Source, SourceRecord } from './types.js';
import { RootGuard } from './root-guard.js';

export interface ManifestSourceOptions {
  /** A file, or a folder whose manifest files are read in name order. */
  path: string;
  fields: FieldMap;
  /** Folder relative image paths resolve against; default: each manifest's own folder. */
  root?: string;
  allowAbsolutePaths: boolean;
  /** Folder that record paths and derived ids are relative to; default: the root. */
  pathRoot?: string;
  /**
   * Folder whose real path every local file's real path must stay inside (default: the root); files
   * outside (through a symbolic link) are passed over as `outside_root`. Not checked when absolute
   * paths are allowed: such a manifest may name any local file anyway.
   */
  boundary?: string;
  /** JSONL: longest line read, in bytes (default DEFAULT_MAX_LINE_BYTES); a longer one is a bad row. */
  maxLineBytes?: number;
}

/** The real-path check of a manifest's files, or none when absolute paths are allowed. */
export function rootGuard(opts: Pick<ManifestSourceOptions, 'allowAbsolutePaths' | 'boundary'>, root: string): RootGuard | undefined {
  return opts.allowAbsolutePaths ? undefined : new RootGuard(opts.boundary ?? root);
}

/**
 * JSON keys are only known row by row, so the mapping is checked against the keys of the first
 * rows: enough to catch a typo before a million bad rows, little enough to hold in memory.
 */
const SNIFF_ROWS = 100;

export const JSONL_SUFFIXES = ['.jsonl', '.ndjson', '.jsonl.gz', '.ndjson.gz'];

type Parsed = { row: Record<string, unknown>; line: number };

/** Parse one line: an object, null for a blank line, or the error to report. */
function parseLine(file: string, { text, line }: TextLine): Parsed | InputError | null {
  if (text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim() === '')) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return new InputError({ file, line }, `expected one JSON object per line: ${errorMessage(err)}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return new InputError({ file, line }, `expected a JSON object, found ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return { row: value as Record<string, unknown>, line };
}

/** JSON Lines manifests (`.jsonl`, `.ndjson`, optionally gzipped): one object per line. */
export class JsonlSource implements Source {
  readonly description: string;
  constructor(private readonly opts: ManifestSourceOptions) {
    this.description = `jsonl manifest ${opts.path}`;
  }

  read(options: ReadOptions): AsyncIterable<SourceRecord> {
    return boundedBatches(this.batches(options), options);
  }

  private async *batches(options: ReadOptions): AsyncGenerator<SourceRecord[]> {
    for (const file of await listInputFiles(this.opts.path, JSONL_SUFFIXES)) {
      yield* this.readFile(file, options);
    }
  }

  private async *readFile(file: string, options: ReadOptions): AsyncGenerator<SourceRecord[]> {
    const root = this.opts.root ?? dirname(resolve(file));
    const guard = rootGuard(this.opts, root);
    const lines = readLineBatches(file, { maxLineBytes: this.opts.maxLineBytes, onTooLong: options.onBadRow, signal: options.signal });
    let cols: ResolvedColumns | null = null;
    // Rows held until the mapping can be checked against the keys of the first SNIFF_ROWS rows,
    // with the unparsable lines among them, so bad rows are reported in line order.
    const head: Array<Parsed | InputError> = [];
    const keys = new Set<string>();
    const ctx = (line: number): RowContext => ({ file, line, root, pathRoot: this.opts.pathRoot, allowAbsolutePaths: this.opts.allowAbsolutePaths });

    const convert = (rows: Array<Parsed | InputError>, out: SourceRecord[]) => {
      for (const p of rows) {
        if (p instanceof InputError) {
          options.onBadRow(p);
          continue;
        }
        const r = rowToRecord(p.row, cols!, ctx(p.line));
        if (r instanceof InputError) options.onBadRow(r);
        else out.push(r);
      }
    };
    const settleMapping = (out: SourceRecord[]) => {
      const seenIn = `the first ${head.length} row${head.length === 1 ? '' : 's'}`;
      cols = resolveColumns(file, this.opts.fields, [...keys], seenIn);
      convert(head, out);
      head.length = 0;
    };

    try {
      for await (const batch of lines) {
        const out: SourceRecord[] = [];
        const parsed: Parsed[] = [];
        for (const l of batch) {
          const p = parseLine(file, l);
          if (p === null) continue;
          if (cols !== null) {
            if (p instanceof InputError) options.onBadRow(p);
            else parsed.push(p);
          } else {
            head.push(p);
            if (!(p instanceof InputError)) for (const k of Object.keys(p.row)) keys.add(k);
            if (head.length >= SNIFF_ROWS) settleMapping(out);
          }
        }
        if (cols !== null) convert(parsed, out);
        const kept = guard ? guard.filter(out, options.onSkip) : out;
        if (kept.length) yield kept;
      }
      if (cols === null && head.length > 0) {
        const out: SourceRecord[] = [];
        settleMapping(out);
        const kept = guard ? guard.filter(out, options.onSkip) : out;
        if (kept.length) yield kept;
      }
    } finally {
      await lines.return(undefined);
    }
  }
}
