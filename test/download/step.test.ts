import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { startFaultServer } from './fault-server.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { useRun } from '../../src/catalog/run-view.js';
import { ingest } from '../../src/exec/ingest.js';
import { Reporter } from '../../src/exec/reporter.js';
import { JsonlSource } from '../../src/sources/jsonl.js';
import { downloadStep } from '../../src/steps/download.js';
import { probeImage } from '../../src/image/probe.js';

test('the download step points files at stored objects and drops samples that did not download', async () => {
  const server = await startFaultServer();
  const dir = await tempDir();
  const catalog = await Catalog.open(join(dir, 'work'));
  try {
    const manifest = join(dir, 'm.jsonl');
    await writeFile(manifest, [
      { id: 'a', url: server.url('/img/1'), text: 'a cat' },
      { id: 'b', url: server.url('/html') },
      { id: 'c', url: server.url('/big/2') },
    ].map((r) => JSON.stringify(r)).join('\n'));
    const reporter = new Reporter({ mode: 'quiet' });
    await catalog.run(`INSERT INTO runs (id, started, status) VALUES (1, current_timestamp, 'running')`);
    await ingest(catalog, new JsonlSource({ path: manifest, fields: {}, allowAbsolutePaths: false }), { runId: 1, reporter });
    await useRun(catalog, 1);
    const ctx = { catalog, runId: 1, workdir: join(dir, 'work'), reporter, baseDir: dir };
    const params = downloadStep.params.parse({ resize_mode: 'keep_ratio_largest', image_size: 512, durable: false, retries: 0 });
    const stats = await downloadStep.run(ctx, params);
    assert.equal(stats['samples downloaded'], 2);
    assert.equal(stats['samples failed to decode'], 1);
    assert.equal(stats['error 1'], '1 × failed_to_decode: not an image: HTML document');

    const active = await catalog.all<{ id: string; uri: string }>(`SELECT a.id, f.uri FROM active a JOIN files f ON f.sample_id = a.id ORDER BY a.id`);
    assert.deepEqual(active.map((r) => r.id), ['a', 'c'], 'the failed sample left the run');
    const big = await probeImage(await readFile(active[1].uri), active[1].uri);
    assert.deepEqual([big.width, big.height, big.format, big.decodes], [512, 384, 'jpeg', true], 'later steps read the stored, resized file');
    assert.equal(await catalog.scalar(`SELECT count(*) FROM drops WHERE reason = 'failed_to_decode' AND step = 'download'`), 1);
    const status = (await readFile(join(dir, 'work', 'download_status.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(status.length, 3);
    assert.throws(() => downloadStep.params.parse({ resize_mode: 'stretch' }), /resize_mode/);
    assert.throws(() => downloadStep.params.parse({ max_bytes: 'lots' }), /max_bytes|size in bytes/);
  } finally {
    catalog.close();
    await server.close();
  }
});
