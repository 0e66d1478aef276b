import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { DuckDBInstance } from '@duckdb/node-api';
import { tempDir } from '../helpers/tmp.js';
import { startFaultServer, type FaultServer } from './fault-server.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { Reporter } from '../../src/exec/reporter.js';
import { downloadUrls, type DownloadParamsInput } from '../../src/download/index.js';
import { sha256Hex } from '../../src/util/hash.js';

let server: FaultServer;
before(async () => {
  server = await startFaultServer({ slowMs: 4000 });
});
after(() => server.close());

/**
 * Short limits, so every fault resolves within seconds. undici checks header and body timeouts on a
 * timer of about one second's resolution, so /slow (4 s) must be well past read_timeout (1 s).
 */
const PARAMS: DownloadParamsInput = {
  concurrency: 16, per_host: 16, read_timeout: 1, total_timeout: 10, connect_timeout: 1, retries: 2, retry_base: 0.05,
  retry_max_wait: 3, max_bytes: '5MB', max_redirects: 5, resize_mode: 'keep_ratio', image_size: 64, durable: false,
};
const quiet = () => new Reporter({ mode: 'quiet' });

type Expect = { status: string; error?: RegExp; attempts?: number; http?: number };
/** Each case: the path served and what must become of it. */
const CASES: Record<string, [string, Expect]> = {
  ok1: ['/img/1', { status: 'success', attempts: 1, http: 200 }],
  ok2: ['/img/2', { status: 'success', attempts: 1 }],
  dup_content: ['/img/1?again', { status: 'success' }],
  slow: ['/slow/a', { status: 'failed_to_download', error: /^timeout: no response headers within 1 s \(after 3 attempts\)$/, attempts: 3 }],
  slow_once: ['/slow-once/a', { status: 'success', attempts: 2 }],
  e503_twice: ['/fail/503/2/a', { status: 'success', attempts: 3, http: 200 }],
  e500_once: ['/fail/500/1/a', { status: 'success', attempts: 2 }],
  e408_once: ['/fail/408/1/a', { status: 'success', attempts: 2 }],
  e500_always: ['/status/500', { status: 'failed_to_download', error: /^HTTP 500 \(after 3 attempts\)$/, attempts: 3, http: 500 }],
  e429: ['/retry-after/1/a', { status: 'success', attempts: 2 }],
  e404: ['/status/404', { status: 'failed_to_download', error: /^HTTP 404$/, attempts: 1, http: 404 }],
  e403: ['/status/403', { status: 'failed_to_download', error: /^HTTP 403$/, attempts: 1, http: 403 }],
  truncated: ['/truncated/a', { status: 'failed_to_download', error: /truncated body|closed/, attempts: 3 }],
  truncated_once: ['/truncated-once/a', { status: 'success', attempts: 2 }],
  short: ['/short/a', { status: 'failed_to_decode', error: /premature end|truncated/i, attempts: 1 }],
  mislabeled: ['/mislabeled/7', { status: 'success' }],
  html: ['/html', { status: 'failed_to_decode', error: /^not an image: HTML document$/ }],
  redirect: ['/redirect/2/8', { status: 'success', attempts: 1 }],
  redirect_many: ['/redirect/9/8', { status: 'failed_to_download', error: /^too many redirects \(more than 5\)$/, attempts: 1 }],
  loop: ['/loop/a', { status: 'failed_to_download', error: /^redirect loop/, attempts: 1 }],
  bomb: ['/bomb', { status: 'failed_to_decode', error: /^decompression bomb: 20000x20000/ }],
  noai: ['/robots/noai/9', { status: 'skipped', error: /^X-Robots-Tag: noai$/ }],
  noimageai_for_us: [`/robots/${encodeURIComponent('imgsift: noimageai')}/9`, { status: 'skipped', error: /noimageai/ }],
  noai_for_others: [`/robots/${encodeURIComponent('otherbot: noai')}/10`, { status: 'success' }],
  huge: ['/huge', { status: 'failed_to_download', error: /^body of 200000000 bytes is over the 5000000-byte limit$/, attempts: 1 }],
  endless: ['/endless', { status: 'failed_to_download', error: /^body is over the 5000000-byte limit$/, attempts: 1 }],
};
const REFUSED = 'http://127.0.0.1:1/nothing-listens-here';

