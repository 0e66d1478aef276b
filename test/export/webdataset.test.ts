import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { extract } from 'tar-stream';
import { WebDatasetOptions, webdatasetExporter, sampleKeys } from '../../src/export/webdataset.js';
import { buildCatalog } from '../helpers/export-catalog.js';

interface Entry {
  name: string;
  data: Buffer;
}

async function readTar(path: string): Promise<Entry[]> {
  const ex = extract();
  createReadStream(path).pipe(ex as unknown as NodeJS.WritableStream);
  const out: Entry[] = [];
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({ name: entry.header.name, data: Buffer.concat(chunks) });
  }
  return out;
}

/** The webdataset grouping rule: key = member name up to the first dot of its basename. */
function keyOf(name: string): { key: string; ext: string } {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.indexOf('.');
  return { key: base.slice(0, dot), ext: base.slice(dot + 1) };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
  }
  return out.sort();
}

const hashFile = async (p: string, alg: string) => createHash(alg).update(await readFile(p)).digest('hex');

test('shards group each sample consecutively, never split it, and read back with tar and tar-stream', async () => {
  const { ctx, images, ids } = await buildCatalog();
  try {
    const out = join(ctx.workdir, 'wds');
    const opts = WebDatasetOptions.parse({ to: out, samples_per_shard: 7 });
    const stats = await webdatasetExporter.run(ctx, opts);
    assert.equal(stats['samples skipped'], 1);
    const keys = sampleKeys(ids.filter((id) => id !== 'missing-file').sort());
    const idByKey = new Map([...keys].map(([id, k]) => [k, id]));
    assert.equal(idByKey.size, 46, 'keys are unique');

    const seenKeys = new Set<string>();
    for (const split of ['train', 'dev', 'test']) {
      const index = JSON.parse(await readFile(join(out, `${split}.index.json`), 'utf8'));
      assert.equal(index.__kind__, 'wids-shard-index-v1');
      assert.equal(index.wids_version, 1);
      assert.deepEqual(index.classes, ['bird', 'cat', 'dog']);
      const expected = ids.filter((id, i) => ['train', 'train', 'train', 'dev', 'test'][i % 5] === split && id !== 'missing-file');
      assert.equal(stats[`samples ${split}`], expected.length);
      assert.equal(stats[`shards ${split}`], Math.ceil(expected.length / 7));
      assert.equal(index.shardlist.length, Math.ceil(expected.length / 7));
      const keysInOrder: string[] = [];
      for (const [n, shard] of index.shardlist.entries()) {
        const path = join(out, shard.url);
        assert.equal(shard.url, `${split}/shard-${String(n).padStart(6, '0')}.tar`);
        assert.equal(shard.filesize, (await stat(path)).size);
        assert.equal(shard.xxh128, execFileSync('xxh128sum', [path], { encoding: 'utf8' }).split(' ')[0], 'xxh128sum agrees');
        assert.equal(shard.md5sum, undefined, 'no md5 unless index_md5');
        // GNU tar agrees on the member list and sees fixed owners, modes and times.
        const listing = execFileSync('tar', ['--numeric-owner', '-tvf', path], { encoding: 'utf8' }).trim().split('\n');
        const entries = await readTar(path);
        assert.equal(listing.length, entries.length);
        for (const [i, line] of listing.entries()) {
          assert.match(line, /^-rw-r--r-- 0\/0 /);
          assert.match(line, /1970-01-01/);
          assert.ok(line.endsWith(` ${entries[i].name}`), line);
        }
        // Group by key: each key's members are consecutive and the key appears in one shard only.
        const shardKeys: string[] = [];
        for (const e of entries) {
          const { key } = keyOf(e.name);
          if (shardKeys[shardKeys.length - 1] !== key) {
            assert.ok(!shardKeys.includes(key), `sample ${key} is not consecutive in ${shard.url}`);
            assert.ok(!seenKeys.has(key), `sample ${key} appears in two shards`);
            shardKeys.push(key);
          }
        }
        for (const k of shardKeys) seenKeys.add(k);
        assert.equal(shardKeys.length, shard.nsamples);
        assert.equal(shard.nsamples, n < index.shardlist.length - 1 ? 7 : expected.length - 7 * n);
        keysInOrder.push(...shardKeys);
        for (const e of entries) {
          const { key, ext } = keyOf(e.name);
          const id = idByKey.get(key)!;
          if (ext === 'jpg' || ext === 'png') {
            assert.ok(e.data.equals(images.get(id)!), `${e.name} is the original bytes`);
            assert.equal(ext, images.get(id)![0] === 0x89 ? 'png' : 'jpg', `${e.name} extension follows the format`);
          } else if (ext === 'json') {
            const rec = JSON.parse(e.data.toString());
            assert.equal(rec.id, id);
            assert.equal(rec.key, key);
            assert.equal(rec.split, split);
            assert.equal(rec.meta.edit, 'add');
          } else if (ext === 'cls') {
            const label = ['cat', 'dog', 'bird'][ids.indexOf(id) % 3];
            assert.equal(e.data.toString(), String(['bird', 'cat', 'dog'].indexOf(label)));
          } else if (ext === 'txt') {
            assert.equal(e.data.toString(), `caption ${ids.indexOf(id)}`);
          } else {
            assert.fail(`unexpected member ${e.name}`);
          }
        }
        // Members of a sample follow the `fields` order.
        for (const k of shardKeys) {
          const exts = entries.filter((e) => keyOf(e.name).key === k).map((e) => keyOf(e.name).ext);
          const order = ['jpg', 'png', 'txt', 'json', 'cls'];
          assert.deepEqual(exts, [...exts].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
        }
      }
      // Samples within a split are ordered by id.
      const idsInOrder = keysInOrder.map((k) => idByKey.get(k)!);
      assert.deepEqual(idsInOrder, [...expected].sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b)))));
    }
    assert.equal(seenKeys.size, 46);
  } finally {
    ctx.catalog.close();
  }
});

