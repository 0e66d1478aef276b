import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { Reporter, fmtSecs } from '../../src/exec/reporter.js';

function capture(mode: 'tty' | 'plain' | 'json' | 'quiet', interval = 0) {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  stream.columns = 80;
  let out = '';
  stream.on('data', (d: Buffer) => { out += d.toString(); });
  return { reporter: new Reporter({ mode, stream, interval }), text: () => out };
}

test('json mode writes parseable progress and completion lines', async () => {
  const { reporter, text } = capture('json');
  const p = reporter.progress('probe', 10);
  for (let i = 0; i < 10; i++) p.tick(1, i === 3 ? 1 : 0);
  p.finish();
  const events = text().trim().split('\n').map((l) => JSON.parse(l));
  const done = events.find((e) => e.event === 'progress_done');
  assert.equal(done.done, 10);
  assert.equal(done.failed, 1);
  assert.ok(events.some((e) => e.event === 'progress' && e.total === 10));
});

test('tty mode draws a bar with count, rate and ETA, and clears it for log lines', () => {
  const { reporter, text } = capture('tty');
  const p = reporter.progress('hash', 4);
  reporter.info('a message');
  p.finish();
  assert.match(text(), /hash \[-+\] 0\/4 /);
  assert.match(text(), /\r\x1b\[2Ka message\n/);
  assert.match(text(), /hash: 0 in /);
});

test('quiet mode prints warnings only', () => {
  const { reporter, text } = capture('quiet');
  reporter.progress('x', 2).finish();
  reporter.info('hidden');
  reporter.warn('shown');
  assert.equal(text(), 'warning: shown\n');
});

test('durations are formatted for people', () => {
  assert.equal(fmtSecs(5.25), '5.3s');
  assert.equal(fmtSecs(125), '2m05s');
  assert.equal(fmtSecs(7300), '2h01m');
});
