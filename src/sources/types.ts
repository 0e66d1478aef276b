import type { InputError } from '../errors.js';

/**
 * One sample as a source reads it, before it enters the catalog.
 * `files` maps a role to where the bytes are: 'image' is the main image; other roles
 * ('output', 'mask', ...) are further files of the same sample (an edit pair, a mask).
 * A location is an absolute local path, a tar member (see util/uri.ts), or an http(s) URL.
 */
export interface SourceRecord {
  id: string;
  files: Record<string, string>;
  /** The image's path relative to the dataset root, with forward slashes (for manifests and exports). */
  path?: string;
  split?: string;
  label?: string;
  text?: string;
  group?: string;
  /** Any other columns of the row, kept as metadata. */
  meta?: Record<string, unknown>;
  /** Where the record came from, for messages: `file:line`, `shard.tar:member`, a path. */
  ref: string;
  /** The record this one was made from (an annotated item of an image): its id. */
  parent?: string;
  /**
   * Why this row cannot be a sample of the dataset (a metadata row naming a missing file). Ingest
   * still puts it in the catalog, with this flagged issue (step `ingest`) and a drop of the same
   * reason, so it is counted, reviewable and never exported.
   */
  issue?: SourceIssue;
}

/** A problem a source found with one of its rows (see SourceRecord.issue). */
export interface SourceIssue {
  type: string;
  /** What points a person at the problem: the metadata file, its line, the file it names. */
  evidence: Record<string, unknown>;
}

/** Something a source passed over: a file that is not a sample, an annotation with no image. */
export interface Skip {
  path: string;
  reason: string;
  /** More about it (the real path a link leads to, the manifest line that named the file). */
  detail?: string;
}

export interface ReadOptions {
  /**
   * Called for a row that cannot become a sample (malformed line, missing field, path escaping
   * the root). The reader goes on with the next row; the caller decides whether to stop.
   */
  onBadRow: (error: InputError) => void;
  /** Called for every file or entry passed over, with why (counted and listed in the run's skipped.jsonl). */
  onSkip?: (skip: Skip) => void;
  /** Stop after this many records have been yielded. */
  maxRecords?: number;
  /** Aborts a long read (Ctrl-C). */
  signal?: AbortSignal;
}

/** A source of samples: reads lazily, one record at a time, so memory stays bounded. */
export interface Source {
  /** Human description, e.g. `jsonl manifest ./data/sft.jsonl`. */
  readonly description: string;
  /** Lines the last read skipped as blank (prompt lists), for the summary. */
  readonly skipped?: number;
  read(options: ReadOptions): AsyncIterable<SourceRecord>;
}

/** Mapping from the catalog's fields to the source's column names (recipe `source.fields`). */
export interface FieldMap {
  id?: string;
  image?: string;
  text?: string;
  label?: string;
  group?: string;
  split?: string;
  /** Extra file roles: role name → column holding its path/URL (e.g. { output: 'output_url' }). */
  files?: Record<string, string>;
  /** Text put before a role's column value (`image` for the main role): a CDN URL or base folder. */
  prefixes?: Record<string, string>;
  /** The recipe's name for the main role (`input`), stored in the catalog as `image`. */
  main?: string;
  /** Mapped columns kept in `meta` as well (a URL an export should still show after download). */
  keep_in_meta?: string[];
}
