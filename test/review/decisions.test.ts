import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { Catalog, COLUMNS } from '../../src/catalog/catalog.js';
import { UsageError } from '../../src/errors.js';
import {
  addTags, filterSql, history, removeTags, reviewStates, selectSamplesSql, setDecision, undo,
  type SampleFilter,
} from '../../src/review/decisions.js';
import { saveTaxonomy, Taxonomy } from '../../src/review/taxonomy.js';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';

let catalog: Catalog;
let ids: string[];

before(async () => {
  const dir = await tempDir();
  await writePhotos(join(dir, 'images'), 12, { classes: ['cat', 'dog'], extra: { 'broken.jpg': Buffer.from('not an image') } });
  const recipe = recipeFromObject(
    {
      name: 't', workdir: join(dir, 'work'), source: { format: 'imagefolder', path: join(dir, 'images') },
      steps: [{ probe: {} }, { split: { ratios: { train: 0.5, test: 0.5 } } }, { filter: { drop: ['corrupt'] } }],
    },
    dir,
  );
  await build(recipe, { reporter: new Reporter({ mode: 'quiet' }), workers: 1 });
  catalog = await Catalog.open(join(dir, 'work'));
  ids = (await catalog.all<{ id: string }>(`SELECT id FROM samples ORDER BY id`)).map((r) => r.id);
  // An imported tool's mislabel flags with confidences 0.0, 0.1, ... on the first 10 samples.
  await catalog.append('issues', COLUMNS.issues, ids.slice(0, 10).map((id, i) => ({
    sample_id: id, type: 'mislabel', score: i / 10, flagged: true, evidence: { suggested_label: 'dog' },
    step: 'import', source: 'visual_layer', run_id: null,
  })));
});
after(() => catalog?.close());

const count = (sql: string, params?: string[]) => catalog.scalar(sql, params);

async function clearReview() {
  await catalog.run('DELETE FROM tags');
  await catalog.run('DELETE FROM decisions');
  await catalog.run('DELETE FROM events');
}

test('batch tag by structured filter (seed 002: high-confidence mislabels → relabel)', async () => {
  await clearReview();
  const res = await addTags({
    catalog, filter: { issue: 'mislabel', source: 'visual_layer', scoreMin: 0.75 },
    tags: ['mislabel_confirmed'], action: 'relabel', newLabel: 'dog', reviewer: 'Kushagra',
  });
  const expected = ids.slice(8, 10); // scores 0.8 and 0.9 (0.0 .. 0.7 are below)
  assert.equal(res.matched, 2);
  assert.equal(res.changed, 2);
  assert.ok(res.change);
  const tagged = (await catalog.all<{ sample_id: string }>(`SELECT sample_id FROM tags WHERE tag = 'mislabel_confirmed' ORDER BY 1`)).map((r) => r.sample_id);
  assert.deepEqual(tagged, expected.sort());
  const decisions = await catalog.all<{ sample_id: string; action: string; new_label: string; reviewer: string }>(
    `SELECT sample_id, action, new_label, reviewer FROM decisions ORDER BY 1`,
  );
  assert.deepEqual(decisions, expected.map((id) => ({ sample_id: id, action: 'relabel', new_label: 'dog', reviewer: 'Kushagra' })));
  // One event per changed sample plus one summary event.
  assert.equal(await count(`SELECT count(*) FROM events WHERE action = 'tag' AND sample_id IS NOT NULL`), 2);
  assert.equal(await count(`SELECT count(*) FROM events WHERE action = 'tag' AND sample_id IS NULL`), 1);
  const h = await history(catalog, expected[0]);
  assert.equal(h.length, 1);
  assert.equal(h[0].who, 'Kushagra');
  assert.deepEqual(h[0].old, { tags: [], decision: null });
  assert.deepEqual(h[0].new, { tags: ['mislabel_confirmed'], decision: { action: 'relabel', new_label: 'dog' }, change: res.change });
  assert.match(h[0].at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);

  // Tagging again changes nothing and writes no events.
  const again = await addTags({ catalog, filter: expected, tags: ['mislabel_confirmed'], reviewer: 'Kushagra' });
  assert.deepEqual(again, { change: null, matched: 2, changed: 0 });
  assert.equal(await count(`SELECT count(*) FROM events`), 3);
});

