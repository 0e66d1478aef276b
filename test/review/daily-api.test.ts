import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { build } from '../../src/exec/build.js';
import { Reporter } from '../../src/exec/reporter.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { parseTokenFile } from '../../src/review/auth.js';
import { describeMatch } from '../../src/review/evidence.js';
import { startReviewServer } from '../../src/review/server.js';
import { runCli, startCli } from '../helpers/cli.js';
import { serveReviewFixture } from './server-fixture.js';

/** The review API's daily-tool parts: limits, reviewers named by tokens, sort, copies, evidence. */
const served = serveReviewFixture();

async function call(path: string, body?: unknown, headers: Record<string, string> = {}, root = served.base): Promise<{ status: number; body: any }> {
  const init: RequestInit = body === undefined ? { headers } : { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) };
  const r = await fetch(root + path, init);
  return { status: r.status, body: await r.json() };
}

test('labels and tags have length limits and printable characters, refused with a 400 that says which', async () => {
  const id = served.fx.duplicates[0][0];
  const long = await call('/api/decisions', { id, action: 'relabel', newLabel: 'x'.repeat(201) });
  assert.equal(long.status, 400);
  assert.match(long.body.error, /newLabel.*201 characters.*limit is 200/);
  const ctrl = await call('/api/decisions', { id, action: 'relabel', newLabel: 'cat\u0000dog' });
  assert.equal(ctrl.status, 400);
  assert.match(ctrl.body.error, /newLabel.*not printable \(U\+0000\)/);
  const bidi = await call('/api/decisions', { id, action: 'relabel', newLabel: 'cat\u202Edog' });
  assert.equal(bidi.status, 400, 'format characters (bidi overrides) are refused too');
  assert.equal((await call('/api/decisions', { id, action: 'relabel', newLabel: '   ' })).status, 400);
  const ok = await call('/api/decisions', { id, action: 'relabel', newLabel: 'ç'.repeat(200) });
  assert.equal(ok.status, 200, '200 characters (not bytes) pass');
  const tag = await call('/api/tags', { id, add: ['t'.repeat(65)] });
  assert.equal(tag.status, 400);
  assert.match(tag.body.error, /add\.0: a tag is 65 characters long; the limit is 64/);
  const many = await call('/api/tags', { id, add: Array.from({ length: 33 }, (_, i) => `t${i}`) });
  assert.equal(many.status, 400);
  assert.match(many.body.error, /at most 32 tags per request/);
  const split = await call('/api/tags', { id, add: Array.from({ length: 20 }, (_, i) => `t${i}`), remove: Array.from({ length: 20 }, (_, i) => `u${i}`) });
  assert.equal(split.status, 400);
  assert.match(split.body.error, /at most 32 tags per request \(got 40\)/);
  assert.equal((await call('/api/decisions', { id, action: 'keep', reviewer: 'r'.repeat(101) })).status, 400);
  assert.equal((await call('/api/decisions', { id, action: 'keep', reviewer: 'ann\nbob' })).status, 400);
  // Nothing refused reached the catalog.
  const d = await served.srv.catalog.one<{ new_label: string }>(`SELECT new_label FROM decisions WHERE sample_id = ?`, [id]);
  assert.equal(d?.new_label, 'ç'.repeat(200));
  assert.equal(await served.srv.catalog.scalar(`SELECT count(*) FROM tags WHERE sample_id = ?`, [id]), 0);
  await call('/api/undo', {});
  const info = await call('/api/info');
  assert.deepEqual([info.body.limits.label, info.body.limits.tag, info.body.limits.tagsPerRequest], [200, 64, 32]);
});

