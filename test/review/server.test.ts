import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import sharp from 'sharp';
import { selectSamplesSql } from '../../src/review/decisions.js';
import { gridWhere, type GridFilter } from '../../src/review/api/grid.js';
import { startReviewServer } from '../../src/review/server.js';
import { serveReviewFixture } from './server-fixture.js';

const served = serveReviewFixture();

async function get(path: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(served.base + path, init);
  const type = r.headers.get('content-type') ?? '';
  return { status: r.status, body: type.includes('json') ? await r.json() : Buffer.from(await r.arrayBuffer()), headers: r.headers };
}
const post = (path: string, body: unknown) =>
  get(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

test('GET /api/samples pages the kept samples in ingest order; filters narrow them', async () => {
  const all = await get('/api/samples?limit=500');
  assert.equal(all.status, 200);
  const active = await served.srv.catalog.scalar(`SELECT count(*) FROM active`);
  assert.equal(all.body.total, active);
  assert.equal(all.body.items.length, active);
  assert.deepEqual(all.body.items.map((i: any) => i.rn), [...all.body.items.map((i: any) => i.rn)].sort((a: number, b: number) => a - b));
  const p2 = await get('/api/samples?offset=10&limit=5');
  assert.deepEqual(p2.body.items.map((i: any) => i.id), all.body.items.slice(10, 15).map((i: any) => i.id));
  const dup = await get('/api/samples?issue=duplicate&split=train&limit=500');
  assert.ok(dup.body.total > 0);
  assert.ok(dup.body.items.every((i: any) => i.issues.includes('duplicate') && i.split === 'train'));
  assert.equal(dup.body.items[0].thumb, `/thumb/${encodeURIComponent(dup.body.items[0].id)}`);
  const withDropped = await get('/api/samples?scope=run&limit=500');
  assert.equal(withDropped.body.total, served.fx.truth.count);
  assert.equal(withDropped.body.items.filter((i: any) => i.dropped).length, served.fx.truth.count - active);
  assert.equal((await get('/api/samples?bogus=1')).status, 400);
  assert.equal((await get('/api/samples?limit=100000')).status, 400);
  assert.equal((await get('/api/samples?scoreMin=abc')).status, 400);
});

test('grid filters select exactly the samples decisions.ts filterSql selects', async () => {
  const [a, b] = served.fx.duplicates[0];
  await post('/api/tags', { ids: [a, b], add: ['duplicate_exact'] });
  await post('/api/decisions', { id: a, action: 'remove' });
  const filters: GridFilter[] = [
    {}, { split: 'test' }, { label: ['beach', 'city'] }, { issue: 'duplicate' }, { issue: ['leak', 'duplicate'], split: 'train' },
    { source: 'imgsift' }, { issue: 'duplicate', scoreMin: 0.5 }, { scoreMax: 0.1 }, { flagged: true }, { flagged: false },
    { tag: 'duplicate_exact' }, { decision: 'remove' }, { decision: 'none' }, { decision: ['none', 'remove'], label: 'forest' },
    { search: 'BEACH' }, { ids: [a, 'nope'] },
  ];
  for (const f of filters) {
    const w = gridWhere(f);
    const mine = (await served.srv.catalog.all<{ id: string }>(`SELECT g.id FROM review_grid g WHERE ${w.sql} ORDER BY g.id`, w.params)).map((r) => r.id);
    const s = selectSamplesSql({ ...f, scope: 'active' }, 's.id');
    const theirs = (await served.srv.catalog.all<{ id: string }>(`${s.sql} ORDER BY s.id`, s.params)).map((r) => r.id);
    assert.deepEqual(mine, theirs, JSON.stringify(f));
  }
  await post('/api/undo', {});
  await post('/api/undo', {});
});

test('GET /api/facets counts each facet with the other choices applied', async () => {
  const all = await get('/api/facets');
  const sum = (xs: any[]) => xs.reduce((n, x) => n + x.count, 0);
  assert.equal(sum(all.body.split), all.body.total);
  assert.equal(sum(all.body.label), all.body.total);
  assert.equal(all.body.issue.find((x: any) => x.value === 'duplicate').count, new Set(served.fx.duplicates.map((d) => d[0])).size);
  const train = await get('/api/facets?split=train');
  assert.equal(train.body.total, all.body.split.find((x: any) => x.value === 'train').count);
  assert.deepEqual(train.body.split, all.body.split, 'the split facet ignores its own choice');
  assert.equal(sum(train.body.label), train.body.total, 'other facets follow the choice');
  const page = await get('/api/samples?split=train&label=forest&limit=1');
  const forest = await get('/api/facets?split=train&label=forest');
  assert.equal(forest.body.total, page.body.total);
});

test('GET /api/samples/:id gives metadata, issues with evidence, caption and history; 404 for unknown ids', async () => {
  const [copy, kept] = served.fx.duplicates[1];
  const d = await get(`/api/samples/${encodeURIComponent(copy)}`);
  assert.equal(d.status, 200);
  assert.equal(d.body.id, copy);
  assert.ok(d.body.text, 'the caption');
  assert.match(d.body.asset.format, /^(jpeg|png)$/);
  assert.ok(d.body.asset.width > 0);
  const dup = d.body.issues.find((i: any) => i.type === 'duplicate');
  assert.equal(dup.evidence.kept, kept);
  assert.deepEqual(d.body.history, []);
  assert.equal((await get('/api/samples/nope')).status, 404);
});

test('GET /api/pairs shows duplicate and leak pairs side by side with how they matched', async () => {
  const dup = await get('/api/pairs?type=duplicate&limit=500');
  assert.equal(dup.body.total, served.fx.duplicates.length);
  const got = new Set(dup.body.pairs.map((p: any) => `${p.sample.id}|${p.other.id}`));
  for (const [c, k] of served.fx.duplicates) assert.ok(got.has(`${c}|${k}`));
  assert.ok(dup.body.pairs.some((p: any) => p.method === 'perceptual' && p.similarity === 0.953 && p.distance === 3));
  const leak = await get('/api/pairs?type=leak');
  assert.equal(leak.body.total, served.fx.leaks.length);
  assert.equal(leak.body.pairs[0].other.split, 'train');
  assert.equal((await get('/api/pairs?type=other')).status, 400);
});

test('POST /api/decisions on one, a selection and the filtered view; every change is an event; undo restores', async () => {
  const ids = (await get('/api/samples?label=snow&limit=500')).body.items.map((i: any) => i.id);
  const one = await post('/api/decisions', { id: ids[0], action: 'relabel', newLabel: 'beach', reviewer: 'ann' });
  assert.equal(one.status, 200);
  assert.deepEqual(one.body.states[ids[0]].decision, { action: 'relabel', new_label: 'beach' });
  const sel = await post('/api/decisions', { ids: ids.slice(1, 3), action: 'keep' });
  assert.equal(sel.body.changed, 2);
  const view = await post('/api/decisions', { filter: { label: 'snow', decision: 'none' }, action: 'remove' });
  assert.equal(view.body.changed, ids.length - 3);
  const rows = await served.srv.catalog.all<{ sample_id: string; action: string; new_label: string | null; reviewer: string }>(
    `SELECT sample_id, action, new_label, reviewer FROM decisions WHERE sample_id IN (SELECT unnest(?::VARCHAR[]))`, [`[${ids.map((i: string) => JSON.stringify(i)).join(',')}]`],
  );
  assert.equal(rows.length, ids.length);
  assert.equal(rows.find((r) => r.sample_id === ids[0])!.reviewer, 'ann');
  assert.equal(rows.filter((r) => r.action === 'remove').length, ids.length - 3);
  const ev = await served.srv.catalog.all<{ who: string; old: string; new: string }>(
    `SELECT who, old::VARCHAR AS old, new::VARCHAR AS new FROM events WHERE sample_id = ? ORDER BY id`, [ids[0]]);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].who, 'ann');
  assert.equal(JSON.parse(ev[0].new).decision.new_label, 'beach');
  assert.equal(JSON.parse(ev[0].old).decision, null);
  const facets = await get('/api/facets?label=snow');
  assert.equal(facets.body.decision.find((x: any) => x.value === 'remove').count, ids.length - 3, 'counts follow writes');

  const u = await post('/api/undo', {});
  assert.equal(u.body.changed, ids.length - 3);
  assert.equal(await served.srv.catalog.scalar(`SELECT count(*) FROM decisions WHERE action = 'remove'`), 0);
  const detail = await get(`/api/samples/${encodeURIComponent(ids[0])}`);
  assert.equal(detail.body.history.length, 1);
  assert.equal((await post('/api/decisions', { action: 'relabel', id: ids[0] })).status, 400, 'relabel needs newLabel');
  assert.equal((await post('/api/decisions', { action: 'keep' })).status, 400, 'no target');
  assert.equal((await post('/api/decisions', { action: 'keep', id: 'nope' })).status, 400, 'unknown id');
  const form = await get('/api/decisions', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'action=keep' });
  assert.equal(form.status, 415);
  const cross = await get('/api/decisions', { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' }, body: '{}' });
  assert.equal(cross.status, 403);
});

