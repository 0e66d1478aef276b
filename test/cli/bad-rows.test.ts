import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { writePhotos } from '../helpers/dataset.js';
import { tempDir } from '../helpers/tmp.js';

test('build --skip-bad-rows shows the first 20 bad rows with file:line and reason, and lists all in bad_rows.jsonl', async () => {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 2, { size: [64, 48] });
  const good = (id: string, file: string) => JSON.stringify({ id, file, caption: id });
  // Line 1 good; lines 2..26 bad in three ways; line 27 good.
  const lines = [good('a', 'img_00000.jpg')];
  for (let i = 0; i < 25; i++) {
    lines.push(i % 3 === 0 ? `{"id": "x${i}", broken` : i % 3 === 1 ? good(`p${i}`, '../../etc/passwd') : JSON.stringify({ id: `n${i}`, caption: 'no file' }));
  }
  lines.push(good('b', 'img_00001.jpg'));
  await writeFile(join(dir, 'rows.jsonl'), lines.join('\n') + '\n');
  const recipe = (manifest: string) =>
    `name: bad\nworkdir: ./work\nsource: { format: jsonl, path: ./${manifest}, root: ./images, fields: { id: id, image: file, text: caption } }\nsteps:\n  - probe: {}\n`;
  await writeFile(join(dir, 'r.yaml'), recipe('rows.jsonl'));

  const r = runCli(['build', join(dir, 'r.yaml'), '--skip-bad-rows', '--quiet']);
  assert.equal(r.code, 1, r.stderr);
  const manifest = join(dir, 'rows.jsonl');
  const badFile = join(dir, 'work', 'bad_rows.jsonl');
  assert.match(r.stderr, /imgsift: 25 bad row\(s\) skipped, the first 20:\n/);
  const shown = r.stderr.split('\n').filter((l) => l.startsWith(`  ${manifest}:`));
  assert.equal(shown.length, 20);
  assert.match(shown[0], new RegExp(`^  ${manifest}:2: expected one JSON object per line`));
  assert.match(shown[1], new RegExp(`^  ${manifest}:3 \\(field 'file'\\): .*escapes`));
  assert.match(shown[19], new RegExp(`^  ${manifest}:21`));
  assert.ok(r.stderr.includes(`imgsift: every skipped row, with its reason: ${badFile}\n`));
  assert.match(r.stdout, new RegExp(`25 malformed rows skipped \\(listed in ${badFile}\\)`));

  const listed = (await readFile(badFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(listed.length, 25);
  assert.deepEqual(listed.map((b) => b.ref), Array.from({ length: 25 }, (_, i) => `${manifest}:${i + 2}`));
  assert.match(listed[0].reason, /^expected one JSON object per line/);
  assert.equal(listed[1].field, 'file');
  assert.match(listed[1].reason, /escapes/);
  assert.ok(listed.every((b) => typeof b.reason === 'string' && b.reason.length > 0 && !b.reason.startsWith(manifest)));

  // A clean run replaces the list: no file describes rows that are no longer bad.
  await writeFile(join(dir, 'clean.jsonl'), [lines[0], lines[26]].join('\n') + '\n');
  await writeFile(join(dir, 'r.yaml'), recipe('clean.jsonl'));
  const clean = runCli(['build', join(dir, 'r.yaml'), '--skip-bad-rows', '--quiet']);
  assert.equal(clean.code, 0, clean.stderr);
  assert.doesNotMatch(clean.stderr, /bad row/);
  assert.equal(existsSync(badFile), false);
});