test('GET /api/samples sorts by issue score and path; /api/position finds a sample in the sorted view', async () => {
  const byScore = await call('/api/samples?issue=duplicate&issue=leak&sort=score&limit=500');
  assert.equal(byScore.status, 200);
  const scores = byScore.body.items.map((i: any) => i.score);
  assert.ok(scores.length > 2 && scores.every((x: number) => typeof x === 'number'));
  assert.deepEqual(scores, [...scores].sort((a, b) => b - a), 'highest first');
  assert.ok(scores[0] > scores[scores.length - 1], 'duplicates (1.0) before leaks (0.97)');
  const asc = await call('/api/samples?issue=duplicate&issue=leak&sort=score_asc&limit=500');
  assert.equal(asc.body.items[0].score, Math.min(...scores));
  const byPath = await call('/api/samples?sort=path&limit=500');
  const paths = byPath.body.items.map((i: any) => i.path);
  assert.deepEqual(paths, [...paths].sort());
  // Samples without a flagged issue come last in a score sort over everything.
  const all = await call('/api/samples?sort=score&limit=500');
  const firstNull = all.body.items.findIndex((i: any) => i.score === null);
  assert.ok(firstNull > 0 && all.body.items.slice(firstNull).every((i: any) => i.score === null));
  const target = byPath.body.items[17];
  const pos = await call(`/api/position?sort=path&id=${encodeURIComponent(target.id)}`);
  assert.equal(pos.body.index, 17);
  const other = await call(`/api/position?sort=score&issue=duplicate&issue=leak&id=${encodeURIComponent(byScore.body.items[3].id)}`);
  assert.equal(other.body.index, 3);
  assert.equal((await call(`/api/position?split=test&id=${encodeURIComponent(served.fx.leaks[0][1])}`)).body.index, null, 'a train sample is not in the test view');
  // A sorted view that names decisions follows writes (its cached order is dropped).
  const before = await call('/api/samples?sort=score&decision=keep&limit=500');
  const pick = byScore.body.items[0].id;
  await call('/api/decisions', { id: pick, action: 'keep' });
  const afterKeep = await call('/api/samples?sort=score&decision=keep&limit=500');
  assert.equal(afterKeep.body.total, before.body.total + 1);
  assert.ok(afterKeep.body.items.some((i: any) => i.id === pick));
  assert.equal(afterKeep.body.items.length, afterKeep.body.total);
  await call('/api/undo', {});
  assert.equal((await call('/api/samples?sort=random')).status, 400);
  assert.equal((await call('/api/position')).status, 400);
});

test('pairs come grouped by the sample they copy, with every member, its size and decision, and the evidence in words', async () => {
  const r = await call('/api/pairs?type=duplicate&limit=500');
  assert.equal(r.body.total, served.fx.duplicates.length);
  // Members of a group are contiguous and the group lists them all.
  const seen: string[] = [];
  for (const p of r.body.pairs) if (seen[seen.length - 1] !== p.group) { assert.ok(!seen.includes(p.group), 'contiguous'); seen.push(p.group); }
  const byKept = new Map<string, string[]>();
  for (const [copy, kept] of served.fx.duplicates) byKept.set(kept, [...(byKept.get(kept) ?? []), copy]);
  for (const [kept, copies] of byKept) {
    const g = r.body.groups[kept];
    assert.equal(g.keeper, kept);
    assert.deepEqual(g.members.map((m: any) => m.id).sort(), [kept, ...copies].sort());
    assert.ok(g.members.every((m: any) => m.width > 0 && m.height > 0));
  }
  const exact = r.body.pairs.find((p: any) => p.method === 'exact');
  assert.equal(exact.summary, 'exact copy');
  const near = r.body.pairs.find((p: any) => p.method === 'perceptual');
  assert.equal(near.summary, 'pHash 3 bits');
  // A page boundary inside a group still gets the whole group.
  const small = await call('/api/pairs?type=duplicate&limit=1');
  const g0 = small.body.pairs[0].group;
  assert.equal(small.body.groups[g0].members.length, r.body.groups[g0].members.length);
});