test('a second export is byte-identical, and a rerun leaves unchanged shards untouched', async () => {
  const { ctx } = await buildCatalog();
  try {
    const a = join(ctx.workdir, 'a');
    const b = join(ctx.workdir, 'b');
    const first = await webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: a, samples_per_shard: 5 }));
    // index_md5 adds each shard's md5 to the index (as widsindex writes it) and changes nothing else.
    await webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: b, samples_per_shard: 5, index_md5: true }));
    const filesA = await listFiles(a);
    assert.deepEqual(filesA, await listFiles(b));
    assert.ok(filesA.length > 5);
    for (const f of filesA.filter((f) => f.endsWith('.tar'))) {
      assert.ok((await readFile(join(a, f))).equals(await readFile(join(b, f))), `${f} differs`);
    }
    for (const f of filesA.filter((f) => f.endsWith('.index.json'))) {
      const [ia, ib] = await Promise.all([a, b].map(async (d) => JSON.parse(await readFile(join(d, f), 'utf8'))));
      assert.ok(ib.shardlist.length > 0);
      for (const [i, shard] of ib.shardlist.entries()) {
        assert.equal(shard.md5sum, await hashFile(join(b, shard.url), 'md5'));
        assert.deepEqual({ ...shard, md5sum: undefined }, { ...ia.shardlist[i], md5sum: undefined });
      }
      assert.deepEqual({ ...ib, shardlist: [] }, { ...ia, shardlist: [] });
    }
    assert.ok((first['bytes written'] as number) > 0);

    // Without syncing (sync: false) the same files; a shard cut short (as a power loss can leave an
    // unsynced one) is found by the next export and rewritten.
    const c = join(ctx.workdir, 'c');
    await webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: c, samples_per_shard: 5, sync: false }));
    assert.deepEqual(await listFiles(c), filesA);
    const cut = join(c, 'train', 'shard-000000.tar');
    await writeFile(cut, (await readFile(cut)).subarray(0, 1024));
    const repaired = await webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: c, samples_per_shard: 5, sync: false }));
    assert.equal(repaired['shards unchanged'], filesA.filter((f) => f.endsWith('.tar')).length - 1);
    for (const f of filesA) assert.ok((await readFile(join(c, f))).equals(await readFile(join(a, f))), `${f} as the synced export's`);

    const shard = join(a, 'train', 'shard-000000.tar');
    const before = (await stat(shard)).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    const again = await webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: a, samples_per_shard: 5 }));
    assert.equal(again['bytes written'], 0);
    assert.equal(again['shards unchanged'], first['shards train'] as number + (first['shards dev'] as number) + (first['shards test'] as number));
    assert.equal((await stat(shard)).mtimeMs, before);
    assert.deepEqual(await listFiles(a), filesA, 'no temporary files are left behind');

    // Fewer, larger shards: the stale ones the old index listed are removed.
    const bigger = await webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: a, samples_per_shard: 100 }));
    assert.equal(bigger['shards train'], 1);
    assert.deepEqual((await readdir(join(a, 'train'))).sort(), ['shard-000000.tar']);
  } finally {
    ctx.catalog.close();
  }
});

