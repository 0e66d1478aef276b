import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { tempDir } from '../helpers/tmp.js';
import { startFaultServer, type FaultServer } from '../download/fault-server.js';
import { registerDownload } from '../../src/cli/download.js';

let server: FaultServer;
before(async () => {
  server = await startFaultServer();
});
after(() => server.close());

/** Run `imgsift download ...` in this process, as main() does; returns the exit code and output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const state = { exitCode: 0 };
  let stderr = '';
  const program = new Command('imgsift').exitOverride().configureOutput({ writeErr: (s) => { stderr += s; }, writeOut: () => undefined });
  registerDownload(program, state);
  program.commands.forEach((c) => c.exitOverride().configureOutput({ writeErr: (s) => { stderr += s; } }));
  let stdout = '';
  const write = process.stdout.write;
  const writeErr = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    await program.parseAsync(['download', ...args], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return { code: 2, stdout, stderr };
    throw err;
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
  return { code: state.exitCode, stdout, stderr };
}

test('imgsift download: a summary per status, status files, exit 1 when samples failed, rerun resumes', async () => {
  const dir = await tempDir();
  const list = join(dir, 'urls.txt');
  await writeFile(list, `# three URLs\n${server.url('/img/1')}\n\n${server.url('/status/404')}\n${server.url('/robots/noai/2')}\n${server.url('/img/3')}\n`);
  const out = join(dir, 'out');
  const run = await cli([list, '--out', out, '--quiet', '--resize-mode', 'center_crop', '--image-size', '32', '--no-fsync', '--retries', '0']);
  assert.equal(run.code, 1, run.stderr);
  assert.match(run.stdout, /downloaded 4 samples into /);
  assert.match(run.stdout, /success\s+2 \(50\.0%\)/);
  assert.match(run.stdout, /failed_to_download\s+1 /);
  assert.match(run.stdout, /skipped\s+1 /);
  assert.match(run.stdout, /1  failed_to_download: HTTP 404/);
  assert.match(run.stdout, /attention: 1 sample failed/);
  const rows = (await readFile(join(out, 'download_status.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => [r.status, r.width, r.height]), [['success', 32, 32], ['failed_to_download', null, null], ['skipped', null, null], ['success', 32, 32]]);

  const again = await cli([list, '--out', out, '--json', '--retry-failed', '--no-fsync']);
  const summary = JSON.parse(again.stdout.trim());
  assert.equal(summary.fetched, 1, 'only the failure is fetched again');
  assert.equal(server.hits('/img/1'), 1);
  assert.equal(server.hits('/status/404'), 2);
  assert.deepEqual(summary.status_files, [join(out, 'download_status.parquet'), join(out, 'download_status.jsonl')]);

  // --no-robots fetches what X-Robots-Tag had skipped, once asked to retry skipped files.
  const third = await cli([list, '--out', out, '--quiet', '--no-robots', '--retry-skipped', '--no-fsync']);
  assert.match(third.stdout, /skipped\s+0/);
  assert.equal(server.hits('/robots/noai/2'), 2);
});

test('imgsift download: URL columns of a CSV, bad rows and bad flags', async () => {
  const dir = await tempDir();
  const csv = join(dir, 'pairs.csv');
  await writeFile(csv, `key,src,dst\na,${server.url('/img/4')},${server.url('/img/5')}\nb,not-a-url,${server.url('/img/6')}\n`);
  const strict = await cli([csv, '--out', join(dir, 'o1'), '--quiet', '--url-col', 'src', '--col', 'output=dst', '--id-col', 'key']);
  assert.equal(strict.code, 2);
  assert.match(strict.stderr, /pairs\.csv:3 \(field 'image'\): expected an http\(s\) URL, found 'not-a-url'$/m);
  const lenient = await cli([csv, '--out', join(dir, 'o2'), '--quiet', '--url-col', 'src', '--col', 'output=dst', '--id-col', 'key', '--skip-bad-rows', '--no-fsync']);
  assert.equal(lenient.code, 1, 'finished, with a malformed row to report');
  assert.match(lenient.stdout, /success\s+1 \(100\.0%\)/);
  assert.match(lenient.stdout, /attention: 1 manifest rows were malformed/);

  const badMode = await cli([csv, '--out', join(dir, 'o3'), '--resize-mode', 'stretch']);
  assert.equal(badMode.code, 2);
  assert.match(badMode.stderr, /Allowed choices are no, keep_ratio/);
  const badSize = await cli([csv, '--out', join(dir, 'o3'), '--max-size', 'lots']);
  assert.equal(badSize.code, 2);
  assert.match(badSize.stderr, /--max-size must be a size such as 20MB/);
  const noOut = await cli([csv]);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /--out <dir>/);
});