test('POST /api/resolve keeps one copy and removes the others as one change, undone at once', async () => {
  const [copy, kept] = served.fx.duplicates[0];
  // Keep the copy dedup flagged, remove the one it kept: the reviewer overrules the step.
  const r = await call('/api/resolve', { keep: [copy], remove: [kept], reviewer: 'Saeed' });
  assert.equal(r.status, 200);
  assert.equal(r.body.changed, 2);
  assert.deepEqual(r.body.states[copy].decision, { action: 'keep', new_label: null });
  assert.deepEqual(r.body.states[kept].decision, { action: 'remove', new_label: null });
  const rows = await served.srv.catalog.all<{ sample_id: string; action: string; reviewer: string }>(
    `SELECT sample_id, action, reviewer FROM decisions WHERE sample_id IN (?, ?) ORDER BY action`, [copy, kept]);
  assert.deepEqual(rows, [{ sample_id: copy, action: 'keep', reviewer: 'Saeed' }, { sample_id: kept, action: 'remove', reviewer: 'Saeed' }]);
  const pairs = await call('/api/pairs?type=duplicate&limit=500');
  const side = pairs.body.pairs.find((p: any) => p.sample.id === copy);
  assert.equal(side.sample.decision.action, 'keep');
  assert.equal(side.other.decision.action, 'remove');
  const u = await call('/api/undo', { reviewer: 'Saeed' });
  assert.equal(u.body.changed, 2, 'one undo reverts both');
  assert.equal(await served.srv.catalog.scalar(`SELECT count(*) FROM decisions WHERE sample_id IN (?, ?)`, [copy, kept]), 0);
  assert.equal((await call('/api/resolve', { keep: [copy], remove: [copy] })).status, 400);
  assert.equal((await call('/api/resolve', { keep: [], remove: [copy] })).status, 400);
  assert.equal((await call('/api/resolve', { keep: ['nope'], remove: [] })).status, 400);
});

test('the detail names the matched sample and says how it matched; leaks use the matcher evidence of leak_pairs', async () => {
  const [copy, kept] = served.fx.duplicates[1];
  const d = await call(`/api/samples/${encodeURIComponent(copy)}`);
  const dup = d.body.issues.find((i: any) => i.type === 'duplicate');
  assert.equal(dup.other.id, kept);
  assert.ok(dup.other.width > 0);
  assert.equal(dup.summary, 'pHash 3 bits');
  const [test1, train1] = served.fx.leaks[0];
  await served.srv.catalog.run(`INSERT INTO leak_pairs (run_id, train_id, test_id, train_split, test_split, method, leak_type, similarity, hamming_distance, evidence)
    VALUES (?, ?, ?, 'train', 'test', 'perceptual', 'near_duplicate', 0.97, 2, ?)`,
    [served.srv.runId, train1, test1, JSON.stringify({ signal: 'matcher', matcher_method: 'geometric', variants: 'plain/mirror', phash: 14, inliers: 312, matches: 340 })]);
  const l = await call(`/api/samples/${encodeURIComponent(test1)}`);
  const leak = l.body.issues.find((i: any) => i.type === 'leak');
  assert.equal(leak.other.id, train1);
  assert.equal(leak.summary, 'ORB: 312 of 340 matches agree; pHash 14 bits after mirroring');
});

test('evidence in words for each kind of match', () => {
  assert.equal(describeMatch({ signal: 'sha256' }), 'exact bytes (same SHA-256)');
  assert.equal(describeMatch({ method: 'pixels', signal: 'pixels' }), 'same pixels (different file bytes)');
  assert.equal(describeMatch({ method: 'phash_mirrored', signal: 'phash_mirrored', variants: 'plain/mirror', phash: 3 }), 'pHash 3 bits after mirroring');
  assert.equal(describeMatch({ signal: 'phash', variants: 'trimmed/plain', phash: 1 }), 'pHash 1 bit after trimming borders');
  assert.equal(describeMatch({ signal: 'geometric', inliers: 312, matches: 340 }), 'ORB: 312 of 340 matches agree');
  assert.equal(describeMatch({ signal: 'aligned', regions: 9, agree: 8, angle: 3.02, scale: 1 }), 'aligned: 8 of 9 regions agree (rotated 3.0°)');
  assert.equal(describeMatch({ model: 'clip-vit-b32', similarity: 0.9712 }), 'cosine 0.97 (clip-vit-b32)');
  assert.equal(describeMatch({ method: 'semantic', similarity: 0.97 }), 'cosine 0.97');
  assert.equal(describeMatch({ method: 'exact', distance: 0 }), 'exact copy');
  assert.equal(describeMatch({ method: 'vendor', similarity: 0.9 }), 'vendor, similarity 90.0%');
});