test('explicit ids, split and decision filters; keep action', async () => {
  await clearReview();
  const res = await addTags({ catalog, filter: [ids[0], ids[1], ids[1]], tags: ['outlier_valid', 'keep'], action: 'keep', reviewer: 'Saeed' });
  assert.equal(res.matched, 2);
  const st = await reviewStates(catalog, [ids[0], ids[2]]);
  assert.deepEqual(st.get(ids[0]), { tags: ['keep', 'outlier_valid'], decision: { action: 'keep', new_label: null } });
  assert.deepEqual(st.get(ids[2]), { tags: [], decision: null });

  const undecidedTrain = await catalog.all<{ id: string }>(
    ...sel({ split: 'train', decision: 'none' }),
  );
  const train = await catalog.all<{ id: string }>(`SELECT id FROM active WHERE split = 'train'`);
  const decidedTrain = [ids[0], ids[1]].filter((id) => train.some((t) => t.id === id));
  assert.equal(undecidedTrain.length, train.length - decidedTrain.length);
});

function sel(f: SampleFilter): [string, any[]] {
  const q = selectSamplesSql(f, 's.id');
  return [q.sql, q.params];
}

test('filterSql: scopes, search, flagged, and composing with the caller\'s own parameters', async () => {
  const broken = ids.find((id) => id.includes('broken'))!;
  assert.ok(broken, 'the corrupt file is a sample');
  // The corrupt sample is dropped: out of the active scope, in the run scope.
  assert.equal((await catalog.all(...sel({ issue: 'corrupt' }))).length, 0);
  assert.deepEqual((await catalog.all(...sel({ issue: 'corrupt', scope: 'run' }))).map((r: any) => r.id), [broken]);
  assert.deepEqual((await catalog.all(...sel({ search: 'BROKEN', scope: 'all' }))).map((r: any) => r.id), [broken]);
  const withFlags = await count('SELECT count(DISTINCT i.sample_id) FROM issues i JOIN active a ON a.id = i.sample_id WHERE i.flagged');
  assert.equal(withFlags, 9, 'mislabel flags on 10 samples, one of them the dropped corrupt file');
  assert.equal((await catalog.all(...sel({ flagged: false }))).length, (await count('SELECT count(*) FROM active')) - withFlags);
  // Unflagged scores count inside a score range; a range with no match selects nothing.
  assert.equal((await catalog.all(...sel({ issue: 'mislabel', scoreMin: 0.95 }))).length, 0);
  const f = filterSql({ label: ['cat'], issue: 'mislabel', scoreMax: 0.45 }, 'x');
  const rows = await catalog.all<{ id: string }>(`SELECT x.id FROM active x WHERE ${f.sql} ORDER BY x.id LIMIT ?`, [...f.params, 100]);
  const expected = await catalog.all<{ id: string }>(
    `SELECT s.id FROM active s JOIN issues i ON i.sample_id = s.id WHERE s.label = 'cat' AND i.type = 'mislabel' AND i.score <= 0.45 ORDER BY s.id`,
  );
  assert.ok(expected.length > 0);
  assert.deepEqual(rows, expected);
});

