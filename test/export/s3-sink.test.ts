import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { LocalSink, createSink, parseS3Url } from '../../src/export/sink.js';
import { S3Sink, S3SinkError } from '../../src/export/s3-sink.js';
import { freePort, startS3Server, TEST_KEY_ID, TEST_SECRET, useTestAws, type S3Server } from '../helpers/s3-server.js';
import { contentHash } from '../../src/export/content-hash.js';
import { tempDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;
// At the top level, not in before(): after() hooks registered inside a hook run when it ends.
const server: S3Server = await startS3Server();
const dir = await tempDir('imgsift-s3sink-');
useTestAws(server.endpoint, dir);
await server.createBucket('imgsift-test');

const xxh128 = (b: Uint8Array) => contentHash(b);

/** Deterministic, incompressible-looking bytes. */
function bytes(n: number, seed = 1): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out.writeUInt32LE(x, i - (i + 4 > n ? i + 4 - n : 0));
  }
  return out;
}

async function download(key: string): Promise<Buffer> {
  const res = await server.client.send(new GetObjectCommand({ Bucket: 'imgsift-test', Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

async function exists(key: string): Promise<boolean> {
  try {
    await server.client.send(new HeadObjectCommand({ Bucket: 'imgsift-test', Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

async function unfinishedUploads(prefix: string): Promise<string[]> {
  const res = await server.client.send(new ListMultipartUploadsCommand({ Bucket: 'imgsift-test', Prefix: prefix }));
  return (res.Uploads ?? []).map((u) => u.Key!);
}

test('put, get, stat, list and remove on a real S3 server; an unchanged put sends no upload', async () => {
  const sink = await S3Sink.open('imgsift-test', 'basic/run');
  try {
    assert.equal(sink.location, 's3://imgsift-test/basic/run');
    assert.equal(sink.region, 'us-east-1', 'no AWS_REGION and no profile: the default region');
    const a = await sink.put('a/one.txt', 'hello');
    assert.deepEqual(a, { size: 5, xxh128: await xxh128(Buffer.from('hello')), written: true });
    await sink.put('a/two.json', '{"x":1}');
    await sink.put('b.bin', bytes(1000));
    assert.equal((await download('basic/run/a/one.txt')).toString(), 'hello', 'stored under prefix/path');
    assert.deepEqual(await sink.list(), ['a/one.txt', 'a/two.json', 'b.bin']);
    assert.deepEqual(await sink.list('a/'), ['a/one.txt', 'a/two.json']);
    assert.deepEqual(await sink.stat('b.bin'), { size: 1000, xxh128: await xxh128(bytes(1000)) });
    assert.equal(await sink.stat('missing'), undefined);
    assert.equal((await sink.get('a/two.json'))!.toString(), '{"x":1}');
    assert.equal(await sink.get('missing'), undefined);
    const head = await server.client.send(new HeadObjectCommand({ Bucket: 'imgsift-test', Key: 'basic/run/a/two.json' }));
    assert.equal(head.ContentType, 'application/json');
    assert.equal(head.Metadata?.xxh128, await xxh128(Buffer.from('{"x":1}')));

    const puts = sink.requests.PutObject;
    assert.equal(puts, 3);
    assert.equal((await sink.put('a/one.txt', 'hello')).written, false);
    assert.equal(sink.requests.PutObject, puts, 'identical content is not uploaded again');
    assert.equal((await sink.put('a/one.txt', 'hello!')).written, true);
    assert.equal((await download('basic/run/a/one.txt')).toString(), 'hello!');

    await sink.remove('a/one.txt');
    await sink.remove('a/one.txt'); // absent: fine
    assert.deepEqual(await sink.list(), ['a/two.json', 'b.bin']);
    await assert.rejects(sink.put('../escape', 'x'), /not a valid key under s3:\/\/imgsift-test\/basic\/run/);
    await assert.rejects(sink.put('/abs', 'x'), /not a valid key/);
  } finally {
    await sink.close();
  }
});

test('list follows continuation tokens', async () => {
  const keys = Array.from({ length: 8 }, (_, i) => `many/k${i}`);
  await Promise.all(keys.map((Key) => server.client.send(new PutObjectCommand({ Bucket: 'imgsift-test', Key, Body: 'x' }))));
  await server.client.send(new PutObjectCommand({ Bucket: 'imgsift-test', Key: 'manyother', Body: 'x' }));
  const sink = await S3Sink.open('imgsift-test', 'many', { listPageSize: 3 });
  try {
    assert.deepEqual(await sink.list(), keys.map((k) => k.slice('many/'.length)), 'every page, nothing outside the prefix');
    assert.equal(sink.requests.ListObjectsV2, 3);
  } finally {
    await sink.close();
  }
});

test('a 12 MiB object goes multipart in 5 MiB parts, keeps its content hash, downloads back identical, and is not re-sent', async () => {
  const sink = await S3Sink.open('imgsift-test', 'big', { partSize: 5 * MiB, queueSize: 2 });
  try {
    const data = bytes(12 * MiB, 7);
    const w = await sink.create('shard.tar');
    for (let off = 0; off < data.length; off += 700_000) await w.write(data.subarray(off, off + 700_000));
    assert.equal(await exists('big/shard.tar'), false, 'nothing visible before commit');
    const c = await w.commit();
    assert.deepEqual(c, { size: data.length, xxh128: await xxh128(data), written: true });
    assert.equal(sink.requests.CreateMultipartUpload, 1);
    assert.equal(sink.requests.UploadPart, 3);
    assert.equal(sink.requests.CompleteMultipartUpload, 1);
    assert.equal(sink.requests.PutObject, undefined);
    const head = await server.client.send(new HeadObjectCommand({ Bucket: 'imgsift-test', Key: 'big/shard.tar' }));
    assert.match(head.ETag!, /-3"$/, 'a multipart ETag, which is no hash of the content');
    assert.equal(head.Metadata?.xxh128, await xxh128(data));
    assert.deepEqual(await sink.stat('shard.tar'), { size: data.length, xxh128: await xxh128(data) });
    assert.ok((await download('big/shard.tar')).equals(data));

    const again = await sink.create('shard.tar');
    for (let off = 0; off < data.length; off += 4 * MiB) await again.write(data.subarray(off, off + 4 * MiB));
    assert.equal((await again.commit()).written, false);
    assert.equal(sink.requests.UploadPart, 3, 'unchanged: no part sent');
    assert.equal(sink.requests.CreateMultipartUpload, 1);
  } finally {
    await sink.close();
  }
});

test('abort before commit sends nothing; abort during a multipart upload leaves no object and no unfinished upload', async () => {
  const sink = await S3Sink.open('imgsift-test', 'abort', { partSize: 5 * MiB, queueSize: 1 });
  try {
    const early = await sink.create('early.tar');
    await early.write(bytes(MiB));
    await early.abort();
    assert.deepEqual(sink.requests, {}, 'no request at all');

    const data = bytes(25 * MiB, 3);
    const w = await sink.create('mid.tar');
    await w.write(data);
    const committing = w.commit();
    committing.catch(() => undefined);
    const deadline = Date.now() + 20_000;
    while (!(sink.requests.UploadPart >= 1)) {
      assert.ok(Date.now() < deadline, 'the upload started');
      await new Promise((r) => setTimeout(r, 1));
    }
    await w.abort();
    await assert.rejects(committing, (err: Error) => err instanceof S3SinkError && /s3:\/\/imgsift-test\/abort\/mid\.tar: .*aborted/.test(err.message));
    assert.ok(sink.requests.UploadPart < 5, `stopped early (${sink.requests.UploadPart} of 5 parts sent)`);
    assert.equal(sink.requests.CompleteMultipartUpload, undefined);
    assert.equal(sink.requests.AbortMultipartUpload, 1);
    assert.equal(await exists('abort/mid.tar'), false, 'no object under the final name');
    assert.deepEqual(await unfinishedUploads('abort/'), [], 'no unfinished multipart upload');
    assert.deepEqual(await sink.list(), []);
  } finally {
    await sink.close();
  }
});

test('a process killed mid-upload leaves no object; the next sweep aborts its unfinished upload', async () => {
  const script = join(dir, 'upload-child.mts');
  const sinkModule = pathToFileURL(resolve('src/export/s3-sink.ts')).href;
  await writeFile(
    script,
    `import { S3Sink } from ${JSON.stringify(sinkModule)};
const sink = await S3Sink.open('imgsift-test', 'killed', { partSize: 5 * 1024 * 1024, queueSize: 1 });
const w = await sink.create('shard-000000.tar');
const chunk = Buffer.alloc(1024 * 1024, 1);
for (let i = 0; i < 40; i++) { chunk[0] = i; await w.write(chunk); }
const done = w.commit();
const t = setInterval(() => { if (sink.requests.UploadPart >= 1) { clearInterval(t); process.stdout.write('uploading\\n'); } }, 1);
await done;
process.stdout.write('committed\\n');
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<NodeJS.Signals | number | null>((r) => child.on('exit', (code, signal) => r(signal ?? code)));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`child never started uploading: ${err}`)), 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('uploading')) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        res();
      }
    });
    child.on('exit', () => rej(new Error(`child exited before uploading: ${out} ${err}`)));
  });
  assert.equal(await exit, 'SIGKILL');
  assert.ok(!out.includes('committed'), 'killed before the upload completed');
  assert.equal(await exists('killed/shard-000000.tar'), false, 'no object under the final name');
  assert.deepEqual(await unfinishedUploads('killed/'), ['killed/shard-000000.tar'], 'only an invisible unfinished upload');

  const sink = await S3Sink.open('imgsift-test', 'killed');
  try {
    assert.ok((await sink.sweep()) >= 1);
    assert.deepEqual(await unfinishedUploads('killed/'), []);
    assert.deepEqual(await sink.list(), []);
  } finally {
    await sink.close();
  }
});

test('transient store errors are retried (SDK standard retry), per request and per part', async () => {
  // A proxy in front of the server that answers 503 SlowDown to chosen requests, once each.
  const target = new URL(server.endpoint);
  const failed: string[] = [];
  const failOnce = new Set(['HEAD /imgsift-test/retry/small.txt', 'PUT /imgsift-test/retry/small.txt', 'PUT part 2']);
  const proxy = createServer((req, res) => {
    const partNumber = new URL(req.url!, 'http://x').searchParams.get('partNumber');
    const what = partNumber ? `${req.method} part ${partNumber}` : `${req.method} ${req.url!.split('?')[0]}`;
    if (failOnce.delete(what)) {
      failed.push(what);
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      });
      return;
    }
    const fwd = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      },
    );
    fwd.on('error', (e) => res.destroy(e));
    req.pipe(fwd);
  });
  const port = await freePort();
  await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
  try {
    const sink = await S3Sink.open('imgsift-test', 'retry', { endpoint: `http://127.0.0.1:${port}`, partSize: 5 * MiB, maxAttempts: 3 });
    try {
      assert.equal((await sink.put('small.txt', 'retried')).written, true);
      const data = bytes(11 * MiB, 9);
      const w = await sink.create('big.bin');
      await w.write(data);
      assert.equal((await w.commit()).written, true);
      assert.deepEqual(failed.sort(), ['HEAD /imgsift-test/retry/small.txt', 'PUT /imgsift-test/retry/small.txt', 'PUT part 2']);
      assert.equal(sink.requests.PutObject, 1, 'one logical request, retried inside the SDK');
      assert.equal(sink.requests.UploadPart, 3);
      assert.equal((await download('retry/small.txt')).toString(), 'retried');
      assert.ok((await download('retry/big.bin')).equals(data), 'the retried part holds the right bytes');
    } finally {
      await sink.close();
    }
    failOnce.add('PUT /imgsift-test/retry/once.txt');
    const once = await S3Sink.open('imgsift-test', 'retry', { endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
    try {
      await assert.rejects(once.put('once.txt', 'x'), /^S3SinkError: s3:\/\/imgsift-test\/retry\/once\.txt: PutObject failed \(HTTP 503\).*SlowDown/);
    } finally {
      await once.close();
    }
  } finally {
    proxy.close();
  }
});

test('errors name s3://bucket/key and the store error, never the credentials', async () => {
  const missing = await S3Sink.open('no-such-bucket-imgsift', 'p', { maxAttempts: 1 });
  try {
    const err = await missing.put('x.txt', 'x').then(() => assert.fail('put into a missing bucket succeeded'), (e: unknown) => e);
    assert.ok(err instanceof S3SinkError);
    assert.match(err.message, /^s3:\/\/no-such-bucket-imgsift\/p\/x\.txt: PutObject failed \(HTTP 404\) \(endpoint http:\/\/127\.0\.0\.1:\d+\): NoSuchBucket: .*bucket 'no-such-bucket-imgsift' does not exist/);
    for (const text of [err.message, inspect(err), String(err.stack)]) {
      assert.ok(!text.includes(TEST_KEY_ID) && !text.includes(TEST_SECRET), 'no credentials in the error');
    }
  } finally {
    await missing.close();
  }

  // A store that checks credentials refuses unknown ones.
  const auth = await startS3Server({ auth: true });
  const refused = await S3Sink.open('imgsift-test', 'p', { endpoint: auth.endpoint, maxAttempts: 1 });
  try {
    const err = (await refused.put('x.txt', 'x').catch((e: unknown) => e)) as S3SinkError;
    assert.ok(err instanceof S3SinkError);
    assert.equal(err.status, 403);
    // The first request is the HeadObject that looks for an identical object: no body, so only the status.
    assert.match(err.message, /^s3:\/\/imgsift-test\/p\/x\.txt: HeadObject failed \(HTTP 403\).*: Forbidden; check the credentials/);
    const getErr = (await refused.get('x.txt').catch((e: unknown) => e)) as S3SinkError;
    assert.match(getErr.message, /^s3:\/\/imgsift-test\/p\/x\.txt: GetObject failed \(HTTP 403\).*InvalidAccessKeyId: .*check the credentials/);
    assert.ok(!inspect(getErr).includes(TEST_KEY_ID) && !inspect(getErr).includes(TEST_SECRET));
    for (const text of [err.message, inspect(err)]) assert.ok(!text.includes(TEST_KEY_ID) && !text.includes(TEST_SECRET));
  } finally {
    await refused.close();
  }

  // A store that echoes the access key back in its message (as some do): masked.
  const port = await freePort();
  const echo = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>bad signature for ${TEST_KEY_ID} with ${TEST_SECRET}</Message></Error>`);
    });
  });
  await new Promise<void>((r) => echo.listen(port, '127.0.0.1', r));
  const echoed = await S3Sink.open('imgsift-test', 'p', { endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 });
  try {
    const err = (await echoed.get('x.txt').catch((e: unknown) => e)) as S3SinkError;
    assert.ok(err instanceof S3SinkError, String(err));
    assert.match(err.message, /SignatureDoesNotMatch.*bad signature for \*\*\* with \*\*\*/);
    for (const text of [err.message, inspect(err)]) assert.ok(!text.includes(TEST_KEY_ID) && !text.includes(TEST_SECRET));
  } finally {
    await echoed.close();
    echo.close();
  }
});

test('credentials and region come from AWS_PROFILE and the shared files; a missing profile fails clearly', async () => {
  const saved = { ...process.env };
  try {
    const files = await tempDir('imgsift-aws-');
    await writeFile(join(files, 'credentials'), `[imgsift-p]\naws_access_key_id = AKIAPROFILEKEY000001\naws_secret_access_key = profile/secret/value/123\n`);
    await writeFile(join(files, 'config'), `[profile imgsift-p]\nregion = eu-west-3\n`);
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(files, 'credentials');
    process.env.AWS_CONFIG_FILE = join(files, 'config');
    process.env.AWS_PROFILE = 'imgsift-p';
    const sink = await S3Sink.open('imgsift-test', 'profile');
    try {
      assert.equal(sink.region, 'eu-west-3', 'region from the profile');
      assert.equal((await sink.put('p.txt', 'from profile')).written, true);
      assert.equal((await download('profile/p.txt')).toString(), 'from profile');
    } finally {
      await sink.close();
    }

    process.env.AWS_PROFILE = 'no-such-profile';
    const none = await S3Sink.open('imgsift-test', 'profile', { maxAttempts: 1 });
    try {
      const err = (await none.put('q.txt', 'x').catch((e: unknown) => e)) as Error;
      assert.ok(err instanceof S3SinkError);
      assert.match(err.message, /^s3:\/\/imgsift-test\/profile\/q\.txt: .*(CredentialsProviderError|no-such-profile|credentials)/i);
      assert.ok(!err.message.includes('profile/secret/value/123'));
      assert.equal(await exists('profile/q.txt'), false);
    } finally {
      await none.close();
    }
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
});

test('createSink: s3:// gives an S3 sink on AWS_ENDPOINT_URL; --dev gives the local dev_extracted folder; bad URLs are refused', async () => {
  const s3 = await createSink('s3://imgsift-test/via/create', dir, { s3: { part_size_mb: 5, concurrency: 2, max_attempts: 2 } });
  try {
    assert.equal(s3.kind, 's3');
    assert.equal(s3.location, 's3://imgsift-test/via/create');
    await s3.put('x.txt', 'through createSink');
    assert.equal((await download('via/create/x.txt')).toString(), 'through createSink');
  } finally {
    await s3.close();
  }
  const dev = await createSink('s3://imgsift-test/via/dev', dir, { dev: true });
  assert.ok(dev instanceof LocalSink);
  assert.equal(dev.root, join(dir, 'dev_extracted'));
  assert.match(dev.location, /^dev_extracted \(--dev, instead of s3:\/\/imgsift-test\/via\/dev\)$/);
  await dev.put('y.txt', 'local');
  assert.equal(await exists('via/dev/y.txt'), false, '--dev uploads nothing');

  assert.deepEqual(parseS3Url('s3://bucket-1/a/b/'), { bucket: 'bucket-1', prefix: 'a/b' });
  assert.deepEqual(parseS3Url('s3://bucket-1'), { bucket: 'bucket-1', prefix: '' });
  assert.equal(parseS3Url('./local'), undefined);
  assert.throws(() => parseS3Url('s3://AKIAXX:secretvalue@bucket/p'), (e: Error) => /must not contain credentials/.test(e.message) && !e.message.includes('secretvalue'));
  assert.throws(() => parseS3Url('s3://ab/p'), /'ab' is not a valid bucket name/);
  assert.throws(() => parseS3Url('s3://bucket/a//b'), /empty, '\.' or '\.\.' segments/);
  await assert.rejects(createSink('gs://bucket/x', dir), /only local folders and s3:\/\/bucket\/prefix/);
  await assert.rejects(S3Sink.open('bucket', '', { partSize: MiB }), /part size must be at least 5 MiB/);
  await assert.rejects(S3Sink.open('bucket', '', { endpoint: 'ftp://x' }), /endpoint must be an http/);
});
