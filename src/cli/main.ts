import { Command, CommanderError, Help } from 'commander';
import { EXIT } from '../errors.js';
import { VERSION } from '../version.js';
import type { CliState } from './common.js';
import { COMMAND_INDEX, type CommandEntry } from './command-index.js';

/** Commander's word for "help about command X": `imgsift help X`. */
const HELP_WORD = 'help';

/** The command `argv` runs: its first word (or the one after `help`), when it names one. */
export function commandOf(argv: readonly string[]): CommandEntry | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const word = words[0] === HELP_WORD ? words[1] : words[0];
  return COMMAND_INDEX.find((c) => c.name === word);
}

/** Stand-ins that only know a command's usage line, for the top-level help. */
const stubUsage = new WeakMap<Command, string>();

/** The top-level command with no subcommands yet. */
export function baseProgram(): Command {
  return new Command('imgsift')
    .description('Turn raw image collections into clean, deduplicated, leak-free training datasets.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({
      showGlobalOptions: true,
      sortSubcommands: false,
      subcommandTerm(cmd) {
        const usage = stubUsage.get(cmd);
        return usage === undefined ? Help.prototype.subcommandTerm.call(this, cmd) : `${cmd.name()} ${usage}`.trimEnd();
      },
    })
    .exitOverride();
}

/**
 * Build the command tree for `argv`. Each command lives in its own module under src/cli/ and
 * only parses and prints. Only the module of the command being run is imported: the others are
 * stand-ins listing their name, usage and description (enough for `--help` and bad usage).
 */
export async function createProgram(state: CliState, argv: readonly string[]): Promise<Command> {
  const program = baseProgram();
  const run = commandOf(argv);
  if (run) {
    (await run.load())(program, state);
  } else {
    for (const c of COMMAND_INDEX) stubUsage.set(program.command(c.name).usage(c.usage).description(c.description), c.usage);
  }
  return program;
}

/** The program with every command loaded (for docs and tests; the binary loads only the one it runs). */
export async function fullProgram(state: CliState): Promise<Command> {
  const program = baseProgram();
  for (const c of COMMAND_INDEX) (await c.load())(program, state);
  return program;
}

/** Entry point of the `imgsift` binary; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const state: CliState = { exitCode: EXIT.ok };
  const program = await createProgram(state, argv);
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
