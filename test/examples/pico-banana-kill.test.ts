import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { copyFile, stat } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { tempDir } from '../helpers/tmp.js';
import { startS3Server, TEST_KEY_ID, TEST_SECRET } from '../helpers/s3-server.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { generate, SEED_EDIT_TYPES } from '../../examples/pico-banana/generate.js';

// Seed 000's resume promise, with the real CLI in a child process: kill -9 during download, during
// alignment and during the S3 upload, then rerun; every sample lands in S3 exactly once and nothing
// that was done is fetched or computed again.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = join(ROOT, 'examples/pico-banana');
const BUCKET = 'pico-banana-kill';
const MAIN = join(ROOT, 'src/cli/main.ts');

/** The CLI from source (no dist/ needed), in its own process group so SIGKILL takes any helper with it. */
function startImgsift(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; stderr: () => string; stdout: () => string } {
  const code = `import(${JSON.stringify(MAIN)}).then((m) => m.main(${JSON.stringify(args)})).then((c) => { process.exitCode = c; })`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--eval', code], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, stderr: () => err, stdout: () => out };
}

/** Resolve when `check` holds (polled), fail after `ms`. */
async function until(check: () => boolean, ms: number, what: string, log: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr:\n${log()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Run the CLI, SIGKILL its process group once `when` holds, and wait for it to die. */
async function killWhen(env: NodeJS.ProcessEnv, when: (stderr: string) => boolean, what: string): Promise<string> {
  const run = startImgsift(['build', join(env.PB_DIR!, 'recipe.yaml'), '--workers', '1'], env);
  const exited = once(run.child, 'exit');
  try {
    await until(() => when(run.stderr()) || run.child.exitCode !== null, 60_000, what, run.stderr);
  } finally {
    if (run.child.exitCode === null) process.kill(-run.child.pid!, 'SIGKILL');
  }
  const [code, signal] = await exited;
  assert.equal(signal, 'SIGKILL', `the build ended (exit ${code}) before it was killed ${what}:\n${run.stderr()}`);
  return run.stderr();
}

/**
 * The sample's CDN, answering one request at a time after 80 ms (so the download lasts seconds,
 * longer than the downloader's 1 s commit batches), with a log of what was served.
 */
async function slowCdn(root: string): Promise<{ server: Server; url: string; served: { path: string; status: number; at: number }[] }> {
  const served: { path: string; status: number; at: number }[] = [];
  let queue: Promise<unknown> = Promise.resolve();
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = join(root, normalize(path));
    const st = file.startsWith(root) ? await stat(file).catch(() => null) : null;
    const turn = queue.then(() => new Promise((r) => setTimeout(r, 80)));
    queue = turn;
    await turn;
    res.on('finish', () => served.push({ path, status: res.statusCode, at: Date.now() }));
    if (!st?.isFile()) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-type': extname(file) === '.png' ? 'image/png' : 'image/jpeg', 'content-length': st.size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, served };
}

/**
 * A pass-through proxy in front of moto that counts the writes it sees and holds each one for
 * `holdMs`, so an upload is reliably in flight when the test kills the build.
 */
async function s3Proxy(target: string, holdMs: number): Promise<{ server: Server; url: string; writes: string[]; holdMs: number }> {
  const state = { writes: [] as string[], holdMs };
  const up = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.method === 'PUT' || req.method === 'POST') {
        state.writes.push(`${req.method} ${req.url}`);
        await new Promise((r) => setTimeout(r, state.holdMs));
      }
      const fwd = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      fwd.on('error', () => res.destroy());
      fwd.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return Object.assign(state, { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
}

/** Sample keys in every tar under the prefix (ustar names, 512-byte headers), as key -> members. */
async function shardKeys(s3: Awaited<ReturnType<typeof startS3Server>>, prefix: string): Promise<{ tars: string[]; keys: Map<string, string[]> }> {
  const list = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  const tars = (list.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith('.tar')).sort();
  const keys = new Map<string, string[]>();
  for (const tar of tars) {
    const body = Buffer.from(await (await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: tar }))).Body!.transformToByteArray());
    for (let off = 0; off + 512 <= body.length; ) {
      const name = body.subarray(off, off + 100).toString('utf8').replace(/\0.*$/s, '');
      if (!name) break;
      const size = parseInt(body.subarray(off + 124, off + 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
      const type = String.fromCharCode(body[off + 156]!);
      if (type === '0' || type === '\0') {
        const base = name.split('/').pop()!;
        const key = base.slice(0, base.indexOf('.'));
        keys.set(key, [...(keys.get(key) ?? []), `${tar}:${base.slice(base.indexOf('.') + 1)}`]);
      }
      off += 512 + Math.ceil(size / 512) * 512;
    }
  }
  return { tars, keys };
}

/** URLs the catalog records as fetched (committed in batches, so a kill may lose the last second's). */
async function fetchedUris(workdir: string): Promise<Set<string>> {
  const cat = await Catalog.open(workdir);
  try {
    const rows = await cat.all<{ url: string }>(`SELECT url FROM downloads WHERE status = 'success'`);
    return new Set(rows.map((r) => r.url));
  } finally {
    cat.close();
  }
}

async function alignedCount(workdir: string): Promise<number> {
  const cat = await Catalog.open(workdir);
  try {
    return await cat.scalar(`SELECT count(*) FROM step_results WHERE step = 'align'`);
  } finally {
    cat.close();
  }
}

test('pico-banana to S3: kill -9 during download, alignment and upload; the rerun has each sample once', { timeout: 240_000 }, async (t) => {
  const dir = await tempDir('imgsift-pico-kill-');
  const cdn = await slowCdn(join(dir, 'data/cdn'));
  const s3 = await startS3Server();
  await s3.createBucket(BUCKET);
  const proxy = await s3Proxy(s3.endpoint, 1500);
  try {
    const planted = await generate(join(dir, 'data'), cdn.url, { edits: 20, others: 3, broken: 1 });
    await copyFile(join(EXAMPLE, 'recipe.yaml'), join(dir, 'recipe.yaml'));
    const workdir = join(dir, '.imgsift/pico-banana');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PB_DIR: dir,
      PB_MANIFEST: join(dir, 'data/sft.jsonl'),
      PB_CDN: cdn.url,
      PB_OUT: `s3://${BUCKET}/processed/webdataset`,
      AWS_ENDPOINT_URL: proxy.url,
      AWS_ACCESS_KEY_ID: TEST_KEY_ID,
      AWS_SECRET_ACCESS_KEY: TEST_SECRET,
      AWS_CONFIG_FILE: join(dir, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'aws-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      IMGSIFT_WORKERS: '1',
      AWS_PROFILE: undefined, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_SESSION_TOKEN: undefined, AWS_ENDPOINT_URL_S3: undefined,
    };
    const wanted = planted.lines.filter((l) => (SEED_EDIT_TYPES as readonly string[]).includes(l.edit_type));
    const fetchable = wanted.filter((l) => !planted.brokenInputs.includes(l.output_image));

    // Every path the catalog says was fetched, and when we learnt it: no request for it may follow.
    const doneAt = new Map<string, number>();
    const learn = async () => {
      const now = Date.now();
      for (const uri of await fetchedUris(workdir)) if (!doneAt.has(new URL(uri).pathname)) doneAt.set(new URL(uri).pathname, now);
    };

    // 1. Killed while downloading: some pairs fetched, not all.
    // Under load the downloader's first 1 s commit can come late: a kill before it recorded nothing,
    // so the kill comes again, later, until some files are recorded (each rerun resumes the last).
    for (const wait of [1600, 2600, 3600]) {
      const since = Date.now();
      const firstOk = () => cdn.served.find((s) => s.status === 200 && s.at >= since)?.at ?? Infinity;
      await killWhen(env, () => Date.now() - firstOk() > wait, 'during download');
      await learn();
      if (doneAt.size > 0) break;
    }
    assert.ok(doneAt.size > 0 && doneAt.size < fetchable.length * 2, `${doneAt.size} files recorded after the download kill`);

    // 2. Killed while aligning: just past the first 2 s commit after a progress line shows pairs done.
    let aligning = Infinity;
    await killWhen(env, (err) => {
      if (aligning === Infinity && /align\+edit_mask: ([1-9]|\d\d)\/\d+/.test(err)) aligning = Date.now();
      return Date.now() - aligning > 2100;
    }, 'during alignment');
    await learn();
    assert.ok(doneAt.size >= fetchable.length * 2, `download finished before alignment (${doneAt.size} files)`);
    const alignedAtKill = await alignedCount(workdir);
    // Some pairs were committed; on a fast machine the pass may have reached the end before the kill,
    // which the later checks (each sample exactly once, nothing recomputed) cover all the same.
    assert.ok(alignedAtKill > 0 && alignedAtKill <= fetchable.length, `${alignedAtKill} of ${fetchable.length} pairs aligned at the kill`);
    if (alignedAtKill === fetchable.length) t.diagnostic('the alignment kill came after the last pair was committed');

    // 3. Killed while uploading: the second shard write is held by the proxy when the kill comes.
    await killWhen(env, () => proxy.writes.length >= 2, 'during upload');
    assert.ok((await alignedCount(workdir)) >= fetchable.length, 'alignment finished before the upload');
    proxy.holdMs = 0;

    // 4. Rerun to completion.
    const fin = startImgsift(['build', join(dir, 'recipe.yaml'), '--workers', '1', '--json'], env);
    const [code] = await once(fin.child, 'exit');
    assert.equal(code, 0, fin.stderr());
    const summary = JSON.parse(fin.stdout().trim().split('\n').pop()!);
    const { tars, keys } = await shardKeys(s3, 'processed/webdataset/');
    assert.ok(tars.length >= 1, 'shards in S3');
    assert.equal(keys.size, summary.total, `samples in S3 (${[...keys.keys()].join(', ')})`);
    for (const [key, members] of keys) {
      assert.deepEqual(members.map((m) => m.split(':')[1]).sort(), ['input.jpg', 'mask.png', 'meta.json', 'summary.txt', 'text.txt'], `${key} once, with each member once: ${members}`);
    }
    assert.ok(keys.size >= fetchable.length - 3, `${keys.size} of ${fetchable.length} fetchable pairs written`);

    // Nothing the catalog had recorded as fetched was requested again.
    for (const s of cdn.served) {
      const at = doneAt.get(s.path);
      assert.ok(at === undefined || s.at <= at, `${s.path} fetched again after it was recorded`);
    }
    // And a path is served at most twice: once more only if the kill came between response and record.
    const counts = new Map<string, number>();
    for (const s of cdn.served.filter((x) => x.status === 200)) counts.set(s.path, (counts.get(s.path) ?? 0) + 1);
    for (const [p, n] of counts) assert.ok(n <= 2, `${p} served ${n} times`);

    // 5. One more run computes, fetches and uploads nothing.
    const before = { served: cdn.served.length, writes: proxy.writes.length };
    const again = startImgsift(['build', join(dir, 'recipe.yaml'), '--workers', '1', '--json'], env);
    const [code2] = await once(again.child, 'exit');
    assert.equal(code2, 0, again.stderr());
    const s2 = JSON.parse(again.stdout().trim().split('\n').pop()!);
    assert.equal(cdn.served.length, before.served, 'no request to the CDN');
    assert.equal(proxy.writes.length, before.writes, 'no write to S3');
    const step = (n: string) => s2.steps.find((s: { name: string }) => s.name === n).stats;
    assert.equal(step('download')['fetched this run'], 0);
    assert.equal(step('align')['samples computed'], 0);
    assert.equal(s2.total, summary.total);
    assert.deepEqual((await shardKeys(s3, 'processed/webdataset/')).keys, keys);
  } finally {
    cdn.server.close();
    proxy.server.close();
  }
});
