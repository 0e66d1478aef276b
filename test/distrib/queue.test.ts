import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';
import { distribRecipe, filesOf, start } from './fixture.js';
import { startRedis } from '../helpers/redis-server.js';
import { QUEUES_KEY, maskRedisUrl, parseRedisUrl } from '../../src/distrib/redis.js';
import { checkJobData } from '../../src/distrib/worker.js';
import { jobIdOf, queueNameFor } from '../../src/distrib/queue.js';

const PASSWORD = 's3cret-Pw';

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('redis URLs: the password never shows; bad URLs name the flag', () => {
  assert.equal(maskRedisUrl('redis://:hunter2@cache.local:6380/2'), 'redis://:***@cache.local:6380/2');
  assert.equal(maskRedisUrl('rediss://app:hunter2@cache.local/0'), 'rediss://app:***@cache.local/0');
  assert.equal(maskRedisUrl('redis://hunter2@cache.local'), 'redis://***@cache.local');
  assert.equal(maskRedisUrl('redis://cache.local:6379/0'), 'redis://cache.local:6379/0');
  assert.ok(!maskRedisUrl('redis://:a b@c@host:1').includes('a b'));
  assert.throws(() => parseRedisUrl('http://:hunter2@h/0', '--queue'), (e: Error) => e.message === '--queue http://:***@h/0: expected a redis:// or rediss:// URL');
  assert.throws(() => parseRedisUrl('redis://:hunter2@h/zero', '--redis'), (e: Error) => /--redis .*database.*'zero'/.test(e.message) && !e.message.includes('hunter2'));
  assert.equal(parseRedisUrl('redis://h:1/3', '--redis'), 'redis://h:1/3');
});

test('one queue per build: workdir, recipe text, --set values and shard count all name it', () => {
  const base = queueNameFor('/w', 'name: a', ['x=1'], 4);
  assert.match(base, /^imgsift-[0-9a-f]{16}$/);
  assert.equal(queueNameFor('/w', 'name: a', ['x=1'], 4), base, 'a rerun finds its queue');
  for (const other of [queueNameFor('/w2', 'name: a', ['x=1'], 4), queueNameFor('/w', 'name: b', ['x=1'], 4),
    queueNameFor('/w', 'name: a', ['x=2'], 4), queueNameFor('/w', 'name: a', ['x=1'], 5)]) assert.notEqual(other, base);
  // BullMQ refuses ':' in names and all-digit job ids.
  assert.ok(!base.includes(':'));
  assert.equal(jobIdOf(2, 6), 'shard-2-of-6');
});

test('a malformed job fails with a message naming the job and the field', () => {
  assert.throws(() => checkJobData({ recipe: { text: 'x', file: 'r.yaml', baseDir: '/' }, set: [], workdir: '/w', shard: { index: 3, count: 3 } }, 'j1'),
    /job j1: shard must be \{index, count\} with 0 <= index < count/);
  assert.throws(() => checkJobData({ set: [], workdir: '/w', shard: { index: 0, count: 1 } }, 'j2'), /job j2: recipe must have text, file and baseDir/);
});

