import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3';
import { build } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';
import { ManifestOptions, manifestExporter } from '../../src/export/manifest.js';
import { WebDatasetOptions, webdatasetExporter } from '../../src/export/webdataset.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { buildCatalog } from '../helpers/export-catalog.js';
import { writePhotos } from '../helpers/dataset.js';
import { startS3Server, useTestAws } from '../helpers/s3-server.js';
import { tempDir } from '../helpers/tmp.js';

const BUCKET = 'imgsift-export';
const server = await startS3Server();
useTestAws(server.endpoint, await tempDir('imgsift-aws-'));
await server.createBucket(BUCKET);

/** Every object under a prefix, as listed by a plain S3 client: key (relative) → LastModified and ETag. */
async function listing(prefix: string): Promise<Map<string, { modified: number; etag: string }>> {
  const out = new Map<string, { modified: number; etag: string }>();
  let token: string | undefined;
  do {
    const res = await server.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${prefix}/`, ContinuationToken: token }));
    for (const o of res.Contents ?? []) out.set(o.Key!.slice(prefix.length + 1), { modified: o.LastModified!.getTime(), etag: o.ETag! });
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return out;
}

async function download(key: string): Promise<Buffer> {
  const res = await server.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

async function localFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath, e.name)));
  }
  return out.sort();
}

test('a WebDataset export to s3:// is byte-identical to a local one, and a rerun uploads nothing', async () => {
  const { ctx } = await buildCatalog();
  try {
    const local = join(ctx.workdir, 'local');
    const localStats = await webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: local, samples_per_shard: 6 }));
    const opts = WebDatasetOptions.parse({ to: `s3://${BUCKET}/wds/v1`, samples_per_shard: 6 });
    const first = await webdatasetExporter.run(ctx, opts);
    assert.deepEqual(first, localStats, 'same shards, same figures');

    const files = await localFiles(local);
    const objects = await listing('wds/v1');
    assert.deepEqual([...objects.keys()].sort(), files, 'the same objects as local files');
    assert.ok(files.filter((f) => f.endsWith('.tar')).length >= 6);
    for (const f of files) {
      assert.ok((await download(`wds/v1/${f}`)).equals(await readFile(join(local, f))), `${f} differs`);
    }
    const index = JSON.parse((await download('wds/v1/train.index.json')).toString());
    const head = await server.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `wds/v1/${index.shardlist[0].url}` }));
    assert.equal(head.Metadata?.xxh128, index.shardlist[0].xxh128, 'each shard carries its content hash');
    assert.equal(head.ContentType, 'application/x-tar');

    // LastModified has one-second resolution: wait so a re-upload would show.
    await new Promise((r) => setTimeout(r, 1100));
    const again = await webdatasetExporter.run(ctx, opts);
    assert.equal(again['bytes written'], 0);
    assert.equal(again['shards unchanged'], first['shards train'] as number + (first['shards dev'] as number) + (first['shards test'] as number));
    assert.deepEqual(await listing('wds/v1'), objects, 'no object was uploaded again (same LastModified and ETag)');

    // Fewer, larger shards: new shards uploaded, the stale ones the old index listed removed.
    const bigger = await webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to: `s3://${BUCKET}/wds/v1`, samples_per_shard: 100 }));
    assert.equal(bigger['shards train'], 1);
    const after = [...(await listing('wds/v1')).keys()].sort();
    assert.deepEqual(after, ['dev.index.json', 'dev/shard-000000.tar', 'test.index.json', 'test/shard-000000.tar', 'train.index.json', 'train/shard-000000.tar']);
    const uploads = await server.client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    assert.deepEqual(uploads.Uploads ?? [], [], 'no unfinished upload left');
  } finally {
    ctx.catalog.close();
  }
});

test('the export\'s s3 options reach the sink; a shard under one part size is a single PutObject', async () => {
  const { ctx } = await buildCatalog();
  try {
    // ~47 samples of a few KB each do not reach 5 MiB: a single shard per split, sent whole.
    const stats = await webdatasetExporter.run(
      ctx,
      WebDatasetOptions.parse({ to: `s3://${BUCKET}/opts`, samples_per_shard: 1000, s3: { part_size_mb: 5, concurrency: 2, max_attempts: 3 } }),
    );
    assert.equal(stats['shards train'], 1);
    const index = JSON.parse((await download('opts/train.index.json')).toString());
    const head = await server.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `opts/${index.shardlist[0].url}` }));
    assert.doesNotMatch(head.ETag!, /-\d+"$/, 'one part: a plain PutObject');
    assert.equal(head.ContentLength, index.shardlist[0].filesize);
    assert.throws(() => WebDatasetOptions.parse({ to: 's3://b-1/x', s3: { part_size_mb: 4 } }), /part_size_mb|>=5|5/);
    assert.throws(() => WebDatasetOptions.parse({ to: 's3://b-1/x', s3: { secret: 'x' } }), /secret/);
  } finally {
    ctx.catalog.close();
  }
});