test('token file: each token names its reviewer; a name the page sends is ignored; errors name file and line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-tokens-'));
  try {
    const kTok = 'k'.repeat(20) + 'Kush';
    const sTok = 's'.repeat(20) + 'Saeed';
    const file = join(dir, 'tokens.txt');
    await writeFile(file, `# reviewers\n${kTok} Kushagra\n\n${sTok}   Saeed Y.\n`);
    const tokens = parseTokenFile(`# reviewers\n${kTok} Kushagra\n\n${sTok}   Saeed Y.\n`, file);
    assert.deepEqual([...tokens.values()], ['Kushagra', 'Saeed Y.']);
    assert.throws(() => parseTokenFile(`${kTok} A\nshort B\n`, 'f.txt'), /f\.txt:2: the token is 5 characters; use at least 16/);
    assert.throws(() => parseTokenFile(`${kTok}\n`, 'f.txt'), /f\.txt:1: expected 'TOKEN REVIEWER-NAME'/);
    assert.throws(() => parseTokenFile(`${kTok} A\n${kTok} B\n`, 'f.txt'), /f\.txt:2: this token is already given to A/);
    assert.throws(() => parseTokenFile(`# none\n`, 'f.txt'), /f\.txt: no tokens/);

    await served.srv.close();
    served.srv = await startReviewServer({ workdir: served.fx.workdir, port: 0, reviewer: 'server-default', tokens });
    assert.deepEqual(served.srv.reviewers, ['Kushagra', 'Saeed Y.']);
    assert.equal(served.srv.token, undefined, 'no shared token in token-file mode');
    const root = `http://127.0.0.1:${served.srv.port}`;
    const [copy, kept] = served.fx.duplicates[2];
    assert.equal((await call('/api/decisions', { id: copy, action: 'keep' }, {}, root)).status, 401);
    assert.equal((await call('/api/decisions', { id: copy, action: 'keep' }, { 'X-Imgsift-Token': 'x'.repeat(24) }, root)).status, 401);
    // Kushagra's token, claiming to be Saeed: recorded as Kushagra.
    const k = await call('/api/decisions', { id: copy, action: 'remove', reviewer: 'Saeed Y.' }, { 'X-Imgsift-Token': kTok }, root);
    assert.equal(k.status, 200);
    const s = await call('/api/resolve', { keep: [kept], remove: [], reviewer: 'Kushagra' }, { Authorization: `Bearer ${sTok}` }, root);
    assert.equal(s.status, 200);
    const rows = await served.srv.catalog.all<{ sample_id: string; reviewer: string }>(`SELECT sample_id, reviewer FROM decisions WHERE sample_id IN (?, ?) ORDER BY sample_id = ?`, [copy, kept, kept]);
    assert.deepEqual(rows.map((r) => r.reviewer), ['Kushagra', 'Saeed Y.']);
    const who = await served.srv.catalog.all<{ who: string }>(`SELECT who FROM events WHERE sample_id IN (?, ?) ORDER BY id`, [copy, kept]);
    assert.deepEqual(who.map((w) => w.who), ['Kushagra', 'Saeed Y.']);
    // Undo is per token too: Saeed's undo cannot revert Kushagra's change.
    const u = await call('/api/undo', { reviewer: 'Kushagra' }, { 'X-Imgsift-Token': sTok }, root);
    assert.equal(u.body.changed, 1);
    assert.equal(await served.srv.catalog.scalar(`SELECT count(*) FROM decisions WHERE sample_id = ? AND reviewer = 'Kushagra'`, [copy]), 1);
    const info = await call('/api/info', undefined, { 'X-Imgsift-Token': sTok }, root);
    assert.equal(info.body.reviewer, 'Saeed Y.');
    assert.equal(info.body.reviewerFixed, true);
    // The first visit keeps the app's view in the address and sets the cookie of that token.
    const first = await fetch(`${root}/?token=${sTok}&split=test&open=abc`, { redirect: 'manual' });
    assert.equal(first.status, 302);
    assert.equal(first.headers.get('location'), '/?split=test&open=abc');
    const cookie = first.headers.get('set-cookie')!.split(';')[0];
    assert.equal((await call('/api/info', undefined, { Cookie: cookie }, root)).body.reviewer, 'Saeed Y.');
    await call('/api/undo', {}, { 'X-Imgsift-Token': kTok }, root);

    // The single generated token names the server's reviewer.
    await served.srv.close();
    served.srv = await startReviewServer({ workdir: served.fx.workdir, port: 0, reviewer: 'solo', requireToken: true });
    const one = await call('/api/decisions', { id: copy, action: 'keep', reviewer: 'forged' }, { 'X-Imgsift-Token': served.srv.token! }, `http://127.0.0.1:${served.srv.port}`);
    assert.equal(one.status, 200);
    assert.equal((await served.srv.catalog.one<{ reviewer: string }>(`SELECT reviewer FROM decisions WHERE sample_id = ?`, [copy]))?.reviewer, 'solo');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('imgsift review --token-file: the CLI records each reviewer by token; a bad file is refused naming the line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-tokens-cli-'));
  try {
    const bad = join(dir, 'bad.txt');
    await writeFile(bad, `${'a'.repeat(24)} Kushagra\nshort Saeed\n`);
    const r = runCli(['review', '--workdir', served.fx.workdir, '--port', '0', '--token-file', bad]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /bad\.txt:2: the token is 5 characters/);
    const file = join(dir, 'tokens.txt');
    const tok = 'saeed-' + 'x'.repeat(20);
    await writeFile(file, `# one per reviewer\n${'k'.repeat(24)} Kushagra\n${tok} Saeed\n`);
    const child = startCli(['review', '--workdir', served.fx.workdir, '--port', '0', '--token-file', file]);
    try {
      let out = '';
      const url = await new Promise<string>((done, reject) => {
        child.stdout!.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /open (http:\/\/\S+)/.exec(out);
          if (m && out.includes('Ctrl-C to stop')) done(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`review exited ${code}: ${out}`)));
      });
      assert.match(out, /tokens for Kushagra, Saeed/);
      assert.doesNotMatch(out, new RegExp(tok), 'the tokens are not printed');
      const id = served.fx.duplicates[3][0];
      const res = await fetch(new URL('/api/decisions', url), {
        method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Imgsift-Token': tok }, body: JSON.stringify({ id, action: 'remove', reviewer: 'Kushagra' }),
      });
      assert.equal(res.status, 200);
      assert.equal((await served.srv.catalog.one<{ reviewer: string }>(`SELECT reviewer FROM decisions WHERE sample_id = ?`, [id]))?.reviewer, 'Saeed');
    } finally {
      // A child that already ended (it could not start) sends no second 'exit'.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await new Promise((done) => child.once('exit', done));
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a pair settled in the app reaches the build: the kept copy survives the duplicate rule, the removed one goes', async () => {
  await served.srv.close();
  await served.start();
  const [copy, kept] = served.fx.duplicates[4];
  const r = await call('/api/resolve', { keep: [copy], remove: [kept], reviewer: 'Saeed' });
  assert.equal(r.status, 200);
  const recipe = recipeFromObject(
    {
      name: 'review-test',
      workdir: served.fx.workdir,
      source: { format: 'imagefolder', path: join(served.fx.dir, 'data'), fields: { text: 'text', label: 'label' } },
      steps: [
        { probe: {} },
        { hash: {} },
        { split: { ratios: { train: 0.85, test: 0.15 }, keep_source_splits: true } },
        { filter: { drop: ['corrupt', 'unreadable', 'decompression_bomb', 'duplicate', 'decision:remove'] } },
      ],
    },
    served.fx.dir,
  );
  // One process must not attach the catalog twice (DuckDB's file lock is per process): the server
  // closes while this process builds, as a separate `imgsift build` would not need.
  await served.srv.close();
  const result = await build(recipe, { reporter: new Reporter({ mode: 'quiet' }), workers: 2 });
  await served.start();
  const c = served.srv.catalog;
  const reasons = async (id: string) =>
    (await c.all<{ reason: string }>(`SELECT reason FROM drops WHERE run_id = ? AND sample_id = ? ORDER BY reason`, [result.runId, id])).map((x) => x.reason);
  assert.deepEqual(await reasons(copy), [], 'the copy the reviewer kept stays, though flagged duplicate');
  assert.deepEqual(await reasons(kept), ['decision:remove']);
  // Other flagged copies, without a decision, still go.
  const [other] = served.fx.duplicates.find(([c2]) => c2 !== copy && c2 !== served.fx.duplicates[0][0])!;
  const d = (await c.one<{ action: string }>(`SELECT action FROM decisions WHERE sample_id = ?`, [other]))?.action;
  if (d !== 'keep') assert.ok((await reasons(other)).length > 0);
  assert.equal(served.srv.runId, result.runId, 'the app reviews the new run');
});