test('invalid input is rejected before anything is written', async () => {
  await clearReview();
  await assert.rejects(addTags({ catalog, filter: [ids[0]], tags: ['mislabeled'], reviewer: 'A' }), (e: Error) => e instanceof UsageError && /unknown review tag 'mislabeled'.*allowed: mislabel_confirmed/.test(e.message));
  await assert.rejects(addTags({ catalog, filter: [ids[0]], tags: ['relabel'], action: 'relabel', reviewer: 'A' }), /relabel' needs newLabel/);
  await assert.rejects(setDecision({ catalog, filter: [ids[0]], action: 'relabel', reviewer: 'A' }), /needs newLabel/);
  await assert.rejects(setDecision({ catalog, filter: [ids[0]], action: 'keep', newLabel: 'x', reviewer: 'A' }), /only allowed with action 'relabel'/);
  await assert.rejects(setDecision({ catalog, filter: [ids[0]], action: 'delete' as any, reviewer: 'A' }), /action must be one of keep, remove, relabel/);
  await assert.rejects(addTags({ catalog, filter: [ids[0]], tags: ['keep'], reviewer: ' ' }), /reviewer is required/);
  await assert.rejects(addTags({ catalog, filter: [ids[0], 'no-such-id'], tags: ['keep'], reviewer: 'A' }), /unknown sample id: "no-such-id"/);
  await assert.rejects(addTags({ catalog, filter: { splitt: 'x' } as any, tags: ['keep'], reviewer: 'A' }), /filter/);
  assert.equal(await count('SELECT count(*) FROM tags'), 0);
  assert.equal(await count('SELECT count(*) FROM events'), 0);
  // The recipe's extra tags, stored in the catalog, extend the taxonomy.
  await saveTaxonomy(catalog, { tags: ['watermark', { name: 'nsfw', description: 'not safe' }] });
  const ok = await addTags({ catalog, filter: [ids[0]], tags: ['watermark'], reviewer: 'A' });
  assert.equal(ok.changed, 1);
  await saveTaxonomy(catalog, { tags: [] });
});

test('removeTags, clearing a decision, and undo across reviewers', async () => {
  await clearReview();
  const a1 = await addTags({ catalog, filter: ids.slice(0, 4), tags: ['duplicate_near'], reviewer: 'A' });
  const b1 = await setDecision({ catalog, filter: ids.slice(2, 6), action: 'remove', reviewer: 'B' });
  const a2 = await setDecision({ catalog, filter: ids.slice(0, 3), action: 'keep', reviewer: 'A' });
  assert.equal(a2.changed, 3);
  // A undoes its last change: ids 0,1 lose their decision; id 2 goes back to B's 'remove'.
  const u1 = await undo({ catalog, reviewer: 'A' });
  assert.equal(u1.undid, a2.change);
  assert.equal(u1.changed, 3);
  let st = await reviewStates(catalog, ids.slice(0, 6));
  assert.equal(st.get(ids[0])!.decision, null);
  assert.deepEqual(st.get(ids[2])!.decision, { action: 'remove', new_label: null });
  assert.deepEqual(st.get(ids[0])!.tags, ['duplicate_near'], "A's earlier tags stay");
  // Again: A's tags go; B's decisions are untouched.
  const u2 = await undo({ catalog, reviewer: 'A' });
  assert.equal(u2.undid, a1.change);
  st = await reviewStates(catalog, ids.slice(0, 6));
  assert.ok([...st.values()].every((s) => s.tags.length === 0));
  assert.equal([...st.values()].filter((s) => s.decision?.action === 'remove').length, 4);
  const u3 = await undo({ catalog, reviewer: 'A' });
  assert.equal(u3.undid, null, 'nothing left to undo for A');

  // B's decision on id 5 is overridden by C; B's undo restores only what C did not touch.
  await setDecision({ catalog, filter: [ids[5]], action: 'relabel', newLabel: 'cat', reviewer: 'C' });
  const u4 = await undo({ catalog, reviewer: 'B' });
  assert.equal(u4.undid, b1.change);
  assert.equal(u4.conflicts, 1);
  st = await reviewStates(catalog, ids.slice(2, 6));
  assert.deepEqual(st.get(ids[5])!.decision, { action: 'relabel', new_label: 'cat' });
  assert.equal(st.get(ids[2])!.decision, null);

  // removeTags and clearing decisions are changes too.
  await addTags({ catalog, filter: [ids[7]], tags: ['keep', 'outlier_valid'], action: 'keep', reviewer: 'D' });
  const r = await removeTags({ catalog, filter: [ids[7]], tags: ['keep'], reviewer: 'D' });
  assert.equal(r.changed, 1);
  await setDecision({ catalog, filter: [ids[7]], action: null, reviewer: 'D' });
  assert.deepEqual((await reviewStates(catalog, [ids[7]])).get(ids[7]), { tags: ['outlier_valid'], decision: null });
  const h = await history(catalog, ids[7]);
  assert.deepEqual(h.map((e) => e.action), ['tag', 'untag', 'decide']);
  await undo({ catalog, reviewer: 'D' });
  assert.deepEqual((await reviewStates(catalog, [ids[7]])).get(ids[7])!.decision, { action: 'keep', new_label: null });
  // Events are append-only: every change above is still there.
  assert.deepEqual((await history(catalog, ids[7])).map((e) => e.action), ['tag', 'untag', 'decide', 'undo']);
});

test('concurrent callers never lose an update', async () => {
  await clearReview();
  const taxonomy = Taxonomy.withExtra(Array.from({ length: 20 }, (_, i) => `t${i}`));
  const target = ids.slice(0, 6);
  // Two reviewers fire their changes at once, interleaved on the same samples.
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < 10; i++) {
    jobs.push(addTags({ catalog, filter: target, tags: [`t${i}`], reviewer: 'A', taxonomy }));
    jobs.push(addTags({ catalog, filter: { ids: target }, tags: [`t${10 + i}`], reviewer: 'B', taxonomy }));
    if (i % 3 === 0) jobs.push(setDecision({ catalog, filter: target, action: i % 2 ? 'keep' : 'remove', reviewer: 'B' }));
  }
  await Promise.all(jobs);
  const st = await reviewStates(catalog, target);
  for (const id of target) assert.equal(st.get(id)!.tags.length, 20, `all 20 tags on ${id}`);
  // Each tag change touched all 6 samples; each event's old state equals the previous event's new state.
  for (const id of target) {
    const h = await history(catalog, id);
    assert.equal(h.filter((e) => e.action === 'tag').length, 20);
    for (let i = 1; i < h.length; i++) {
      const { change: _c, ...prevNew } = h[i - 1].new as Record<string, unknown>;
      assert.deepEqual(h[i].old, prevNew, `event ${i} of ${id} starts where the previous one ended`);
    }
  }
});
