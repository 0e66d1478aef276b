import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { WorkerPool } from '../../src/exec/pool.js';
import { paramsHash, sha256Hex } from '../../src/util/hash.js';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';
import { readFile } from 'node:fs/promises';

const probe = { name: 'probe', params: { max_pixels: 100_000_000 }, paramsHash: paramsHash('p') };

test('the pool runs tasks on all workers, bounded, with results per sample', async () => {
  const dir = await tempDir();
  const names = await writePhotos(dir, 12);
  const pool = new WorkerPool({ workers: 2 });
  try {
    // One submitter, as in the map phase: wait for room, then submit.
    const running = [];
    for (const n of names) {
      await pool.waitForRoom(4);
      assert.ok(pool.pending < 4, 'back-pressure keeps the queue bounded');
      running.push(pool.run({ sampleId: n, uri: join(dir, n), name: n, steps: [probe], upstream: {} }));
    }
    const results = await Promise.all(running);
    for (const [i, r] of results.entries()) {
      assert.equal(r.sampleId, names[i]);
      assert.equal(r.sha256, sha256Hex(await readFile(join(dir, names[i]))));
      assert.equal(r.outcomes[0].ok, true);
    }
  } finally {
    await pool.close();
  }
});

test('a missing file and an unknown step give reasons, not exceptions', async () => {
  const pool = new WorkerPool({ workers: 1 });
  try {
    const missing = await pool.run({ sampleId: 'm', uri: '/nonexistent/x.jpg', name: 'x.jpg', steps: [probe], upstream: {} });
    assert.equal(missing.fileError, 'file not found');
    const dir = await tempDir();
    const [n] = await writePhotos(dir, 1);
    const r = await pool.run({ sampleId: 'u', uri: join(dir, n), name: n, steps: [{ name: 'nope', params: {}, paramsHash: 'x' }, probe], upstream: {} });
    assert.equal(r.outcomes[0].ok, false);
    assert.match(r.outcomes[0].error!, /unknown step nope/);
    assert.equal(r.outcomes[1].ok, true, 'later steps still run');
  } finally {
    await pool.close();
  }
});

test('a task that hangs past the timeout fails transiently and the worker is replaced', async () => {
  const dir = await tempDir();
  const [n] = await writePhotos(dir, 1, { size: [2000, 1500] });
  const pool = new WorkerPool({ workers: 1, taskTimeoutMs: 1 });
  try {
    const r = await pool.run({ sampleId: 't', uri: join(dir, n), name: n, steps: [probe], upstream: {} });
    assert.equal(r.outcomes[0].ok, false);
    assert.equal(r.outcomes[0].transient, true);
    assert.match(r.outcomes[0].error!, /timed out/);
  } finally {
    await pool.close();
  }
  // The replacement worker works.
  const ok = new WorkerPool({ workers: 1 });
  try {
    const r = await ok.run({ sampleId: 't', uri: join(dir, n), name: n, steps: [probe], upstream: {} });
    assert.equal(r.outcomes[0].ok, true);
  } finally {
    await ok.close();
  }
});

test('a group runs together; when its worker hangs, its tasks are retried one by one so only the culprit fails', async () => {
  const dir = await tempDir();
  const names = await writePhotos(dir, 3, { size: [2000, 1500] });
  const tasks = names.map((n) => ({ sampleId: n, uri: join(dir, n), name: n, steps: [probe], upstream: {} }));
  const ok = new WorkerPool({ workers: 1 });
  try {
    const results = await ok.runGroup(tasks);
    assert.deepEqual(results.map((r) => [r.sampleId, r.outcomes[0].ok]), names.map((n) => [n, true]));
  } finally {
    await ok.close();
  }
  // Every task exceeds a 1 ms budget: the group (3 ms) times out, then each task alone (1 ms).
  const slow = new WorkerPool({ workers: 1, taskTimeoutMs: 1 });
  try {
    const results = await slow.runGroup(tasks);
    assert.equal(results.length, 3);
    for (const r of results) {
      assert.equal(r.outcomes[0].transient, true);
      assert.match(r.outcomes[0].error!, /timed out after 1 ms/, 'failed on its own, not with the group');
    }
  } finally {
    await slow.close();
  }
});
