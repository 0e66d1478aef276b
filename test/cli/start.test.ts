import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as choices from '../../src/cli/choices.js';
import { URL_LIST_FORMATS } from '../../src/sources/urls.js';
import { DEFAULT_PORT } from '../../src/review/server.js';
import { QUALITY_ISSUE_TYPES } from '../../src/image/quality.js';
import { LEAK_METHODS } from '../../src/steps/leaks.js';
import { KEEP_RULES } from '../../src/steps/dedup-match.js';
import { HASH_ALGOS } from '../../src/image/hashes.js';
import { BIN } from '../helpers/cli.js';

const TRACE = fileURLToPath(new URL('../helpers/trace-imports.mjs', import.meta.url));

test('the CLI copies of choice lists equal their sources', () => {
  assert.deepEqual(choices.HASH_ALGOS, HASH_ALGOS);
  assert.deepEqual(choices.KEEP_RULES, KEEP_RULES);
  assert.deepEqual(choices.LEAK_METHODS, LEAK_METHODS);
  assert.deepEqual(choices.QUALITY_ISSUE_TYPES, QUALITY_ISSUE_TYPES);
  assert.deepEqual(choices.URL_LIST_FORMATS, URL_LIST_FORMATS);
  assert.equal(choices.DEFAULT_REVIEW_PORT, DEFAULT_PORT);
});

/** The packages `imgsift ARGS` imports. */
function packagesLoaded(args: string[]): { code: number | null; packages: string[] } {
  const r = spawnSync(process.execPath, ['--import', TRACE, BIN, ...args], { encoding: 'utf8' });
  const packages = [...new Set(r.stderr.split('\n').filter((l) => l.startsWith('IMPORT ')).map((l) => l.slice(7)))].sort();
  return { code: r.status, packages };
}

test('--help, a command\'s --help and bad usage load no heavy dependency (only commander)', () => {
  for (const args of [['--help'], ['hash', '--help'], ['build'], ['export', '--format'], ['nope']]) {
    const r = packagesLoaded(args);
    assert.deepEqual(r.packages, ['commander'], `imgsift ${args.join(' ')}`);
  }
  // A command that works loads what it needs, and only that: hashing needs sharp, not duckdb or opencv.
  const hash = packagesLoaded(['hash', BIN]);
  assert.equal(hash.code, 1, 'a JavaScript file is not an image');
  assert.ok(hash.packages.includes('sharp'));
  assert.ok(!hash.packages.some((p) => /duckdb|opencv|onnxruntime|aws-sdk|usearch/.test(p)), hash.packages.join(', '));
});

test('the lazy command index gives each command the usage and description its module registers: same --help page', async () => {
  const { COMMAND_INDEX } = await import('../../src/cli/command-index.js');
  const { commandOf, createProgram, fullProgram } = await import('../../src/cli/main.js');
  const full = await fullProgram({ exitCode: 0 });
  assert.deepEqual(
    COMMAND_INDEX.map((c) => [c.name, c.usage, c.description]),
    full.commands.map((c) => [c.name(), c.usage(), c.description()]),
  );
  const lazy = await createProgram({ exitCode: 0 }, ['--help']);
  assert.equal(lazy.helpInformation(), full.helpInformation());
  // Each entry loads the module that registers exactly that command.
  for (const entry of COMMAND_INDEX) {
    const one = await createProgram({ exitCode: 0 }, [entry.name, '--json']);
    assert.deepEqual(one.commands.map((c) => c.name()), [entry.name]);
    assert.equal(one.commands[0].helpInformation(), full.commands.find((c) => c.name() === entry.name)!.helpInformation());
  }
  assert.equal(commandOf(['help', 'hash'])?.name, 'hash');
  assert.equal(commandOf(['--verbose', 'nope']), undefined);
});
