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
