import { Command, CommanderError } from 'commander';
import { EXIT } from '../errors.js';
import { VERSION } from '../version.js';
import type { CliState } from './common.js';
import { COMMANDS } from './commands.js';

/** Build the command tree. Each command lives in its own module under src/cli/ and only parses and prints. */
export function createProgram(state: CliState): Command {
  const program = new Command('imgsift')
    .description('Turn raw image collections into clean, deduplicated, leak-free training datasets.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .exitOverride();
  for (const register of COMMANDS) register(program, state);
  return program;
}

/** Entry point of the `imgsift` binary; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const state: CliState = { exitCode: EXIT.ok };
  const program = createProgram(state);
  program.commands.forEach((c) => c.exitOverride());
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; any parse error is bad usage.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw err;
  }
  return state.exitCode;
}
