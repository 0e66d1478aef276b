/** Errors that carry an exit code and, for bad input, where it came from. */

/** Exit codes of the command line contract (DESIGN.md). */
export const EXIT = { ok: 0, attention: 1, usage: 2 } as const;

export class ImgsiftError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message);
    this.name = 'ImgsiftError';
    this.exitCode = exitCode;
  }
}

/** Bad usage: wrong flags, unknown step names, invalid parameters. Exit code 2. */
export class UsageError extends ImgsiftError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = 'UsageError';
  }
}

export interface InputLocation {
  file: string;
  line?: number;
  field?: string;
}

/** Bad input data, located by file, line and field. Exit code 2. */
export class InputError extends ImgsiftError {
  readonly location: InputLocation;
  constructor(location: InputLocation, problem: string) {
    super(`${formatLocation(location)}: ${problem}`, EXIT.usage);
    this.name = 'InputError';
    this.location = location;
  }
}

export function formatLocation(loc: InputLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}`;
  if (loc.field !== undefined) s += ` (field '${loc.field}')`;
  return s;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Errnos meaning the storage refused a write, and how to say it. */
const STORAGE_ERRNOS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EFBIG: 'file too large',
  EIO: 'input/output error',
};

/** The same failures as DuckDB and other libraries word them (strerror text). */
const STORAGE_TEXTS: Array<[RegExp, string]> = [
  [/no space left on device/i, 'ENOSPC'],
  [/disk quota exceeded/i, 'EDQUOT'],
  [/read-only file system/i, 'EROFS'],
  [/file too large/i, 'EFBIG'],
];

/**
 * A write the storage refused (full disk, quota, read-only): the path and the errno, exit 2. Not a
 * bug to report, and nothing half-written is left under a final name (writers commit by rename).
 */
export class StorageError extends ImgsiftError {
  constructor(
    readonly path: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot write ${path}: ${STORAGE_ERRNOS[code] ?? code} (${code})`, EXIT.usage);
    this.name = 'StorageError';
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * `err` as a StorageError naming `path` when it is a refused write (an errno such as ENOSPC, or a
 * library message such as DuckDB's `Could not write file "X": No space left on device`); otherwise
 * `err` unchanged. Without `path`, the path the error names, if any, is used.
 */
export function asStorageError(err: unknown, path?: string): unknown {
  if (err instanceof StorageError || !(err instanceof Error)) return err;
  const e = err as NodeJS.ErrnoException;
  let code = typeof e.code === 'string' && e.code in STORAGE_ERRNOS ? e.code : undefined;
  if (!code) code = STORAGE_TEXTS.find(([re]) => re.test(err.message))?.[1];
  if (!code) return err;
  const named = path ?? /(?:file|path) "([^"]+)"/.exec(err.message)?.[1] ?? e.path;
  return new StorageError(named ?? 'a file', code, { cause: err });
}
