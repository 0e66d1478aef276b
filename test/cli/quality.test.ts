import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { photoJpeg, photoPng } from '../../src/demo/synth.js';
import { QUALITY_ISSUE_TYPES } from '../../src/image/quality.js';
import { csvField, issuesCsvHeader, registerQuality, runQualityDir } from '../../src/cli/quality.js';
import type { CliState } from '../../src/cli/common.js';

/** A small RFC 4180 reader, enough to check what the writer quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += c;
  }
  if (field || row.length) row.push(field), rows.push(row);
  return rows;
}

async function makeDataset(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-quality-cli-'));
  const clean = await photoJpeg({ seed: 1, width: 320, height: 240 });
  await writeFile(join(dir, 'b_clean.jpg'), clean);
  await writeFile(join(dir, 'a_dark.jpg'), await sharp(clean).linear(0.3, 0).jpeg().toBuffer());
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'sub', 'grey.png'), await sharp(clean).toColourspace('b-w').png().toBuffer());
  await writeFile(join(dir, 'sub', 'with, "comma".png'), await photoPng({ seed: 2, width: 300, height: 260 }));
  // ~13x smaller than the others: odd_size (a whole-dataset issue).
  await writeFile(join(dir, 'tiny.png'), await photoPng({ seed: 3, width: 24, height: 18 }));
  await writeFile(join(dir, 'broken.jpg'), Buffer.from('this is not a jpeg'));
  await writeFile(join(dir, 'notes.txt'), 'not an image');
  await writeFile(join(dir, '.hidden.jpg'), clean);
  return dir;
}

test('runQualityDir writes issues.csv, summary.txt and summary.json', async () => {
  const dir = await makeDataset();
  const out = join(dir, '..', `${dir.split('/').pop()}-out`);
  try {
    const summary = await runQualityDir(dir, out, { concurrency: 3, params: { min_side: 100 } });
    assert.equal(summary.images, 6);
    assert.equal(summary.failed, 1);

    const csv = parseCsv(await readFile(join(out, 'issues.csv'), 'utf8'));
    const header = csv[0];
    assert.deepEqual(header, issuesCsvHeader());
    assert.equal(header[0], 'path');
    for (const t of QUALITY_ISSUE_TYPES) {
      assert.ok(header.includes(`${t}_score`) && header.includes(`is_${t}_issue`), t);
    }
    assert.equal(header.at(-1), 'error');
    const rows = csv.slice(1).map((cells) => Object.fromEntries(header.map((h, i) => [h, cells[i]])));
    assert.deepEqual(
      rows.map((r) => r.path),
      ['a_dark.jpg', 'b_clean.jpg', 'broken.jpg', 'sub/grey.png', 'sub/with, "comma".png', 'tiny.png'],
    );
    for (const cells of csv.slice(1)) assert.equal(cells.length, header.length);
    const byPath = new Map(rows.map((r) => [r.path, r]));
    const flagged = (p: string) => QUALITY_ISSUE_TYPES.filter((t) => byPath.get(p)![`is_${t}_issue`] === 'True');

    assert.deepEqual(flagged('b_clean.jpg'), []);
    assert.ok(flagged('a_dark.jpg').includes('dark'));
    assert.deepEqual(flagged('sub/grey.png'), ['grayscale']);
    assert.ok(flagged('tiny.png').includes('odd_size'));
    assert.ok(flagged('tiny.png').includes('low_resolution'));
    assert.equal(rows.filter((r) => r.is_odd_size_issue === 'True').length, 1);
    const broken = byPath.get('broken.jpg')!;
    assert.notEqual(broken.error, '');
    assert.equal(broken.dark_score, '');
    assert.equal(broken.is_dark_issue, '');
    for (const r of rows.filter((r) => r.error === '')) {
      for (const t of QUALITY_ISSUE_TYPES) {
        const s = Number(r[`${t}_score`]);
        assert.ok(r[`${t}_score`] !== '' && s >= 0 && s <= 1, `${r.path} ${t}_score=${r[`${t}_score`]}`);
        assert.ok(['True', 'False'].includes(r[`is_${t}_issue`]));
      }
    }

    const json = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    assert.equal(json.images, 6);
    assert.equal(json.failed, 1);
    for (const t of QUALITY_ISSUE_TYPES) {
      assert.equal(json.counts[t], rows.filter((r) => r[`is_${t}_issue`] === 'True').length, t);
    }
    assert.equal(json.params.min_side, 100);
    const txt = await readFile(join(out, 'summary.txt'), 'utf8');
    assert.match(txt, /^6 images, 1 could not be read/);
    assert.match(txt, /^grayscale +1$/m);
    assert.match(txt, /^odd_size +1$/m);
    // Atomic writes leave no temporary files behind.
    assert.deepEqual((await readdir(out)).sort(), ['issues.csv', 'summary.json', 'summary.txt']);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
});

test('runQualityDir refuses bad parameters and a missing directory', async () => {
  await assert.rejects(runQualityDir('/nonexistent/imgsift-dir', '/tmp/x'), /not a directory/);
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-quality-cli-'));
  try {
    await assert.rejects(runQualityDir(dir, join(dir, 'out'), { params: { dark_threshold: 2 } }), /dark_threshold/);
    await assert.rejects(runQualityDir(dir, join(dir, 'out'), { params: { nonsense: 1 } as never }), /nonsense|unrecognized/i);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the quality command parses threshold flags and exits 1 when an image failed, 0 otherwise', async () => {
  const dir = await makeDataset();
  const out = `${dir}-out`;
  const run = async (args: string[]): Promise<number> => {
    const state: CliState = { exitCode: -1 };
    const program = new Command('imgsift').exitOverride();
    registerQuality(program, state);
    program.commands.forEach((c) => c.exitOverride());
    await program.parseAsync(['quality', ...args], { from: 'user' });
    return state.exitCode;
  };
  try {
    assert.equal(await run([dir, '--out', out, '--quiet', '--dark-threshold', '0.01', '--allowed-formats', 'jpg']), 1);
    const rows = parseCsv(await readFile(join(out, 'issues.csv'), 'utf8'));
    const h = rows[0];
    const dark = rows.find((r) => r[0] === 'a_dark.jpg')!;
    assert.equal(dark[h.indexOf('is_dark_issue')], 'False'); // threshold lowered by the flag
    const grey = rows.find((r) => r[0] === 'sub/grey.png')!;
    assert.equal(grey[h.indexOf('is_disallowed_format_issue')], 'True');
    await rm(join(dir, 'broken.jpg'));
    assert.equal(await run([dir, '--out', out, '--quiet']), 0);
    await assert.rejects(run([dir, '--out', out, '--dark-threshold', '7']), /--dark-threshold must be a number from 0 to 1/);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(out, { recursive: true, force: true });
  }
});

test('CSV fields are quoted only when needed', () => {
  assert.equal(csvField('plain.jpg'), 'plain.jpg');
  assert.equal(csvField('a,b.jpg'), '"a,b.jpg"');
  assert.equal(csvField('say "hi".jpg'), '"say ""hi"".jpg"');
  assert.equal(csvField('line\nbreak'), '"line\nbreak"');
});
