import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { InputError } from '../../src/errors.js';
import { photoJpeg } from '../../src/demo/synth.js';
import { CsvSource } from '../../src/sources/csv.js';
import { JsonlSource } from '../../src/sources/jsonl.js';
import { collect, tempDir } from './helpers.js';

async function dataset(dir: string): Promise<void> {
  await mkdir(join(dir, 'img'), { recursive: true });
  for (let i = 0; i < 3; i++) await writeFile(join(dir, 'img', `${i}.jpg`), await photoJpeg({ seed: i, width: 64, height: 48 }));
}

test('jsonl: fields mapped, other columns kept as meta, URLs kept, ids derived when absent', async (t) => {
  const dir = await tempDir(t);
  await dataset(dir);
  const lines = [
    { file_name: 'img/0.jpg', caption: 'a hill', cls: 3, pair: 'p1', extra: { k: 1 } },
    { file_name: 'img/1.jpg', caption: 'a sun', cls: 'dog', pair: 'p1' },
    { file_name: 'https://example.com/x.jpg', caption: 'remote', out: 'https://example.com/y.jpg' },
  ];
  const file = join(dir, 'm.jsonl');
  await writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const src = new JsonlSource({
    path: file,
    fields: { image: 'file_name', text: 'caption', label: 'cls', group: 'pair' },
    allowAbsolutePaths: false,
  });
  const { records, bad } = await collect(src);
  assert.deepEqual(bad, []);
  assert.equal(records.length, 3);
  assert.deepEqual(records[0], {
    id: 'img/0.jpg',
    path: 'img/0.jpg',
    files: { image: join(dir, 'img/0.jpg') },
    text: 'a hill',
    label: '3',
    group: 'p1',
    meta: { extra: { k: 1 } },
    ref: `${file}:1`,
  });
  assert.equal(records[2].files.image, 'https://example.com/x.jpg');
  assert.equal(records[2].id, 'https://example.com/x.jpg');
  assert.equal(records[2].path, undefined);
  assert.deepEqual(records[2].meta, { out: 'https://example.com/y.jpg' });
});

test('jsonl: malformed lines and refused paths are reported with file and line; the read goes on', async (t) => {
  const dir = await tempDir(t);
  await dataset(dir);
  const file = join(dir, 'm.jsonl');
  await writeFile(
    file,
    [
      '{"id":"a","image":"img/0.jpg"}',
      '{"id":"b","image":',            // 2: bad JSON
      '[1,2]',                          // 3: not an object
      '',                               // 4: blank, skipped silently
      '{"id":"c","image":"../x.jpg"}',  // 5: escapes
      '{"id":"d","image":"/etc/passwd"}', // 6: absolute
      '{"id":"e"}',                     // 7: no image
      '{"id":"f","image":"img/1.jpg","output":"img/2.jpg"}',
      '{"id":"g","image":"ftp://h/x.jpg"}', // 9: unsupported scheme
      '{"id":"h","image":"img/./sub/../2.jpg"}',
    ].join('\r\n'),
  );
  const src = new JsonlSource({ path: file, fields: {}, allowAbsolutePaths: false });
  const { records, bad } = await collect(src);
  assert.deepEqual(records.map((r) => r.id), ['a', 'f', 'h']);
  assert.deepEqual(records[1].meta, { output: 'img/2.jpg' });
  assert.equal(records[2].path, 'img/2.jpg');
  assert.deepEqual(bad.map((e) => e.location.line), [2, 3, 5, 6, 7, 9]);
  assert.ok(bad.every((e) => e instanceof InputError && e.location.file === file));
  assert.match(bad[0].message, /m\.jsonl:2: expected one JSON object per line/);
  assert.match(bad[1].message, /expected a JSON object, found an array/);
  assert.match(bad[2].message, /'\.\.\/x\.jpg' escapes the dataset root/);
  assert.equal(bad[2].location.field, 'image');
  assert.match(bad[3].message, /absolute path '\/etc\/passwd' escapes the dataset root/);
  assert.match(bad[4].message, /missing/);
  assert.match(bad[5].message, /unsupported location/);
});

test('jsonl: absolute paths accepted only when allowed; root option; extra file roles', async (t) => {
  const dir = await tempDir(t);
  await dataset(dir);
  const abs = join(dir, 'img', '0.jpg');
  const file = join(dir, 'm.jsonl');
  await writeFile(file, JSON.stringify({ id: 'x', image: abs, edited: '1.jpg' }) + '\n');
  const fields = { files: { output: 'edited' } };
  const strict = await collect(new JsonlSource({ path: file, fields, root: join(dir, 'img'), allowAbsolutePaths: false }));
  assert.equal(strict.records.length, 0);
  assert.equal(strict.bad.length, 1);
  const loose = await collect(new JsonlSource({ path: file, fields, root: join(dir, 'img'), allowAbsolutePaths: true }));
  assert.deepEqual(loose.bad, []);
  assert.deepEqual(loose.records[0].files, { image: abs, output: join(dir, 'img', '1.jpg') });
  assert.equal(loose.records[0].path, '0.jpg');
});

