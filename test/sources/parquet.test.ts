import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { InputError } from '../../src/errors.js';
import { ParquetSource } from '../../src/sources/parquet.js';
import { collect, tempDir } from './helpers.js';

/** Write a real Parquet file with DuckDB (small row groups, so the reader crosses several). */
async function writeParquet(file: string, selectSql: string): Promise<void> {
  const db = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
  const conn = await db.connect();
  try {
    await conn.run(`COPY (${selectSql}) TO '${file.replace(/'/g, "''")}' (FORMAT parquet, ROW_GROUP_SIZE 1000)`);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

test('parquet: rows in file order across row groups, typed meta, bad rows by row number', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "m'x.parquet");
  await writeParquet(
    file,
    `SELECT i::BIGINT AS id,
            CASE WHEN i = 7 THEN '../escape.jpg' WHEN i = 8 THEN NULL ELSE 'img/' || i || '.jpg' END AS file_name,
            'caption ' || i AS caption,
            (i % 3)::INTEGER AS label,
            i * 0.5 AS score,
            [i, i + 1] AS tags
     FROM range(5000) t(i)`,
  );
  const src = new ParquetSource({ path: file, fields: { image: 'file_name', text: 'caption' }, allowAbsolutePaths: false });
  const { records, bad } = await collect(src);
  assert.equal(records.length, 4998);
  assert.deepEqual(records.slice(0, 3).map((r) => r.id), ['0', '1', '2']);
  const ids = records.map((r) => Number(r.id));
  assert.ok(ids.every((v, i) => i === 0 || v > ids[i - 1]), 'file order kept');
  assert.equal(records[0].files.image, join(dir, 'img/0.jpg'));
  assert.equal(records[0].text, 'caption 0');
  assert.equal(records[4].label, '1');
  assert.deepEqual(records[4].meta, { score: 2, tags: [4, 5] });
  assert.equal(records[0].ref, `${file}:1`);
  assert.deepEqual(bad.map((e) => [e.location.line, e.location.field]), [[8, 'file_name'], [9, 'file_name']]);
  assert.match(bad[0].message, /escapes the dataset root/);

  const few = await collect(src, { maxRecords: 10 });
  assert.equal(few.records.length, 10);
});

test('parquet: a mapped column missing from the schema fails before any row', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'm.parquet');
  await writeParquet(file, `SELECT 'a.jpg' AS image, 'x' AS text`);
  const src = new ParquetSource({ path: file, fields: { label: 'class' }, allowAbsolutePaths: false });
  await assert.rejects(
    () => collect(src),
    (err: unknown) =>
      err instanceof InputError &&
      err.location.field === 'source.fields.label' &&
      /column 'class', which the schema does not have; columns: 'image', 'text'/.test(err.message),
  );
});

test('parquet: embedded image bytes are refused with a reason; a non-Parquet file is a clear error', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'hf.parquet');
  await writeParquet(file, `SELECT {'bytes': '\\xFF\\xD8'::BLOB, 'path': 'a.jpg'} AS image, 'x' AS text UNION ALL SELECT {'bytes': NULL, 'path': 'b.jpg'}, 'y'`);
  const { records, bad } = await collect(new ParquetSource({ path: file, fields: {}, allowAbsolutePaths: false }));
  assert.deepEqual(records.map((r) => r.path), ['b.jpg']);
  assert.equal(bad.length, 1);
  assert.match(bad[0].message, /embedded image bytes/);

  const junk = join(dir, 'junk.parquet');
  await writeFile(junk, 'this is not parquet');
  await assert.rejects(() => collect(new ParquetSource({ path: junk, fields: {}, allowAbsolutePaths: false })), /junk\.parquet: cannot read as Parquet/);
});