test('POST /api/tags adds and removes taxonomy tags; unknown tags are refused; GET /api/taxonomy lists seed 002 tags', async () => {
  const tax = await get('/api/taxonomy');
  assert.ok(tax.body.tags.some((t: any) => t.name === 'train_test_leak'));
  assert.equal(tax.body.tags.length, 13);
  const [test1] = served.fx.leaks[0];
  const add = await post('/api/tags', { id: test1, add: ['train_test_leak', 'remove'] });
  assert.deepEqual(add.body.states[test1].tags, ['remove', 'train_test_leak']);
  const rm = await post('/api/tags', { id: test1, remove: ['remove'] });
  assert.deepEqual(rm.body.states[test1].tags, ['train_test_leak']);
  assert.equal((await post('/api/tags', { id: test1, add: ['made_up'] })).status, 400);
  const ev = await served.srv.catalog.scalar(`SELECT count(*) FROM events WHERE sample_id = ? AND action IN ('tag', 'untag')`, [test1]);
  assert.equal(ev, 2);
});

test('concurrent decisions from two clients lose nothing', async () => {
  const items = (await get('/api/samples?limit=60')).body.items.map((i: any) => i.id) as string[];
  const before = await served.srv.catalog.scalar(`SELECT count(*) FROM events WHERE sample_id IS NOT NULL`);
  const jobs = items.map((id, i) =>
    post(i % 2 ? '/api/tags' : '/api/decisions', i % 2 ? { id, add: ['outlier_valid'], reviewer: 'bob' } : { id, action: 'keep', reviewer: 'eve' }),
  );
  const res = await Promise.all(jobs);
  assert.ok(res.every((r) => r.status === 200));
  const tagged = await served.srv.catalog.scalar(`SELECT count(*) FROM tags WHERE tag = 'outlier_valid' AND reviewer = 'bob'`);
  const kept = await served.srv.catalog.scalar(`SELECT count(*) FROM decisions WHERE action = 'keep' AND reviewer = 'eve'`);
  assert.equal(tagged, items.length / 2);
  assert.equal(kept, items.length / 2);
  assert.equal(await served.srv.catalog.scalar(`SELECT count(*) FROM events WHERE sample_id IS NOT NULL`), before + items.length);
});

