import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/catalog/schema.js';
import { syncDrops, useRun } from '../../src/catalog/run-view.js';
import { tempDir } from '../helpers/tmp.js';

test('a new catalog is migrated to the current schema and keeps its data across reopen', async () => {
  const dir = await tempDir();
  const c = await Catalog.open(dir);
  assert.equal(await c.schemaVersion(), SCHEMA_VERSION);
  const tables = await c.all<{ table_name: string }>(`SELECT table_name FROM information_schema.tables ORDER BY 1`);
  for (const t of ['samples', 'files', 'assets', 'step_results', 'issues', 'tags', 'events', 'runs', 'decisions']) {
    assert.ok(tables.some((r) => r.table_name === t), `missing table ${t}`);
  }
  await c.append('samples', COLUMNS.samples, [
    { id: 'a', source: 's', ord: 1, first_run: 1, seen_run: 1, meta: { k: 1 } },
    { id: 'b', source: 's', ord: 2, first_run: 1, seen_run: 1, label: 'cat' },
  ]);
  c.close();
  const again = await Catalog.open(dir);
  assert.equal(await again.scalar(`SELECT count(*) FROM samples`), 2);
  const row = await again.one<{ label: string; k: string }>(`SELECT label, meta->>'k' AS k FROM samples WHERE id = 'b' OR id = 'a' ORDER BY id LIMIT 1`);
  assert.equal(row?.k, '1');
  assert.equal(MIGRATIONS.length, SCHEMA_VERSION);
  again.close();
});

test('a transaction that throws leaves nothing behind', async () => {
  const c = await Catalog.open(await tempDir());
  await assert.rejects(
    c.transaction(async (tx) => {
      await tx.append('samples', COLUMNS.samples, [{ id: 'x', source: 's', ord: 1, first_run: 1, seen_run: 1 }]);
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(await c.scalar(`SELECT count(*) FROM samples`), 0);
  c.close();
});

test('queries issued concurrently are serialised and all succeed', async () => {
  const c = await Catalog.open(await tempDir());
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      c.append('samples', COLUMNS.samples, [{ id: `s${i}`, source: 's', ord: i, first_run: 1, seen_run: 1 }]),
    ),
  );
  assert.equal(await c.scalar(`SELECT count(*) FROM samples`), 20);
  c.close();
});

test('a catalog from a newer imgsift is refused with a clear message', async () => {
  const dir = await tempDir();
  const c = await Catalog.open(dir);
  await c.run(`UPDATE meta SET value = '999' WHERE key = 'schema_version'`);
  c.close();
  await assert.rejects(Catalog.open(dir), /schema version 999, newer than this imgsift/);
});

test('a second process cannot open a catalog in use, and is told why', async () => {
  const dir = await tempDir();
  const c = await Catalog.open(dir);
  const { spawnSync } = await import('node:child_process');
  const script = `import('${new URL('../../src/catalog/catalog.ts', import.meta.url).href}').then(async (m) => {
    try { await m.Catalog.open(${JSON.stringify(dir)}); console.log('opened'); } catch (e) { console.log(e.message); } })`;
  const res = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
  assert.match(res.stdout, /in use by another process/);
  c.close();
});

test('the active view holds the run\'s samples minus dropped ones', async () => {
  const c = await Catalog.open(await tempDir());
  await c.append('samples', COLUMNS.samples, [
    { id: 'old', source: 's', ord: 1, first_run: 1, seen_run: 1 },
    { id: 'a', source: 's', ord: 2, first_run: 1, seen_run: 2 },
    { id: 'b', source: 's', ord: 3, first_run: 2, seen_run: 2 },
  ]);
  await c.append('drops', COLUMNS.drops, [{ sample_id: 'b', reason: 'corrupt', step: 'filter', run_id: 2 }]);
  await syncDrops(c, 2);
  await useRun(c, 2);
  const ids = (await c.all<{ id: string }>(`SELECT id FROM active ORDER BY id`)).map((r) => r.id);
  assert.deepEqual(ids, ['a']);
  c.close();
});

test('close() while queries are still running waits for them: they complete, later ones are refused, and the file is released', async () => {
  const dir = await tempDir();
  for (const shared of [false, true]) {
    const catalog = await Catalog.open(dir, { shared });
    // A query that takes a while on a DuckDB worker thread, and one queued behind it.
    const slow = catalog.scalar(`SELECT count(*) FROM range(200000000) t(x) WHERE x % 7 = 3`);
    const queued = catalog.scalar(`SELECT 42`);
    catalog.close();
    assert.equal(await slow, 28571429);
    assert.equal(await queued, 42);
    await assert.rejects(catalog.scalar('SELECT 1'), /is closed/);
    // The connection is closed once they settle: the file opens again (exclusively) in this process.
    await new Promise((r) => setTimeout(r, 50));
    const again = await Catalog.open(dir, { lockWaitMs: 2000 });
    assert.equal(await again.scalar('SELECT 1'), 1);
    again.close();
  }
});
