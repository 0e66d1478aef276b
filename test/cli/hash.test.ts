import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { photoJpeg, photoPng } from '../../src/demo/synth.js';
import { formatHashTable, hashFiles } from '../../src/cli/hash.js';
import { computeHashes } from '../../src/image/hashes.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
let good: string;
let png: string;
let bad: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'imgsift-cli-hash-'));
  good = join(dir, 'a.jpg');
  png = join(dir, 'b.png');
  bad = join(dir, 'broken.jpg');
  writeFileSync(good, await photoJpeg({ seed: 1, width: 800, height: 600 }));
  writeFileSync(png, await photoPng({ seed: 2, width: 300, height: 200 }));
  writeFileSync(bad, 'not a jpeg');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('hashFiles: rows in order, a bad or missing file gets an error and the others go on', async () => {
  const rows = await hashFiles([good, bad, join(dir, 'missing.png'), png], { algos: ['phash', 'dhash'], pixel: true });
  assert.deepEqual(rows.map((r) => r.path), [good, bad, join(dir, 'missing.png'), png]);
  assert.match(rows[0].phash!, /^[0-9a-f]{16}$/);
  assert.equal(rows[0].ahash, undefined);
  assert.match(rows[0].sha256!, /^[0-9a-f]{64}$/);
  assert.match(rows[0].pixel_sha256!, /^[0-9a-f]{64}$/);
  assert.ok(rows[1].error);
  assert.match(rows[2].error!, /ENOENT/);
  assert.match(rows[3].dhash!, /^[0-9a-f]{16}$/);
  const direct = await computeHashes(await import('node:fs').then((fs) => fs.readFileSync(good)), ['phash']);
  assert.equal(rows[0].phash, direct.phash);

  const table = formatHashTable(rows, ['phash', 'dhash'], true);
  const lines = table.trimEnd().split('\n');
  assert.equal(lines.length, 5);
  assert.match(lines[0], /^path\s+phash\s+dhash\s+sha256\s+pixel_sha256$/);
  assert.equal(lines[1].indexOf(rows[0].phash!), lines[0].indexOf('phash'), 'columns are aligned');
  assert.match(lines[2], /error: /);
});

/** Runs the real `imgsift` binary (dist/, built by `npm test`). */
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = runCli(args);
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

test('imgsift hash --json: one line per file, error lines, exit 1 when a file failed', () => {
  const res = cli(['hash', '--json', good, bad, png]);
  assert.equal(res.status, 1, res.stderr);
  const lines = res.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 3);
  assert.equal(lines[0].path, good);
  for (const k of ['phash', 'dhash', 'ahash', 'whash']) assert.match(lines[0][k], /^[0-9a-f]{16}$/);
  assert.match(lines[0].sha256, /^[0-9a-f]{64}$/);
  assert.equal(lines[0].pixel_sha256, undefined, 'the pixel sha256 needs --pixel');
  assert.equal(lines[1].path, bad);
  assert.ok(lines[1].error);
  assert.ok(lines[2].phash);
});

test('imgsift hash: table, exit 0; unknown --algo exits 2 naming the allowed list', () => {
  const ok = cli(['hash', '--algo', 'phash,whash', good]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^path\s+phash\s+whash\s+sha256\n/);
  const withPixel = cli(['hash', '--json', '--pixel', '--algo', 'phash', good]);
  assert.equal(withPixel.status, 0, withPixel.stderr);
  const row = JSON.parse(withPixel.stdout);
  assert.match(row.pixel_sha256, /^[0-9a-f]{64}$/);
  assert.equal(row.phash, JSON.parse(cli(['hash', '--json', '--algo', 'phash', good]).stdout).phash, '--pixel does not change the hashes');
  const badAlgo = cli(['hash', '--algo', 'phash,sha1', good]);
  assert.equal(badAlgo.status, 2);
  assert.match(badAlgo.stderr, /unknown hash algorithm 'sha1'; allowed: phash, dhash, ahash, whash/);
});
