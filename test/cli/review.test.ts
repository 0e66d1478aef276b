import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { reviewFixture, type ReviewFixture } from '../review/server-fixture.js';

let fx: ReviewFixture;
before(async () => {
  fx = await reviewFixture();
});
after(() => fx?.cleanup());

/** Runs `imgsift review` through its registration (as the lead's program will) until it prints its address. */
function startReview(args: string[]) {
  const script = `
    import { Command } from 'commander';
    import { registerReview } from './src/cli/review.ts';
    const state = { exitCode: 0 };
    const program = new Command('imgsift').exitOverride();
    registerReview(program, state);
    program.commands.forEach((c) => c.exitOverride());
    try { await program.parseAsync(${JSON.stringify(args)}, { from: 'user' }); }
    catch (e) { process.exit(e.exitCode === 0 ? 0 : 2); }
    process.exit(state.exitCode);`;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
}

test('imgsift review serves the workdir until interrupted, then exits 0', async () => {
  const child = startReview(['review', '--workdir', fx.workdir, '--port', '0', '--reviewer', 'cli-user']);
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const url = await new Promise<string>((done, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) done(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  assert.doesNotMatch(out, /token/, 'no token on loopback');
  const info = (await (await fetch(url + 'api/info')).json()) as { reviewer: string; samples: number };
  assert.equal(info.reviewer, 'cli-user');
  assert.equal(info.samples, fx.truth.count);
  const code = await new Promise<number | null>((done) => {
    child.on('exit', done);
    child.kill('SIGINT');
  });
  assert.equal(code, 0);
});

test('imgsift review: a bad port is a usage error (exit 2)', async () => {
  const bad = startReview(['review', '--port', '99999']);
  let err = '';
  bad.stderr.on('data', (d) => (err += d));
  assert.equal(await new Promise((done) => bad.on('exit', done)), 2);
  assert.match(err, /--port must be a whole number from 0 to 65535/);
});
