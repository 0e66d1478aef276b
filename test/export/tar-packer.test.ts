import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { photoJpeg } from '../../src/demo/synth.js';
import { StorageError } from '../../src/errors.js';
import { contentHash } from '../../src/export/content-hash.js';
import { tarBuffer } from '../../src/export/tar.js';
import { TarPacker, type MemberInput } from '../../src/export/tar-packer.js';
import { descriptorsOn } from '../helpers/fds.js';
import { tempDir } from '../helpers/tmp.js';

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
const xxh128 = (b: Uint8Array) => contentHash(b);

test('shards packed in two lanes at once (this thread and a worker) are byte for byte the in-memory tar of the same members', async () => {
  const dir = await tempDir('imgsift-packer-');
  const packer = new TarPacker(2);
  try {
    // Photos of several sizes (one larger than the 8 MB batch), text members between them.
    const files: string[] = [];
    for (let i = 0; i < 6; i++) {
      const p = join(dir, `p${i}.jpg`);
      await writeFile(p, await photoJpeg({ seed: i + 1, width: 200 + 40 * i, height: 150, quality: 85 }));
      files.push(p);
    }
    const big = join(dir, 'big.bin');
    await writeFile(big, Buffer.alloc(9 << 20, 0x5a));
    files.push(big);
    const samples = await Promise.all(
      Array.from({ length: 150 }, async (_, i) => {
        const path = files[i % files.length];
        const size = (await readFile(path)).length;
        // The third shard's samples have only a file each (its batches carry no bytes), under a
        // name long enough for the USTAR prefix field.
        if (i % 3 === 2) return { id: `s${i}`, members: [{ name: `${'d'.repeat(120)}/k${i}.jpg`, path, size }] as MemberInput[] };
        const members: MemberInput[] = [
          { name: `k${i}.jpg`, path, size },
          { name: `k${i}.txt`, data: Buffer.from(`caption ${i}`) },
          { name: `k${i}.json`, data: Buffer.from(JSON.stringify({ i })) },
        ];
        // Bytes made here, larger than a batch's inline buffer (256 KB): the sample gets its own.
        if (i % 50 === 7) members.push({ name: `k${i}.png`, data: Buffer.alloc(600 << 10, i) });
        return { id: `s${i}`, members };
      }),
    );
    const bytesOf = async (m: MemberInput) => ('path' in m ? readFile(m.path) : Buffer.from(m.data));
    // Three shards open at once, samples dealt in turn: the first and third go to this thread's
    // lane, the second to the worker, each lane working on interleaved messages.
    const shards = [0, 1, 2].map((n) => ({ file: join(dir, `shard-${n}.tar`), samples: samples.filter((_, i) => i % 3 === n) }));
    // One shard's writeback runs every MB as it is written (writeback.ts): the bytes are the same.
    const open = shards.map((s, n) => packer.open(s.file, null, false, n === 1 ? 1 << 20 : null));
    for (let i = 0; i < samples.length; i++) await open[i % 3].add(samples[i].id, samples[i].members);
    const results = await Promise.all(open.map((p) => p.finish()));
    for (const [n, s] of shards.entries()) {
      const expected = await tarBuffer(
        await Promise.all(s.samples.flatMap((x) => x.members).map(async (m) => ({ name: m.name, data: await bytesOf(m) }))),
      );
      const written = await readFile(s.file);
      assert.ok(written.equals(expected), `shard ${n} equals the reference archive`);
      assert.deepEqual(results[n], { size: expected.length, xxh128: await xxh128(expected), md5: null, nsamples: s.samples.length, skipped: [] });
    }
    // A shard after those reuses a batch buffer one of them wrote through: the same bytes again.
    const again = packer.open(join(dir, 'again.tar'), null);
    for (const x of shards[0].samples) await again.add(x.id, x.members);
    await again.finish();
    assert.ok((await readFile(join(dir, 'again.tar'))).equals(await readFile(shards[0].file)), 'a shard packed through a reused batch');
  } finally {
    await packer.close();
  }
});