interface DlRow {
  sample_id: string; status: string; error: string | null; attempts: number; http_status: number | null; path: string | null;
  sha256: string | null; width: number | null; height: number | null; final_url: string | null; run_id: number; format: string | null;
}

async function manifest(dir: string): Promise<string> {
  const lines = Object.entries(CASES).map(([id, [path]]) => JSON.stringify({ id, url: server.url(path), caption: `case ${id}` }));
  lines.push(JSON.stringify({ id: 'refused', url: REFUSED }));
  const file = join(dir, 'urls.jsonl');
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

async function rows(workdir: string): Promise<Map<string, DlRow>> {
  const cat = await Catalog.open(workdir);
  try {
    const list = await cat.all<DlRow>(`SELECT * FROM downloads`);
    return new Map(list.map((r) => [r.sample_id, r]));
  } finally {
    cat.close();
  }
}

test('every fault ends with the right status, transient ones are recovered, and a rerun fetches nothing', async () => {
  const dir = await tempDir();
  const file = await manifest(dir);
  const out = join(dir, 'out');
  const logged: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { logged.push(String(chunk)); cb(); } });
  const t0 = Date.now();
  const result = await downloadUrls(file, { out, params: PARAMS, reporter: new Reporter({ mode: 'json', stream, interval: 0 }) });
  assert.ok(Date.now() - t0 < 20_000, 'the run is bounded by the timeouts');

  const got = await rows(out);
  assert.equal(got.size, Object.keys(CASES).length + 1, 'one row per sample');
  for (const [id, [, want]] of Object.entries(CASES)) {
    const r = got.get(id)!;
    assert.equal(r.status, want.status, `${id}: ${r.status} (${r.error})`);
    if (want.error) assert.match(r.error ?? '', want.error, id);
    else assert.equal(r.error, null, id);
    if (want.attempts !== undefined) assert.equal(r.attempts, want.attempts, `${id} attempts`);
    if (want.http !== undefined) assert.equal(r.http_status, want.http, `${id} http status`);
  }
  assert.equal(got.get('refused')!.status, 'failed_to_download');
  assert.equal(got.get('refused')!.error, 'connection refused (after 3 attempts)');

  // Retries reached the server as often as recorded; permanent errors were asked once.
  assert.equal(server.hits('/fail/503/2/a'), 3);
  assert.equal(server.hits('/status/404'), 1);
  assert.equal(server.hits('/status/500'), 3);
  // Retry-After: 1 was honoured (not the 50 ms backoff).
  const [first, second] = server.times('/retry-after/1/a');
  assert.ok(second - first >= 950, `429 retried after ${second - first} ms`);
  // Redirects record where the bytes came from.
  assert.equal(got.get('redirect')!.final_url, server.url('/img/8'));

  // Successes: resized (160x120 → smallest side 64), re-encoded, stored by content, files re-pointed.
  const ok1 = got.get('ok1')!;
  assert.equal(ok1.width, 85);
  assert.equal(ok1.height, 64);
  assert.equal(ok1.format, 'jpeg');
  assert.match(ok1.path!, new RegExp(`objects/${ok1.sha256!.slice(0, 2)}/${ok1.sha256}\\.jpg$`));
  const stored = await readFile(ok1.path!);
  assert.equal(sha256Hex(stored), ok1.sha256);
  assert.deepEqual([(await sharp(stored).metadata()).width, (await sharp(stored).metadata()).height], [85, 64]);
  assert.equal(got.get('dup_content')!.path, ok1.path, 'equal contents share one object');
  assert.equal(got.get('mislabeled')!.format, 'jpeg', 'content sniffed, not taken from Content-Type');

  const cat = await Catalog.open(out);
  const files = await cat.all<{ sample_id: string; uri: string }>(`SELECT sample_id, uri FROM files`);
  cat.close();
  for (const f of files) {
    const r = got.get(f.sample_id)!;
    if (r.status === 'success') assert.equal(f.uri, r.path, `${f.sample_id} points at its object`);
    else assert.match(f.uri, /^http:/, `${f.sample_id} keeps its URL`);
  }
  const shards = await readdir(join(out, 'objects'));
  let objects = 0;
  for (const s of shards.filter((s) => s !== 'tmp')) objects += (await readdir(join(out, 'objects', s))).length;
  const successes = [...got.values()].filter((r) => r.status === 'success');
  assert.equal(objects, new Set(successes.map((r) => r.sha256)).size, 'one object per distinct content');
  assert.deepEqual(await readdir(join(out, 'objects', 'tmp')), [], 'no temporary file left');

  // Summary and exit code.
  assert.equal(result.samples.success, successes.length);
  assert.equal(result.samples.skipped, 2);
  assert.equal(result.samples.failed_to_decode, 3);
  assert.equal(result.samples.failed_to_download, Object.keys(CASES).length + 1 - successes.length - 5);
  assert.equal(result.exitCode, 1);
  assert.ok(result.errors.some((e) => e.error === 'HTTP 404' && e.count === 1 && e.status === 'failed_to_download'));

  // Status files: one row per sample, in manifest order, the same statuses.
  const jsonl = (await readFile(join(out, 'download_status.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(jsonl.map((r) => r.sample_id), [...Object.keys(CASES), 'refused']);
  for (const r of jsonl) assert.equal(r.status, got.get(r.sample_id)!.status);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const pq = (await conn.runAndReadAll(`SELECT status, count(*)::INTEGER AS n FROM '${join(out, 'download_status.parquet')}' GROUP BY status ORDER BY status`)).getRowObjectsJS();
  conn.closeSync();
  db.closeSync();
  assert.deepEqual(Object.fromEntries(pq.map((r) => [r.status, r.n])), Object.fromEntries(Object.entries(result.samples).filter(([, n]) => n > 0).sort()));

  // Progress went out with rates.
  const progress = logged.map((l) => JSON.parse(l)).filter((e) => e.event === 'progress' && e.label === 'download');
  assert.ok(progress.length > 0);
  assert.ok('mb_per_s' in progress[0] && 'eta_s' in progress[0] && 'success' in progress[0]);

  // Rerun: nothing is fetched again, statuses and objects stay.
  const before = new Map(Object.values(CASES).map(([p]) => [p, server.hits(p.split('?')[0])]));
  const again = await downloadUrls(file, { out, params: PARAMS, reporter: quiet() });
  assert.equal(again.fetched, 0);
  for (const [p, n] of before) assert.equal(server.hits(p.split('?')[0]), n, `${p} fetched again`);
  assert.deepEqual(again.samples, result.samples);
  const cat2 = await Catalog.open(out);
  assert.equal(await cat2.scalar(`SELECT count(*) FROM files WHERE uri LIKE 'http%'`), Object.keys(CASES).length + 1 - successes.length);
  cat2.close();

  // --retry-failed: only failures are asked again; skipped and successes are not.
  const again2 = await downloadUrls(file, { out, params: { ...PARAMS, retry_failed: true }, reporter: quiet() });
  assert.equal(again2.fetched, again.samples.failed_to_download + again.samples.failed_to_decode);
  assert.equal(server.hits('/img/1'), before.get('/img/1'));
  assert.equal(server.hits('/robots/noai/9'), before.get('/robots/noai/9'));
  assert.equal(server.hits('/status/404'), 2);
  assert.equal(server.hits('/html'), 2);
  const after2 = await rows(out);
  assert.equal(after2.get('e404')!.run_id, 3);
  assert.equal(after2.get('ok1')!.run_id, 1, 'a success keeps its first record');
});

test('several URL columns are one sample; expected hashes are verified; changed URLs are refetched', async () => {
  const dir = await tempDir();
  const img14 = await server.image(14);
  const rowsIn = [
    { id: 'pair_ok', input: server.url('/img/12'), output: server.url('/img/13'), sha: sha256Hex(await server.image(12)) },
    { id: 'pair_half', input: server.url('/img/11'), output: server.url('/status/410'), sha: null },
    { id: 'hash_bad', input: server.url('/img/15'), output: server.url('/img/16'), sha: 'ab'.repeat(32) },
    { id: 'hash_md5', input: server.url('/img/14'), output: server.url('/img/17'), sha: (await import('node:crypto')).createHash('md5').update(img14).digest('hex') },
  ];
  const file = join(dir, 'pairs.csv');
  await writeFile(file, 'id,input,output,sha\n' + rowsIn.map((r) => `${r.id},${r.input},${r.output},${r.sha ?? ''}`).join('\n') + '\n');
  const out = join(dir, 'out');
  const params = { ...PARAMS, resize_mode: 'no' as const, verify_hash: { image: 'sha' } };
  const result = await downloadUrls(file, { out, fields: { image: 'input', files: { output: 'output' } }, params, reporter: quiet() });
  assert.deepEqual(result.samples, { success: 2, failed_to_download: 2, failed_to_decode: 0, skipped: 0 });
  assert.deepEqual(result.files, { success: 6, failed_to_download: 2, failed_to_decode: 0, skipped: 0 });

  const cat = await Catalog.open(out);
  const dl = await cat.all<{ sample_id: string; role: string; status: string; error: string | null; width: number }>(
    `SELECT sample_id, role, status, error, width FROM downloads ORDER BY sample_id, role`,
  );
  const drops = await cat.all<{ sample_id: string; reason: string }>(`SELECT sample_id, reason FROM drops ORDER BY sample_id`);
  cat.close();
  const by = (id: string, role: string) => dl.find((r) => r.sample_id === id && r.role === role)!;
  assert.equal(by('pair_ok', 'image').width, 160, "resize_mode 'no' keeps the size");
  assert.equal(by('pair_half', 'image').status, 'success');
  assert.equal(by('pair_half', 'output').error, 'HTTP 410');
  assert.match(by('hash_bad', 'image').error!, /^sha256 mismatch: expected abababab/);
  assert.equal(by('hash_bad', 'output').status, 'success');
  assert.equal(by('hash_md5', 'image').status, 'success');
  assert.deepEqual(drops, [
    { sample_id: 'hash_bad', reason: 'failed_to_download' },
    { sample_id: 'pair_half', reason: 'failed_to_download' },
  ]);
  const jsonl = (await readFile(join(out, 'download_status.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(jsonl.filter((r) => r.sample_id === 'pair_half').map((r) => [r.role, r.status, r.sample_status]), [
    ['image', 'success', 'failed_to_download'],
    ['output', 'failed_to_download', 'failed_to_download'],
  ]);

  // The manifest now names another output URL: only that file is fetched.
  const hits12 = server.hits('/img/12');
  await writeFile(file, 'id,input,output,sha\n' + rowsIn.map((r) => `${r.id},${r.input},${r.id === 'pair_half' ? server.url('/img/18') : r.output},${r.sha ?? ''}`).join('\n') + '\n');
  const again = await downloadUrls(file, { out, fields: { image: 'input', files: { output: 'output' } }, params, reporter: quiet() });
  assert.equal(again.fetched, 1);
  assert.equal(server.hits('/img/11'), 1, 'the image of the pair is not fetched again');
  assert.equal(server.hits('/img/18'), 1);
  assert.equal(server.hits('/img/12'), hits12);
  assert.equal(again.samples.success, 3);
  assert.ok(existsSync(join(out, 'download_status.parquet')));
});