test('queue build: 3 workers, one SIGKILLed mid-shard, the merged exports equal a single-process build byte for byte', { timeout: 600_000 }, async () => {
  const redis = await startRedis({ password: PASSWORD });
  const root = await tempDir();
  const images = join(root, 'images');
  await writePhotos(images, 40, { size: [192, 144] });
  for (const d of ['queue', 'single']) {
    await mkdir(join(root, d));
    await writeFile(join(root, d, 'recipe.yaml'), distribRecipe('q', images));
  }
  // Short locks, so the killed worker's job is found stalled within seconds.
  const timing = ['--lock-duration', '4000', '--stalled-interval', '1000'];
  const workers = ['w0', 'w1', 'w2'].map((name) => start(['worker', '--redis', redis.url, '--name', name, '--workers', '1', ...timing]));
  // The first worker to finish a shard's ingest is killed there and then, from the output handler
  // (no polling delay): its shard catalog is half written and its per-sample work under way.
  let victim = -1;
  let shard = '';
  workers.forEach((w, i) => w.child.stderr!.on('data', () => {
    if (victim >= 0 || !/\] ingest: /.test(w.out.stderr)) return;
    w.child.kill('SIGKILL');
    victim = i;
    shard = [...w.out.stderr.matchAll(/\[shard (\d+)\/6\] started/g)].pop()![1];
  }));
  const single = start(['build', join(root, 'single', 'recipe.yaml'), '--workers', '1', '--json']);
  const build = start(['build', join(root, 'queue', 'recipe.yaml'), '--queue', redis.url, '--batches', '6', '--workers', '1']);
  try {
    await until('a worker inside a shard', () => victim >= 0, 240_000);
    assert.doesNotMatch(workers[victim].out.stderr, new RegExp(`\\[shard ${shard}/6\\] done`), 'killed before its shard was done');

    const b = await build.done;
    assert.equal(b.code, 0, b.stderr);
    const s = await single.done;
    assert.equal(s.code, 0, s.stderr);
    // The dead worker's shard was finished by another worker.
    const doneBy = new RegExp(`shard ${shard}/6 done by (w\\d)`).exec(b.stderr);
    assert.ok(doneBy, b.stderr);
    assert.notEqual(doneBy![1], `w${victim}`);
    assert.equal((b.stderr.match(/shard \d\/6 done by/g) ?? []).length, 6, b.stderr);
    assert.match(b.stdout, /Merge shards/i);

    const fq = await filesOf(join(root, 'queue', 'wds'));
    const fs = await filesOf(join(root, 'single', 'wds'));
    assert.deepEqual([...fq.keys()].sort(), [...fs.keys()].sort());
    assert.ok([...fq.keys()].filter((k) => k.endsWith('.tar')).length >= 4);
    for (const [k, bytes] of fq) assert.ok(bytes.equals(fs.get(k)!), `${k} differs`);

    // The finished build took its queue off the list the workers follow.
    const client = new Redis(redis.url);
    try {
      assert.deepEqual(await client.smembers(QUEUES_KEY), []);
    } finally {
      client.disconnect();
    }

    // A shard whose build fails on every attempt fails the build with the list of shards.
    await writeFile(join(root, 'not-a-dir'), 'x');
    const failing = start(['build', join(root, 'queue', 'recipe.yaml'), '--queue', redis.url, '--batches', '2', '--attempts', '1', '--workdir', join(root, 'not-a-dir', 'work')]);
    const f = await failing.done;
    assert.equal(f.code, 1, f.stderr);
    assert.match(f.stderr, /2 of 2 shard jobs failed after their attempts:\n {2}shard 0\/2 \(shard-0-of-2\): .*not-a-dir.*\n {2}shard 1\/2 \(shard-1-of-2\): /);

    // No output anywhere shows the password; the masked URL is what is printed.
    const live = workers.filter((_, i) => i !== victim);
    for (const w of live) w.child.kill('SIGTERM');
    const outputs = [b, s, f, ...(await Promise.all(live.map((w) => w.done))), { stdout: workers[victim].out.stdout, stderr: workers[victim].out.stderr }];
    for (const o of outputs) assert.ok(!(o.stdout + o.stderr).includes(PASSWORD), 'password printed');
    assert.match(b.stderr, new RegExp(`redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}/0`));
    for (const w of live) assert.match(w.out.stderr, /worker stopped: \d+ job\(s\) run/);
  } finally {
    for (const w of workers) w.child.kill('SIGKILL');
    build.child.kill('SIGKILL');
    single.child.kill('SIGKILL');
  }
});

test('a Redis that is not there is a clear error, without the password', { timeout: 60_000 }, async () => {
  const root = await tempDir();
  await writeFile(join(root, 'recipe.yaml'), distribRecipe('q', join(root, 'images')));
  const r = await start(['build', join(root, 'recipe.yaml'), '--queue', 'redis://:pw-xyz@127.0.0.1:1/0', '--batches', '1']).done;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /redis redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0: /);
  const w = await start(['worker', '--redis', 'redis://:pw-xyz@127.0.0.1:1/0']).done;
  assert.equal(w.code, 1, w.stderr);
  assert.match(w.stderr, /redis redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0: /);
  assert.ok(!(r.stderr + w.stderr).includes('pw-xyz'));
});