for (const [lane, workersOnly] of [['this thread', false], ['a worker', true]] as const) {
  test(`a sample whose file is gone or changed is left out whole and reported; the rest of the shard is intact (${lane})`, async () => {
    const dir = await tempDir('imgsift-packer-');
    const packer = new TarPacker(1, { workersOnly });
    try {
      const good = join(dir, 'good.jpg');
      const gone = join(dir, 'gone.jpg');
      const grown = join(dir, 'grown.jpg');
      const photo = await photoJpeg({ seed: 3, width: 160, height: 120 });
      for (const p of [good, gone, grown]) await writeFile(p, photo);
      const size = photo.length;
      await unlink(gone); // after planning, before packing
      await writeFile(grown, Buffer.concat([photo, Buffer.from('more')]));
      const shard = packer.open(join(dir, 'out.tar'), null, true); // md5 too: both hashes are rolled back
      const sample = (k: string, path: string) => [
        { name: `${k}.txt`, data: Buffer.from(k) },
        { name: `${k}.jpg`, path, size },
      ];
      await shard.add('a', sample('a', good));
      await shard.add('b', sample('b', gone));
      await shard.add('c', sample('c', grown));
      // A sample larger than the packing batch is streamed to the file: a file found shorter than
      // planned midway is cut back out of the shard (and out of its hashes).
      const shrunk = join(dir, 'shrunk.bin');
      await writeFile(shrunk, Buffer.alloc(3 << 20, 1));
      await shard.add('e', [{ name: 'e.txt', data: Buffer.from('e') }, { name: 'e.bin', path: shrunk, size: 4 << 20 }]);
      // Growth is seen without a stat: by the last read getting more than asked, also for an empty
      // file and for one streamed through the batch.
      const wasEmpty = join(dir, 'was-empty.bin');
      await writeFile(wasEmpty, 'x');
      await shard.add('f', [{ name: 'f.bin', path: wasEmpty, size: 0 }]);
      const bigGrown = join(dir, 'big-grown.bin');
      await writeFile(bigGrown, Buffer.alloc((3 << 20) + 1, 2));
      await shard.add('g', [{ name: 'g.txt', data: Buffer.from('g') }, { name: 'g.bin', path: bigGrown, size: 3 << 20 }]);
      await shard.add('d', sample('d', good));
      const r = await shard.finish();
      assert.equal(r.nsamples, 2);
      assert.deepEqual(r.skipped.map((s) => s.id), ['b', 'c', 'e', 'f', 'g']);
      for (const k of [3, 4]) assert.match(r.skipped[k].error, /changed since it was catalogued \(\d+ bytes expected, more found\)/);
      assert.match(r.skipped[0].error, /ENOENT.*gone\.jpg/);
      assert.match(r.skipped[1].error, /grown\.jpg changed since it was catalogued/);
      assert.match(r.skipped[2].error, /shrunk\.bin changed since it was catalogued/);
      const expected = await tarBuffer([...sample('a', good), ...sample('d', good)].map((m) => ({ name: m.name, data: 'data' in m ? m.data! : photo })));
      const written = await readFile(join(dir, 'out.tar'));
      assert.ok(written.equals(expected), 'only a and d, whole');
      assert.equal(r.xxh128, await xxh128(expected));
      assert.equal(r.md5, md5(expected));
      assert.equal(r.size, expected.length);
    } finally {
      await packer.close();
    }
  });

  test(`a shard that cannot be written fails with its path; member names are checked before anything is queued (${lane})`, async () => {
    const dir = await tempDir('imgsift-packer-');
    const packer = new TarPacker(1, { workersOnly });
    try {
      const shard = packer.open(join(dir, 'no-such-folder', 'x.tar'), null);
      await shard.add('a', [{ name: 'a.txt', data: Buffer.from('a') }]);
      await assert.rejects(shard.finish(), /ENOENT.*no-such-folder/);
      // A full disk is a storage error naming the file (/dev/full answers every write with ENOSPC);
      // the shard's writeback (started after its first bytes) lets go of the file too.
      const full = packer.open('/dev/full', null, false, 1);
      await full.add('a', [{ name: 'a.txt', data: Buffer.from('a') }]);
      await assert.rejects(full.finish(), (err: unknown) => err instanceof StorageError && err.code === 'ENOSPC' && err.path === '/dev/full');
      assert.equal(descriptorsOn('/dev/full'), 0);
      const ok = packer.open(join(dir, 'ok.tar'), null);
      assert.throws(() => ok.add('x', [{ name: 'x'.repeat(300), data: Buffer.from('x') }]), /USTAR allows at most 255/);
      assert.throws(() => ok.add('y', [{ name: 'y.bin', path: join(dir, 'y.bin'), size: 8 ** 11 }]), /is 8589934592 bytes; USTAR allows at most 8589934591/);
      assert.equal((await ok.finish()).nsamples, 0);
    } finally {
      await packer.close();
    }
  });
}