test('manifests go to s3:// whole, and an unchanged one is not uploaded again', async () => {
  const { ctx } = await buildCatalog();
  try {
    const localPath = join(ctx.workdir, 'm.parquet');
    await manifestExporter.run(ctx, ManifestOptions.parse({ to: localPath }));
    for (const [to, key] of [[`s3://${BUCKET}/manifests/all.jsonl`, 'manifests/all.jsonl'], [`s3://${BUCKET}/manifests/all.parquet`, 'manifests/all.parquet']]) {
      const stats = await manifestExporter.run(ctx, ManifestOptions.parse({ to }));
      assert.equal(stats[`manifest ${to}`], 47);
      const body = await download(key);
      if (key.endsWith('.jsonl')) {
        const rows = body.toString().trim().split('\n').map((l) => JSON.parse(l));
        assert.equal(rows.length, 47);
        assert.ok(rows.every((r) => typeof r.id === 'string'));
      } else {
        assert.equal(body.subarray(0, 4).toString(), 'PAR1');
        assert.ok(body.equals(await readFile(localPath)), 'the same Parquet bytes as the local export');
      }
    }
    const before = await listing('manifests');
    await new Promise((r) => setTimeout(r, 1100));
    await manifestExporter.run(ctx, ManifestOptions.parse({ to: `s3://${BUCKET}/manifests/all.jsonl` }));
    assert.deepEqual(await listing('manifests'), before);
    await assert.rejects(manifestExporter.run(ctx, ManifestOptions.parse({ to: `s3://${BUCKET}` })), /name a file under the bucket/);
  } finally {
    ctx.catalog.close();
  }
});

test('build --dev with s3:// destinations uploads nothing and writes dev_extracted/ beside the recipe', async () => {
  const dir = await tempDir('imgsift-s3dev-');
  await writePhotos(join(dir, 'images'), 12);
  const recipe = recipeFromObject(
    {
      name: 's3dev',
      workdir: join(dir, 'work'),
      source: { format: 'folder', path: join(dir, 'images') },
      steps: [{ probe: {} }, { split: { ratios: { train: 0.5, test: 0.5 } } }],
      export: [
        { format: 'webdataset', to: `s3://${BUCKET}/devrun/wds`, samples_per_shard: 4, s3: { part_size_mb: 8 } },
        { format: 'manifest', to: `s3://${BUCKET}/devrun/manifest.jsonl` },
      ],
    },
    dir,
  );
  const quiet = new Reporter({ mode: 'quiet' });
  const res = await build(recipe, { reporter: quiet, workers: 1, dev: true });
  assert.equal(res.exitCode, 0);
  assert.equal((await listing('devrun')).size, 0, 'nothing uploaded in --dev');
  const dev = join(dir, 'dev_extracted');
  const files = await localFiles(dev);
  assert.ok(files.includes('manifest.jsonl'));
  assert.ok(files.includes('train.index.json') && files.includes('train/shard-000000.tar'));
  const extracted = files.filter((f) => /^(train|test)\/shard-\d{6}\/[^/]+$/.test(f));
  assert.ok(extracted.length >= 12 * 2, `each sample's members extracted (${extracted.length})`);
  assert.ok(!files.some((f) => f.startsWith('dev_extracted/')), 'no nested dev_extracted/');

  // The same recipe without --dev uploads the same bytes.
  const up = await build(recipe, { reporter: quiet, workers: 1 });
  assert.equal(up.exitCode, 0);
  const objects = await listing('devrun');
  const tars = files.filter((f) => f.endsWith('.tar') || f.endsWith('.index.json'));
  for (const f of tars) assert.ok((await download(`devrun/wds/${f}`)).equals(await readFile(join(dev, f))), `${f} differs`);
  assert.ok(objects.has('manifest.jsonl'));
  assert.equal(objects.size, tars.length + 1);
});