test('--dev extracts each shard into dev_extracted/<split>/shard-NNNNNN/<key>.<ext>', async () => {
  const { ctx } = await buildCatalog();
  try {
    const out = join(ctx.workdir, 'dev');
    await webdatasetExporter.run({ ...ctx, dev: true }, WebDatasetOptions.parse({ to: out, samples_per_shard: 10 }));
    const index = JSON.parse(await readFile(join(out, 'train.index.json'), 'utf8'));
    for (const [n, shard] of index.shardlist.entries()) {
      const dir = join(out, 'dev_extracted', 'train', `shard-${String(n).padStart(6, '0')}`);
      const entries = await readTar(join(out, shard.url));
      assert.deepEqual((await readdir(dir)).sort(), entries.map((e) => e.name).sort());
      for (const e of entries) assert.ok((await readFile(join(dir, e.name))).equals(e.data));
    }
    assert.ok((await readdir(join(out, 'dev_extracted'))).sort().join() === 'dev,test,train');
    assert.ok((await readdir(join(out, 'dev_extracted', 'train'))).length > 1);
    // A rerun with one shard per split leaves only shard-000000 extracted.
    await webdatasetExporter.run({ ...ctx, dev: true }, WebDatasetOptions.parse({ to: out, samples_per_shard: 1000 }));
    assert.deepEqual(await readdir(join(out, 'dev_extracted', 'train')), ['shard-000000']);
    assert.equal((await readdir(join(out, 'dev_extracted', 'train', 'shard-000000'))).filter((n) => n.endsWith('.json')).length, 28);
  } finally {
    ctx.catalog.close();
  }
});

test('custom fields, re-encoding and max_shard_bytes', async () => {
  const { ctx } = await buildCatalog();
  try {
    const out = join(ctx.workdir, 'custom');
    const stats = await webdatasetExporter.run(
      ctx,
      WebDatasetOptions.parse({
        to: out,
        samples_per_shard: 1000,
        max_shard_bytes: 40_000,
        fields: { 'input.jpg': 'image', 'mask.png': 'mask', 'edit.txt': 'meta.edit', 'label.txt': 'label' },
        reencode: { format: 'webp', quality: 80 },
      }),
    );
    assert.equal(stats['files re-encoded'], 46);
    const index = JSON.parse(await readFile(join(out, 'train.index.json'), 'utf8'));
    assert.ok(index.shardlist.length > 1, 'max_shard_bytes split the train split');
    let masks = 0;
    for (const shard of index.shardlist) {
      assert.ok(shard.filesize <= 40_000, `${shard.url} is ${shard.filesize} bytes`);
      for (const e of await readTar(join(out, shard.url))) {
        const { ext } = keyOf(e.name);
        if (ext === 'input.webp') assert.equal((await sharp(e.data).metadata()).format, 'webp');
        else if (ext === 'mask.png') masks++;
        else if (ext === 'edit.txt') assert.equal(e.data.toString(), 'add');
        else if (ext === 'label.txt') assert.ok(['cat', 'dog', 'bird'].includes(e.data.toString()));
        else assert.fail(`unexpected member ${e.name}`);
      }
    }
    assert.ok(masks > 0);
  } finally {
    ctx.catalog.close();
  }
});