test('GET /thumb/:id and /image/:id serve only catalogued files; traversal and unknown ids are 404', async () => {
  const id = (await get('/api/samples?limit=1')).body.items[0].id;
  const t = await get(`/thumb/${encodeURIComponent(id)}`);
  assert.equal(t.status, 200);
  assert.equal(t.headers.get('content-type'), 'image/webp');
  const meta = await sharp(t.body).metadata();
  assert.ok(Math.max(meta.width!, meta.height!) <= 256);
  const again = await get(`/thumb/${encodeURIComponent(id)}`);
  assert.deepEqual(again.body, t.body, 'served from the disk cache');
  const full = await get(`/image/${encodeURIComponent(id)}`);
  assert.equal(full.headers.get('content-type'), 'image/jpeg');
  for (const p of ['/thumb/..%2F..%2Fetc%2Fpasswd', '/thumb/%2Fetc%2Fpasswd', '/image/..%2F..%2F..%2Fetc%2Fpasswd', '/thumb/nope.jpg',
    '/thumb/../../etc/passwd', '/image/' + encodeURIComponent(served.fx.workdir + '/catalog.duckdb')]) {
    const r = await get(p);
    assert.equal(r.status, 404, p);
    assert.ok(!String(r.body).includes('root:'), p);
  }
  assert.equal((await get('/thumb/%E0%A4%A')).status, 400);
  // A corrupt file (kept with scope=run) gets a placeholder tile, not a server error.
  const corrupt = served.fx.truth.broken.map((b) => served.fx.idOf.get(b.file)).find(Boolean)!;
  const c = await get(`/thumb/${encodeURIComponent(corrupt)}`);
  assert.equal(c.status, 200);
  assert.equal(c.headers.get('content-type'), 'image/svg+xml');
  assert.equal((await get(`/image/${encodeURIComponent(corrupt)}`)).status, 422);
});