test('jsonl: a mapping that matches no column fails early, naming the columns', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'm.jsonl');
  await writeFile(file, '{"image":"a.jpg","text":"x"}\n{"image":"b.jpg","text":"y"}\n');
  const src = new JsonlSource({ path: file, fields: { text: 'caption' }, allowAbsolutePaths: false });
  const seen: string[] = [];
  await assert.rejects(
    async () => {
      for await (const r of src.read({ onBadRow: () => {} })) seen.push(r.id);
    },
    (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.equal(err.location.file, file);
      assert.equal(err.location.field, 'source.fields.text');
      assert.match(err.message, /column 'caption'.*columns: 'image', 'text'/);
      return true;
    },
  );
  assert.deepEqual(seen, [], 'nothing yielded before the mapping is known good');
});

test('jsonl: maxRecords honoured, gzip read, folder of manifests read in name order', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'parts'));
  const rows = (from: number) => Array.from({ length: 150 }, (_, i) => JSON.stringify({ image: `i${from + i}.jpg` })).join('\n');
  await writeFile(join(dir, 'parts', 'b.jsonl'), rows(150));
  await writeFile(join(dir, 'parts', 'a.jsonl.gz'), gzipSync(rows(0)));
  await writeFile(join(dir, 'parts', 'notes.txt'), 'not a manifest');
  const src = new JsonlSource({ path: join(dir, 'parts'), fields: {}, allowAbsolutePaths: false });
  const all = await collect(src);
  assert.equal(all.records.length, 300);
  assert.deepEqual(all.records.map((r) => r.id), Array.from({ length: 300 }, (_, i) => `i${i}.jpg`));
  const some = await collect(src, { maxRecords: 120 });
  assert.equal(some.records.length, 120);
  assert.equal(some.records[119].id, 'i119.jpg');
  assert.equal((await collect(src, { maxRecords: 0 })).records.length, 0);
});

test('csv: quoted captions, wrong column counts, header mapping checked up front', async (t) => {
  const dir = await tempDir(t);
  await dataset(dir);
  const file = join(dir, 'm.csv');
  await writeFile(
    file,
    '\uFEFFid,file_name,caption,score\r\n' +
      'a,img/0.jpg,"a hill, at dusk",0.9\r\n' +
      'b,img/1.jpg,"two\nlines ""quoted""",0.5\r\n' +
      'c,img/2.jpg,too,many,fields\r\n' +
      'd,../../etc/x.jpg,escape,1\r\n' +
      'e,img/2.jpg,,0.1\r\n',
  );
  const src = new CsvSource({ path: file, fields: { image: 'file_name', text: 'caption' }, allowAbsolutePaths: false, delimiter: ',' });
  const { records, bad } = await collect(src);
  assert.deepEqual(records.map((r) => r.id), ['a', 'b', 'e']);
  assert.equal(records[0].text, 'a hill, at dusk');
  assert.equal(records[1].text, 'two\nlines "quoted"');
  assert.equal(records[2].text, undefined, 'empty cell is no text');
  assert.deepEqual(records[0].meta, { score: '0.9' });
  assert.equal(records[1].ref, `${file}:3`);
  assert.deepEqual(bad.map((e) => e.location.line), [5, 6]);
  assert.match(bad[0].message, /expected 4 fields as in the header, found 5/);
  assert.match(bad[1].message, /escapes the dataset root/);

  const wrong = new CsvSource({ path: file, fields: { image: 'path' }, allowAbsolutePaths: false, delimiter: ',' });
  await assert.rejects(() => collect(wrong), /m\.csv \(field 'source\.fields\.image'\): mapped to column 'path', which the header does not have; columns: 'id', 'file_name', 'caption', 'score'/);
});

test('csv: tab-separated, and a missing file is a clear error', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'm.tsv');
  await writeFile(file, 'image\tlabel\nx.jpg\tcat\ny.jpg\tdog\n');
  const { records } = await collect(new CsvSource({ path: file, fields: {}, allowAbsolutePaths: false, delimiter: '\t' }));
  assert.deepEqual(records.map((r) => [r.id, r.label]), [['x.jpg', 'cat'], ['y.jpg', 'dog']]);
  await assert.rejects(
    () => collect(new CsvSource({ path: join(dir, 'nope.csv'), fields: {}, allowAbsolutePaths: false, delimiter: ',' })),
    /nope\.csv: source path does not exist/,
  );
});

test('an aborted signal stops the read', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'm.jsonl');
  await writeFile(file, Array.from({ length: 500 }, (_, i) => JSON.stringify({ image: `${i}.jpg` })).join('\n'));
  const controller = new AbortController();
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const r of new JsonlSource({ path: file, fields: {}, allowAbsolutePaths: false }).read({ onBadRow: () => {}, signal: controller.signal })) {
      seen.push(r.id);
      if (seen.length === 3) controller.abort();
    }
  }, /abort/i);
  assert.equal(seen.length, 3);
});
