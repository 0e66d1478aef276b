import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import { DEFAULT_REVIEW_PORT } from './choices.js';
import { action, type CliState } from './common.js';
import { readFile } from 'node:fs/promises';
import { parseTokenFile } from '../review/auth.js';

async function readTokenFile(file: string): Promise<Map<string, string>> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`--token-file ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
  });
  return parseTokenFile(text, file);
}

export interface ReviewFlags {
  workdir: string;
  port: number;
  host: string;
  reviewer?: string;
  tokenFile?: string;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`--port must be a whole number from 0 to 65535 (got '${value}')`);
  return n;
}

/** `imgsift review`: serve the review app until interrupted (Ctrl-C closes the catalog cleanly). */
export function registerReview(program: Command, state: CliState): void {
  program
    .command('review')
    .description('local review web app: thumbnail grid, filters, duplicate and leak pairs, keep/remove/relabel/tag with history')
    .option('--workdir <dir>', 'the workdir of a build (holds catalog.duckdb)', '.imgsift')
    .addOption(new Option('--port <n>', 'port to listen on (0: any free port)').default(DEFAULT_REVIEW_PORT).argParser(parsePort))
    .option('--host <addr>', 'address to bind; anything but loopback requires the printed access token', '127.0.0.1')
    .option('--reviewer <name>', 'who changes are recorded as (default: your user name; the page can change it on loopback; off loopback the access token names this reviewer)')
    .option('--token-file <file>', "one 'TOKEN REVIEWER-NAME' per line: each reviewer opens the app with their own ?token=, and their changes are recorded under that name (the page cannot change it)")
    .action(
      action(state, async (opts: ReviewFlags) => {
        const { startReviewServer } = await import('../review/server.js');
        const tokens = opts.tokenFile ? await readTokenFile(resolve(opts.tokenFile)) : undefined;
        const server = await startReviewServer({
          workdir: resolve(opts.workdir), port: opts.port, host: opts.host, reviewer: opts.reviewer, tokens,
          log: (line) => process.stderr.write(`imgsift review: ${line}\n`),
        });
        process.stdout.write(`imgsift review: ${server.samples} samples of run ${server.runId}\n`);
        process.stdout.write(`imgsift review: open ${server.url}\n`);
        if (server.token) process.stdout.write(`imgsift review: access token ${server.token} (every request needs it; changes are recorded as ${server.reviewers[0]})\n`);
        if (tokens) process.stdout.write(`imgsift review: each reviewer opens ${server.url}?token=<their token>; tokens for ${server.reviewers.join(', ')}\n`);
        process.stdout.write(`imgsift review: Ctrl-C to stop\n`);
        await new Promise<void>((done) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            void server.close().then(done);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
        return EXIT.ok;
      }),
    );
}
