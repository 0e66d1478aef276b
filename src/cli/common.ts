import { Command, InvalidArgumentError, Option } from 'commander';
import { Reporter } from '../exec/reporter.js';
import { EXIT, ImgsiftError, asStorageError, errorMessage } from '../errors.js';

/** State shared by the command handlers of one CLI invocation. */
export interface CliState {
  exitCode: number;
}

export interface OutputFlags {
  quiet?: boolean;
  json?: boolean;
}

/** --quiet and --json, on every command that does long work. */
export function withOutputFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--quiet', 'print only warnings, errors and the final summary').conflicts('json'))
    .option('--json', 'machine-readable progress and logs (JSON lines on stderr)');
}

export function reporterFor(flags: OutputFlags): Reporter {
  return new Reporter({ mode: flags.json ? 'json' : flags.quiet ? 'quiet' : undefined });
}

/** Run a command body: its return value is the exit code; a thrown error is printed, not a stack. */
export function action<A extends unknown[]>(state: CliState, body: (...args: A) => Promise<number | void>) {
  return async (...args: A): Promise<void> => {
    try {
      const code = await body(...args);
      state.exitCode = code ?? EXIT.ok;
    } catch (err) {
      state.exitCode = reportError(err);
    }
  };
}

export function reportError(err: unknown): number {
  // A full disk or read-only folder is the user's to fix, not a bug: say which path and why, exit 2.
  err = asStorageError(err);
  if (err instanceof ImgsiftError) {
    process.stderr.write(`imgsift: ${err.message}\n`);
    return err.exitCode;
  }
  process.stderr.write(`imgsift: unexpected error: ${errorMessage(err)}\n`);
  if (err instanceof Error && err.stack && process.env.IMGSIFT_DEBUG) process.stderr.write(err.stack + '\n');
  return EXIT.attention;
}

/** Commander argument parsers with precise messages. */
export function parsePositiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a whole number >= 1 (got '${value}')`);
    return n;
  };
}

export function parseNonNegativeNumber(name: string, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || n > max) {
      throw new InvalidArgumentError(`${name} must be a number from 0 to ${max} (got '${value}')`);
    }
    return n;
  };
}

export function parseList(value: string, previous: string[] = []): string[] {
  return previous.concat(value.split(',').map((s) => s.trim()).filter(Boolean));
}
