import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInside, toPosixRelative } from '../../src/util/paths.js';
import { paramsHash, stableStringify, md5Hex } from '../../src/util/hash.js';
import { writeFileAtomic } from '../../src/util/fs.js';
import { parseTarMemberUri, readUri, tarMemberUri, statUri } from '../../src/util/uri.js';
import { tempDir } from '../helpers/tmp.js';

test('resolveInside refuses paths that escape the root', () => {
  assert.equal(resolveInside('/data', 'a/b.jpg'), '/data/a/b.jpg');
  assert.equal(resolveInside('/data', './a/../b.jpg'), '/data/b.jpg');
  for (const bad of ['../x.jpg', 'a/../../x.jpg', '/etc/passwd', '', 'a\0b', '..', 'C:\\x.jpg', '\\\\server\\x']) {
    assert.equal(resolveInside('/data', bad), null, bad);
  }
  assert.equal(toPosixRelative('/data', '/data/a/b.jpg'), 'a/b.jpg');
});

test('stable hashing ignores key order and undefined values', () => {
  assert.equal(stableStringify({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  assert.equal(paramsHash({ a: 1, b: undefined }), paramsHash({ a: 1 }));
  assert.notEqual(paramsHash({ a: 1 }), paramsHash({ a: 2 }));
  assert.equal(md5Hex('abc'), '900150983cd24fb0d6963f7d28e17f72');
});

test('writeFileAtomic leaves only the final file', async () => {
  const dir = await tempDir();
  const p = join(dir, 'sub', 'f.txt');
  await writeFileAtomic(p, 'hello');
  await writeFileAtomic(p, 'world');
  assert.equal(await readFile(p, 'utf8'), 'world');
  assert.deepEqual(await readdir(join(dir, 'sub')), ['f.txt']);
});

test('tar member locations round-trip and read the right bytes', async () => {
  const dir = await tempDir();
  const p = join(dir, 'blob.bin');
  await writeFileAtomic(p, Buffer.from('0123456789abcdef'));
  const uri = tarMemberUri(p, 4, 6);
  assert.deepEqual(parseTarMemberUri(uri), { tar: p, offset: 4, size: 6 });
  assert.equal((await readUri(uri)).toString(), '456789');
  assert.equal((await statUri(uri)).size, 6);
  await assert.rejects(readUri(tarMemberUri(p, 10, 100)), /truncated/);
  await assert.rejects(readUri('https://example.invalid/x.jpg'), /must be downloaded first/);
  assert.equal(parseTarMemberUri('/plain/path.jpg'), null);
});