test('bad destinations and options are rejected with precise messages', async () => {
  const { ctx } = await buildCatalog();
  try {
    await assert.rejects(
      webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: 'gs://bucket/wds' })),
      /export destination gs:\/\/bucket\/wds: only local folders and s3:\/\/bucket\/prefix are supported/,
    );
    await assert.rejects(
      webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: 's3://Bad_Bucket/wds' })),
      /'Bad_Bucket' is not a valid bucket name/,
    );
    await assert.rejects(
      webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: 'out', fields: { jpg: 'picture' } })),
      /fields\.jpg: 'picture' is neither a sample field .* nor a file role of these samples \(image, mask\)/,
    );
    await assert.rejects(
      webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: 'out2', fields: { jpg: 'image', png: 'mask' } })),
      /two fields both produce member '.*\.png'/,
    );
    const bad = (o: unknown) => {
      const r = WebDatasetOptions.safeParse(o);
      assert.equal(r.success, false);
      return r.error!.issues.map((i) => i.message).join('\n');
    };
    assert.match(bad({ to: 'x', pattern: 'shard-{shard:06d}.tar' }), /must contain \{split\}/);
    assert.match(bad({ to: 'x', pattern: '{split}/{part}.tar' }), /may only use \{split\}, \{shard\}/);
    assert.match(bad({ to: 'x', pattern: '{split}/{shard}.zip' }), /must end in \.tar/);
    assert.match(bad({ to: 'x', fields: { 'a/b': 'image' } }), /member extension 'a\/b'/);
    assert.match(bad({ to: 'x', reencode: { format: 'gif' } }), /jpeg|png|webp/);
  } finally {
    ctx.catalog.close();
  }
});

test('sampleKeys: no dots or slashes, unique, collisions get an id hash', () => {
  const keys = sampleKeys(['a/b.jpg', 'a_b_jpg', 'plain', 'x'.repeat(200)]);
  assert.equal(keys.get('plain'), 'plain');
  assert.match(keys.get('a/b.jpg')!, /^a_b_jpg_[0-9a-f]{8}$/);
  assert.match(keys.get('a_b_jpg')!, /^a_b_jpg_[0-9a-f]{8}$/);
  assert.notEqual(keys.get('a/b.jpg'), keys.get('a_b_jpg'));
  assert.equal(keys.get('x'.repeat(200))!.length, 80);
  for (const k of keys.values()) assert.match(k, /^[A-Za-z0-9_-]+$/);
});

test('exported keys are the keys sampleKeys gives, in export order: shared forms, code points, ids that look suffixed', async () => {
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  const ids = [
    'a/b', 'a_b', // one sanitized form: both suffixed
    `a_b_${md5('a/b').slice(0, 8)}`, // looks like a/b's suffixed key: one of the two becomes k_<md5>
    'café/🐱.jpg', 'caf____jpg', // é, '/', the cat and '.' are one code point each: one '_' each, so these two meet
    'x'.repeat(200), 'plain',
  ];
  const { ctx } = await buildCatalog(ids);
  try {
    const out = join(ctx.workdir, 'wds');
    await webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: out, fields: { jpg: 'image', json: 'meta' } }));
    const exported = new Map<string, string>();
    for (const f of await listFiles(out)) {
      if (!f.endsWith('.tar')) continue;
      for (const e of await readTar(join(out, f))) {
        if (e.name.endsWith('.json')) exported.set(JSON.parse(e.data.toString()).id, keyOf(e.name).key);
      }
    }
    // The export's order: split, then id by bytes (the helper deals splits as train, train, train, dev, test).
    const splits = ['train', 'train', 'train', 'dev', 'test'];
    const bytes = (s: string) => Buffer.from(s);
    const order = ids.map((id, i) => ({ id, split: splits[i % 5] }))
      .sort((p, q) => Buffer.compare(bytes(p.split), bytes(q.split)) || Buffer.compare(bytes(p.id), bytes(q.id)));
    const expected = sampleKeys(order.map((o) => o.id));
    assert.deepEqual(new Map([...exported].sort()), new Map([...expected].sort()));
    assert.equal(new Set(exported.values()).size, ids.length, 'unique');
    assert.ok([...exported.values()].some((k) => /^k_[0-9a-f]{32}$/.test(k)), 'the look-alike met a suffixed key');
    assert.match(exported.get('café/🐱.jpg')!, /^caf____jpg_[0-9a-f]{8}$/);
    assert.match(exported.get('caf____jpg')!, /^caf____jpg_[0-9a-f]{8}$/);
  } finally {
    ctx.catalog.close();
  }
});
