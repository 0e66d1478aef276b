import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { startFaultServer } from './fault-server.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { Reporter } from '../../src/exec/reporter.js';
import { downloadUrls } from '../../src/download/index.js';

const CHILD = fileURLToPath(new URL('./fixtures/run-download.ts', import.meta.url));
const N = 200;

async function countObjects(root: string): Promise<{ objects: number; temps: number }> {
  let objects = 0;
  for (const d of await readdir(root)) if (d !== 'tmp') objects += (await readdir(join(root, d))).length;
  return { objects, temps: (await readdir(join(root, 'tmp'))).length };
}

test('SIGKILL in the middle of a download, then rerun: every success exactly once, none fetched twice', async () => {
  const server = await startFaultServer();
  try {
    await Promise.all(Array.from({ length: N }, (_, i) => server.image(100 + i)));
    const dir = await tempDir();
    const manifest = join(dir, 'urls.txt');
    const paths = Array.from({ length: N }, (_, i) => `/delay/40/${100 + i}`);
    await writeFile(manifest, paths.map((p) => server.url(p)).join('\n') + '\n');
    const out = join(dir, 'out');

    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, manifest, out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const killed = new Promise<void>((resolve) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 30_000);
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = [...stderr.matchAll(/"label":"download","done":(\d+)/g)].pop();
        if (m && Number(m[1]) >= N / 2) {
          clearTimeout(timer);
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await killed;
    const [code, signal] = await once(child, 'exit');
    assert.equal(signal, 'SIGKILL', `the download finished before it could be killed (code ${code}): ${stderr.slice(-500)}`);
    const firstRunHits = paths.reduce((n, p) => n + server.hits(p), 0);
    assert.ok(firstRunHits < N, 'killed before every URL was asked');

    const result = await downloadUrls(manifest, { out, params: { concurrency: 8, retries: 1 }, reporter: new Reporter({ mode: 'quiet' }) });
    assert.deepEqual(result.samples, { success: N, failed_to_download: 0, failed_to_decode: 0, skipped: 0 });

    const cat = await Catalog.open(out);
    const rows = await cat.all<{ url: string; run_id: number }>(`SELECT url, run_id FROM downloads WHERE status = 'success'`);
    const dupFiles = await cat.scalar(`SELECT count(*) - count(DISTINCT uri) FROM files`);
    cat.close();
    assert.equal(rows.length, N);
    assert.equal(new Set(rows.map((r) => r.url)).size, N, 'one row per URL');
    assert.equal(dupFiles, 0);
    const fromFirst = rows.filter((r) => r.run_id === 1);
    assert.ok(fromFirst.length > 0, 'the killed run had committed some successes');
    for (const r of fromFirst) assert.equal(server.hits(new URL(r.url).pathname), 1, `${r.url} was committed, then fetched again`);
    for (const p of paths) assert.ok(server.hits(p) >= 1 && server.hits(p) <= 2, `${p}: ${server.hits(p)} requests`);
    assert.equal(result.fetched, N - fromFirst.length);
    assert.deepEqual(await countObjects(join(out, 'objects')), { objects: N, temps: 0 }, 'each image stored once, no temporary left');
  } finally {
    await server.close();
  }
});

test('an abort (Ctrl-C) stops after the work in flight, exits 130, and the rerun fetches only the rest', async () => {
  const server = await startFaultServer();
  try {
    const dir = await tempDir();
    const manifest = join(dir, 'urls.txt');
    const paths = Array.from({ length: 40 }, (_, i) => `/delay/250/${i % 20}?k=${i}`);
    await writeFile(manifest, paths.map((p) => server.url(p)).join('\n') + '\n');
    const out = join(dir, 'out');
    const controller = new AbortController();
    // Abort a while after the first request arrives (not after a fixed time: on a loaded machine
    // opening the catalog alone can take longer), so some downloads are committed and most are not.
    const firstHit = setInterval(() => {
      if (server.hits('/delay/250/0') > 0) {
        clearInterval(firstHit);
        setTimeout(() => controller.abort(), 1500);
      }
    }, 10);
    const params = { concurrency: 2, per_host: 2, durable: false };
    await assert.rejects(
      downloadUrls(manifest, { out, params, reporter: new Reporter({ mode: 'quiet' }), signal: controller.signal }),
      (err: Error & { exitCode?: number }) => err.exitCode === 130 && /interrupted; run the same command again to resume/.test(err.message),
    );
    const cat = await Catalog.open(out);
    const done = await cat.scalar(`SELECT count(*) FROM downloads WHERE status = 'success'`);
    const status = await cat.one<{ status: string }>(`SELECT status FROM runs WHERE id = 1`);
    cat.close();
    assert.ok(done > 0 && done < 40, `${done} committed before the abort`);
    assert.equal(status?.status, 'interrupted');
    const hitsBefore = server.hits('/delay/250/0');
    const result = await downloadUrls(manifest, { out, params, reporter: new Reporter({ mode: 'quiet' }) });
    assert.equal(result.samples.success, 40);
    assert.equal(result.fetched, 40 - done, 'what was committed is not fetched again');
    assert.ok(server.hits('/delay/250/0') <= hitsBefore + 1);
  } finally {
    await server.close();
  }
});
