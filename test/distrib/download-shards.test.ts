import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { startFaultServer } from '../download/fault-server.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { buildShard } from '../../src/distrib/shard-build.js';
import { build } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';

const quiet = () => new Reporter({ mode: 'quiet' });

test('download runs sharded: each URL fetched once, by its shard; the merge fetches nothing and reads the stored objects', async () => {
  const server = await startFaultServer();
  const root = await tempDir();
  try {
    const n = 10;
    const rows = Array.from({ length: n }, (_, i) => ({ id: `s${i}`, url: server.url(`/img/${i}`) }));
    rows.push({ id: 'bad', url: server.url('/status/404') });
    await writeFile(join(root, 'm.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const recipe = join(root, 'recipe.yaml');
    await writeFile(recipe, `name: dl
workdir: ./work
source: { format: jsonl, path: ./m.jsonl }
steps:
  - download: { durable: false, retries: 0, image_size: 128 }
  - probe: {}
  - hash: {}
export:
  - { format: manifest, to: ./out/manifest.jsonl }
`);
    let samples = 0;
    for (const index of [0, 1, 2]) samples += (await buildShard(recipe, { shard: { index, count: 3 }, workers: 1, reporter: quiet() })).samples;
    assert.equal(samples, n + 1);
    for (let i = 0; i < n; i++) assert.equal(server.hits(`/img/${i}`), 1, `/img/${i} fetched once, by its shard`);

    const result = await build(recipe, { merge: true, workers: 1, reporter: quiet() });
    for (let i = 0; i < n; i++) assert.equal(server.hits(`/img/${i}`), 1, `/img/${i} not fetched again by the merge`);
    assert.equal(result.summary.total, n, 'the 404 is dropped, as in a single build');
    const dl = result.summary.steps.find((s) => s.name === 'download')!;
    assert.equal(dl.stats['samples downloaded'], n);
    assert.equal(dl.stats['fetched this run'], 0);
    assert.equal(result.summary.steps.find((s) => s.name === 'probe')!.stats['samples computed'], 0);

    const cat = await Catalog.open(join(root, 'work'), { readOnly: true });
    try {
      const files = await cat.all<{ uri: string }>(`SELECT uri FROM files WHERE role = 'image' AND sample_id <> 'bad'`);
      assert.equal(files.length, n);
      const paths = await cat.all<{ path: string }>(`SELECT path FROM downloads WHERE status = 'success'`);
      assert.deepEqual(paths.map((p) => p.path).sort(), files.map((f) => f.uri).sort());
      for (const f of files) {
        assert.ok(f.uri.startsWith(join(root, 'work', 'objects') + '/'), `${f.uri} is the main workdir's object`);
        assert.ok(existsSync(f.uri));
      }
    } finally {
      cat.close();
    }
  } finally {
    await server.close();
  }
});
