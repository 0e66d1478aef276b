import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CsvParser, parseCsv } from '../../src/sources/csv-parser.js';

const fieldsOf = (text: string, d = ',') => parseCsv(text, d).map((r) => r.fields);

test('plain rows, with and without a final line break', () => {
  assert.deepEqual(fieldsOf('a,b,c\n1,2,3\n'), [['a', 'b', 'c'], ['1', '2', '3']]);
  assert.deepEqual(fieldsOf('a,b\n1,2'), [['a', 'b'], ['1', '2']]);
  assert.deepEqual(fieldsOf('a,b,\n,,\n'), [['a', 'b', ''], ['', '', '']]);
});

test('quoted fields: delimiters, doubled quotes, embedded line breaks', () => {
  const rows = parseCsv('id,text\n1,"a, b"\n2,"say ""hi"""\n3,"two\nlines"\n4,""\n');
  assert.deepEqual(rows.map((r) => r.fields), [['id', 'text'], ['1', 'a, b'], ['2', 'say "hi"'], ['3', 'two\nlines'], ['4', '']]);
  // Line numbers are where each record starts; the embedded newline pushes the next record down.
  assert.deepEqual(rows.map((r) => r.line), [1, 2, 3, 4, 6]);
  assert.ok(rows.every((r) => r.error === undefined));
});

test('CRLF and lone CR endings, BOM, blank lines', () => {
  const rows = parseCsv('\uFEFFa,b\r\n1,"x\r\ny"\r\n\r\n2,3\r4,5');
  assert.deepEqual(rows.map((r) => r.fields), [['a', 'b'], ['1', 'x\r\ny'], ['2', '3'], ['4', '5']]);
  assert.deepEqual(rows.map((r) => r.line), [1, 2, 5, 6]);
  assert.equal(rows[0].fields[0], 'a', 'BOM removed from the first header name');
});

test('the same records whatever the chunk boundaries', () => {
  const text = 'id,"te,xt"\r\n1,"a ""b""\nc"\r\n2,plain\n3,"end"';
  const whole = parseCsv(text);
  for (let size = 1; size <= 7; size++) {
    const p = new CsvParser(',');
    const rows = [];
    for (let i = 0; i < text.length; i += size) rows.push(...p.push(text.slice(i, i + size)));
    rows.push(...p.end());
    assert.deepEqual(rows, whole, `chunk size ${size}`);
  }
  assert.deepEqual(whole.map((r) => r.fields), [['id', 'te,xt'], ['1', 'a "b"\nc'], ['2', 'plain'], ['3', 'end']]);
});

test('tab delimiter', () => {
  assert.deepEqual(fieldsOf('a\tb\n"x\ty"\tz\n', '\t'), [['a', 'b'], ['x\ty', 'z']]);
});

test('malformed records carry an error and parsing goes on', () => {
  const rows = parseCsv('a,b\n"x"y,1\n2,3\n"never closed,4\n');
  assert.equal(rows[1].error !== undefined, true);
  assert.match(rows[1].error!, /after the closing quote/);
  assert.deepEqual(rows[2].fields, ['2', '3']);
  assert.equal(rows[2].error, undefined);
  assert.match(rows[3].error!, /never closed/);
  assert.equal(rows[3].line, 4);
});
