import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';
import { startS3Server, useTestAws } from '../helpers/s3-server.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { buildShard } from '../../src/distrib/shard-build.js';
import { build } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';

const quiet = () => new Reporter({ mode: 'quiet' });

test('shard folders go to S3 (marker last) and come back for a merge on another machine; derived files follow', async () => {
  const s3 = await startS3Server();
  const root = await tempDir();
  useTestAws(s3.endpoint, root);
  await s3.createBucket('shards');
  const images = join(root, 'images');
  await writePhotos(images, 12, { size: [160, 120] });
  const recipe = join(root, 'recipe.yaml');
  // bucket makes a derived file per sample (assets/), which must reach the merging machine too.
  await writeFile(recipe, `name: s3arr
source: { format: folder, path: ./images }
steps:
  - probe: {}
  - bucket: { resolution: 96, min_bucket_reso: 64, max_bucket_reso: 160, bucket_reso_steps: 32, allow_upscale: true, format: png }
export:
  - { format: manifest, to: ./out/manifest.jsonl }
`);
  const uri = 's3://shards/runs/r1';
  const workerDir = join(root, 'worker');
  const samples: number[] = [];
  for (const index of [0, 1]) {
    const st = await buildShard(recipe, { shard: { index, count: 2 }, workdir: workerDir, workers: 1, reporter: quiet(), shardsUri: uri });
    assert.equal(st.skipped, false);
    samples.push(st.samples);
  }
  assert.equal(samples[0] + samples[1], 12);
  const keys = (await s3.client.send(new ListObjectsV2Command({ Bucket: 'shards', Prefix: 'runs/r1/' }))).Contents!.map((o) => o.Key!);
  for (const i of [0, 1]) {
    assert.ok(keys.includes(`runs/r1/${i}/done.json`), keys.join('\n'));
    assert.ok(keys.includes(`runs/r1/${i}/catalog.duckdb`));
  }
  assert.equal(keys.filter((k) => /\/assets\/[0-9a-f]{2}\/[0-9a-f]{64}\.png$/.test(k)).length, 12, 'one bucket-sized png per sample');

  // A rerun of a finished shard does nothing.
  const rerun = await buildShard(recipe, { shard: { index: 1, count: 2 }, workdir: workerDir, workers: 1, reporter: quiet(), shardsUri: uri });
  assert.equal(rerun.skipped, true);

  // The merging machine has none of the worker's files: only the source images and S3.
  await rm(workerDir, { recursive: true });
  const mainDir = join(root, 'main');
  await mkdir(mainDir);
  const result = await build(recipe, { merge: true, shardsUri: uri, workdir: mainDir, workers: 1, reporter: quiet() });
  assert.equal(result.exitCode, 0, result.summary.attention.join('; '));
  const pass = result.summary.steps.find((s) => s.name === 'probe')!;
  assert.equal(pass.stats['samples computed'], 0);
  assert.equal(pass.stats['samples from cache'], 12);
  assert.equal(result.summary.steps[0].stats['shards folded'], 2);
  assert.deepEqual((await readdir(join(mainDir, 'shards'))).sort(), ['0', '1']);

  const cat = await Catalog.open(mainDir, { readOnly: true });
  try {
    const derived = await cat.all<{ uri: string }>(`SELECT uri FROM derived_files WHERE role = 'resized'`);
    assert.equal(derived.length, 12);
    for (const d of derived) {
      assert.ok(d.uri.startsWith(join(mainDir, 'assets') + '/'), d.uri);
      assert.ok(existsSync(d.uri), `${d.uri} is on the merging machine`);
    }
  } finally {
    cat.close();
  }
});