test('the app shell and its assets are served with a strict content security policy', async () => {
  const r = await fetch(served.base + '/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-security-policy')!, /script-src 'self'/);
  const html = await r.text();
  assert.match(html, /<script type="module" src="\/app.js">/);
  assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, 'nothing from outside');
  assert.equal((await fetch(served.base + '/app.js')).status, 200);
  assert.equal((await fetch(served.base + '/nope')).status, 404);
  // fetch() will not send a foreign Host header; node:http will (as a DNS-rebinding page's browser would).
  const rebind = await new Promise<number>((done, reject) => {
    request({ host: '127.0.0.1', port: served.srv.port, path: '/api/info', headers: { Host: `evil.example:${served.srv.port}` } }, (res) => {
      res.resume();
      done(res.statusCode!);
    }).on('error', reject).end();
  });
  assert.equal(rebind, 421);
});

test('token mode: requests without the token get 401; ?token= sets a cookie; the header works', async () => {
  await served.srv.close();
  // Binding a non-loopback address is not allowed here: force token mode on another loopback address.
  const t = await startReviewServer({ workdir: served.fx.workdir, port: 0, host: '127.0.0.2', requireToken: true, reviewer: 'tester' }).catch(() =>
    startReviewServer({ workdir: served.fx.workdir, port: 0, requireToken: true, reviewer: 'tester' }));
  served.srv = t;
  assert.ok(t.token && t.token.length >= 40);
  const root = `http://${t.host}:${t.port}`;
  assert.equal((await fetch(root + '/api/info')).status, 401);
  assert.equal((await fetch(root + '/')).status, 401);
  assert.equal((await fetch(root + '/thumb/x')).status, 401);
  assert.equal((await fetch(root + '/api/info', { headers: { 'X-Imgsift-Token': 'wrong' } })).status, 401);
  assert.equal((await fetch(root + '/api/info', { headers: { 'X-Imgsift-Token': t.token! } })).status, 200);
  assert.equal((await fetch(root + '/api/info', { headers: { Authorization: `Bearer ${t.token}` } })).status, 200);
  const first = await fetch(t.url, { redirect: 'manual' });
  assert.equal(first.status, 302);
  const cookie = first.headers.get('set-cookie')!.split(';')[0];
  assert.match(first.headers.get('set-cookie')!, /HttpOnly; SameSite=Strict/);
  assert.equal((await fetch(root + '/api/info', { headers: { Cookie: cookie } })).status, 200);
});
