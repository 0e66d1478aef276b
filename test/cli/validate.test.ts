import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { tempDir } from '../helpers/tmp.js';
import { fixtures, writeExtracted, writeTar } from '../validate/fixtures.js';
import { runCli } from '../helpers/cli.js';

/** Runs the real `imgsift` binary (dist/, built by `npm test`). */
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = runCli(args);
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

test('imgsift validate: exit 0 when clean, 1 with problems (and overlays), 2 for a missing path', async () => {
  const dir = await tempDir('imgsift-cli-validate-');
  const f = await fixtures();
  const clean = join(dir, 'dev_extracted', 'train', 'shard-000000');
  await writeExtracted(clean, [f.blobs, f.near]);
  await writeTar(join(dir, 'bad', 'shard-000000.tar'), [f.rect, f.empty, f.blobs]);

  const ok = cli(['validate', clean, '--quiet']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /Samples: 2 in 1 shard\(s\)/);
  assert.match(ok.stdout, /coverage %/);
  assert.match(ok.stdout, /Edge warnings \(1\)/);
  assert.match(ok.stdout, /No problems found/);

  const overlays = join(dir, 'validation_overlays');
  const bad = cli(['validate', join(dir, 'bad', 'shard-000000.tar'), '--output', overlays, '--max-samples', '2', '--quiet']);
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stdout, /stopped at --max-samples/);
  assert.match(bad.stdout, /000001: mask\.png touches the image border/);
  assert.match(bad.stdout, /000004: mask\.png is empty/);
  assert.deepEqual((await readdir(overlays)).sort(), ['000001.mask.jpg', '000004.mask.jpg']);
  assert.equal((await sharp(join(overlays, '000001.mask.jpg')).metadata()).format, 'jpeg');

  const json = cli(['validate', join(dir, 'bad'), '--json']);
  assert.equal(json.status, 1);
  const report = JSON.parse(json.stdout);
  assert.equal(report.samples, 3);
  assert.deepEqual(report.problems.map((p: { kind: string }) => p.kind), ['mask_touches_border', 'empty_mask']);
  assert.equal(report.masks.masks, 3);

  const missing = cli(['validate', join(dir, 'nope')]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /validate: .*nope does not exist/);
  assert.equal(cli(['validate', clean, '--max-samples', '0']).status, 2);
});
