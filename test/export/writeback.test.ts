import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writeback } from '../../src/export/writeback.js';
import { descriptorsOn } from '../helpers/fds.js';
import { tempDir } from '../helpers/tmp.js';

test('writeback syncs a growing file every so many bytes through its own descriptor, and lets go of it', async () => {
  const dir = await tempDir('imgsift-writeback-');
  try {
    const file = join(dir, 'shard.tar');
    await writeFile(file, '');
    const wb = new Writeback(file, 1 << 20);
    wb.wrote(100); // under the threshold: nothing opened
    assert.equal(descriptorsOn(file), 0);
    let seen = 0;
    for (let i = 0; i < 8; i++) {
      const chunk = Buffer.alloc(512 << 10, i);
      await appendFile(file, chunk);
      wb.wrote(chunk.length);
      await new Promise((r) => setTimeout(r, 5));
      seen = Math.max(seen, descriptorsOn(file));
    }
    assert.equal(seen, 1, 'one descriptor of its own, opened once the first MB was written');
    await wb.close();
    assert.equal(descriptorsOn(file), 0, 'its descriptor is closed');
    wb.wrote(8 << 20); // after close: ignored (an ack that arrives late opens nothing)
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(descriptorsOn(file), 0);
    await wb.close(); // twice is harmless
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a writeback starts again as soon as one ends when enough more was written meanwhile', async () => {
  const dir = await tempDir('imgsift-writeback-');
  try {
    const file = join(dir, 'shard.tar');
    await writeFile(file, Buffer.alloc(1 << 20, 1));
    const wb = new Writeback(file, 1 << 20);
    wb.wrote(1 << 20); // the first starts
    await appendFile(file, Buffer.alloc(2 << 20, 2));
    wb.wrote(2 << 20); // while it runs: the next waits for it, then starts with nothing more said
    for (let i = 0; i < 500 && wb.done < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(wb.done, 2);
    wb.wrote((1 << 20) - 1); // under the minimum: none
    await wb.close();
    assert.equal(wb.done, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a writeback that fails fails the file at close (a later sync might not see the error)', async () => {
  const dir = await tempDir('imgsift-writeback-');
  try {
    const wb = new Writeback(join(dir, 'gone.tar'), 1024);
    wb.wrote(4096);
    await assert.rejects(wb.close(), /ENOENT.*gone\.tar/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
