import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Catalog } from '../../src/catalog/catalog.js';
import { UsageError } from '../../src/errors.js';
import { parseShard, resolveShardFlag, shardDir, shardFromEnv, shardOf, shardOfSql } from '../../src/distrib/shard.js';
import { formatList } from '../../src/distrib/merge.js';
import { hashUnit } from '../../src/steps/split.js';

const ids = Array.from({ length: 20_000 }, (_, i) => `img_${String(i).padStart(6, '0')}.jpg`);

test('shardOf is a pure function of the id, in range, and balanced', () => {
  for (const n of [1, 3, 7, 64]) {
    const counts = new Array<number>(n).fill(0);
    for (const id of ids) {
      const s = shardOf(id, n);
      assert.ok(Number.isInteger(s) && s >= 0 && s < n, `${id} → ${s} of ${n}`);
      assert.equal(shardOf(id, n), s, 'same id, same shard');
      counts[s]++;
    }
    const mean = ids.length / n;
    // 20,000 ids: a binomial share's sd is under sqrt(mean); 5 sd is far past chance.
    for (const c of counts) assert.ok(Math.abs(c - mean) < 5 * Math.sqrt(mean), `shard sizes ${counts.join(',')} for ${n}`);
  }
  // The split step's md5 position, scaled: shard 0 of 2 is exactly the ids a 50/50 split puts first.
  for (const id of ids.slice(0, 500)) assert.equal(shardOf(id, 2), hashUnit(id) < 0.5 ? 0 : 1);
  assert.equal(shardOf('abc', 3), 1); // md5('abc') starts 90015098: 0x90015098 * 3 / 2^32 = 1.69
});

test("DuckDB's shardOfSql assigns every id as shardOf does", async () => {
  const cat = await Catalog.open(':memory:');
  try {
    await cat.run(`CREATE TABLE t (id VARCHAR)`);
    await cat.append('t', { id: 'varchar' }, ids.slice(0, 5000).map((id) => ({ id })));
    for (const n of [2, 3, 1000]) {
      const rows = await cat.all<{ id: string; s: bigint }>(`SELECT id, ${shardOfSql('id', n)} AS s FROM t`);
      assert.equal(rows.length, 5000);
      for (const r of rows) assert.equal(Number(r.s), shardOf(r.id, n), `${r.id} of ${n}`);
    }
  } finally {
    cat.close();
  }
});

test('parseShard reads I/N and names the problem otherwise', () => {
  assert.deepEqual(parseShard('0/4'), { index: 0, count: 4 });
  assert.deepEqual(parseShard(' 3 / 4 '), { index: 3, count: 4 });
  for (const [bad, msg] of [
    ['4/4', /index must be from 0 to 3/], ['1/0', /number of shards must be an integer from 1/], ['-1/4', /expected I\/N/],
    ['1', /expected I\/N/], ['a/b', /expected I\/N/], ['1.5/4', /expected I\/N/], ['', /expected I\/N/],
  ] as const) {
    assert.throws(() => parseShard(bad), (err: unknown) => err instanceof UsageError && msg.test(err.message) && err.message.includes('--shard'), bad);
  }
  assert.equal(shardDir('/w', 7), '/w/shards/7');
});

test('scheduler variables: Kubernetes, Slurm (with its offset), AWS Batch, and their mistakes', () => {
  assert.equal(shardFromEnv({}), undefined);
  assert.equal(shardFromEnv({ PATH: '/bin', SLURM_JOB_ID: '12' }), undefined, 'a Slurm job that is not an array');
  assert.deepEqual(shardFromEnv({ JOB_COMPLETION_INDEX: '2', IMGSIFT_SHARDS: '5' }), { index: 2, count: 5 });
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: '2' }), /IMGSIFT_SHARDS is not/);
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: '5', IMGSIFT_SHARDS: '5' }), /index must be from 0 to 4/);
  assert.throws(() => shardFromEnv({ JOB_COMPLETION_INDEX: 'x', IMGSIFT_SHARDS: '5' }), /JOB_COMPLETION_INDEX="x": expected a non-negative integer/);

  // sbatch --array=0-3 and --array=1-4 both give shards 0..3.
  assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '3' }), { index: 3, count: 4 });
  assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '4' }), { index: 0, count: 4 });
  assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' }), { index: 3, count: 4 });
  assert.deepEqual(shardFromEnv({ SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '4' }), { index: 2, count: 4 });
  assert.throws(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '2' }), /SLURM_ARRAY_TASK_COUNT is not/);
  assert.throws(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4' }), /SLURM_ARRAY_TASK_ID=4 .*index must be from 0 to 3/);
  assert.throws(
    () => shardFromEnv({ SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_MAX: '12' }),
    /not 4 consecutive tasks/, 'a stepped array (--array=0-12:4)',
  );

  assert.deepEqual(shardFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ARRAY_SIZE: '2' }), { index: 0, count: 2 });
  assert.throws(() => shardFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: '0' }), /AWS_BATCH_JOB_ARRAY_SIZE is not/);
  assert.throws(() => shardFromEnv({ AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ARRAY_SIZE: '0' }), /number of shards must be an integer from 1/);

  assert.deepEqual(resolveShardFlag('auto', { AWS_BATCH_JOB_ARRAY_INDEX: '1', AWS_BATCH_JOB_ARRAY_SIZE: '2' }), { index: 1, count: 2 });
  assert.deepEqual(resolveShardFlag('1/2', { AWS_BATCH_JOB_ARRAY_INDEX: '0', AWS_BATCH_JOB_ARRAY_SIZE: '9' }), { index: 1, count: 2 }, 'explicit wins');
  assert.throws(() => resolveShardFlag('auto', {}), (err: unknown) => err instanceof UsageError && /no array-job variable is set/.test(err.message));
});

test('formatList shortens runs of shard indices', () => {
  assert.equal(formatList([2]), '2');
  assert.equal(formatList([0, 1, 4, 5, 6, 7, 9]), '0, 1, 4-7, 9');
});
