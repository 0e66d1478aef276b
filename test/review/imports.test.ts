import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from '../../src/exec/build.js';
import { recipeFromObject } from '../../src/recipe/load.js';
import { Reporter } from '../../src/exec/reporter.js';
import { Catalog } from '../../src/catalog/catalog.js';
import { InputError, UsageError } from '../../src/errors.js';
import { importIssues, parseFieldMap } from '../../src/review/imports.js';
import { addTags } from '../../src/review/decisions.js';
import { taggedManifestRows, writeTaggedManifest } from '../../src/review/tagged-manifest.js';
import { parseCsv } from '../../src/sources/csv-parser.js';
import { tempDir } from '../helpers/tmp.js';
import { writePhotos } from '../helpers/dataset.js';

let dir: string;
let workdir: string;
let catalog: Catalog;
// Created at load time: a tempDir made inside before() would be removed when that hook ends.
const dirReady = tempDir();

before(async () => {
  dir = await dirReady;
  workdir = join(dir, 'work');
  await writePhotos(join(dir, 'images'), 8, { classes: ['cat', 'dog'] });
  const recipe = recipeFromObject(
    { name: 't', workdir, source: { format: 'imagefolder', path: join(dir, 'images') }, steps: [{ probe: {} }] },
    dir,
  );
  await build(recipe, { reporter: new Reporter({ mode: 'quiet' }), workers: 1 });
  catalog = await Catalog.open(workdir);
});
after(() => catalog?.close());

// Seed 002's export with its alternative column names (class, flag) and the ways rows name samples.
const VL_EXPORT = [
  'image_id,image_path,class,flag,confidence,suggested_label,reason',
  'cat/img_00000.jpg,,cat,Mislabel,0.95,dog,"looks like a dog, not a cat"', // by id
  ',/home/kushagra/data/images/dog/img_00001.jpg,dog,outlier,0.4,,unusual', // by path (absolute, longer)
  '12345,dog/img_00003.jpg,dog,near-duplicate,0.99,,', // unknown id, then by path
  '777,img_00005.jpg,dog,mislabel,0.5,cat,', // a bare file name names exactly one sample
  'nope,elsewhere/missing.jpg,cat,mislabel,0.7,dog,gone', // matches nothing
].join('\n') + '\n';

async function issuesOf(source: string) {
  return catalog.all<{ sample_id: string; type: string; score: number; flagged: boolean; evidence: string; step: string }>(
    `SELECT sample_id, type, score, flagged, evidence::VARCHAR AS evidence, step FROM issues WHERE source = ? ORDER BY sample_id, type`,
    [source],
  );
}

test('imports a seed-002 export: alternative columns, matched by id and by path, unmatched rows written', async () => {
  const file = join(dir, 'imagenet1k_vl_export.csv');
  await writeFile(file, VL_EXPORT);
  const r = await importIssues({ catalog, file, workdir, who: 'Saeed' });
  assert.equal(r.source, 'visual_layer');
  assert.deepEqual(r.columns, {
    id: 'image_id', path: 'image_path', label: 'class', issue_type: 'flag', confidence: 'confidence', suggested_label: 'suggested_label', reason: 'reason',
  });
  assert.equal(r.rows, 5);
  assert.equal(r.matchedById, 1);
  assert.equal(r.matchedByPath, 3);
  assert.equal(r.unmatched, 1);
  assert.deepEqual(r.unmatchedExamples, [{ line: 6, id: 'nope', path: 'elsewhere/missing.jpg', reason: 'no sample with this id or path' }]);
  assert.deepEqual(r.types, { mislabel: 2, near_duplicate: 1, outlier: 1 });

  const rows = await issuesOf('visual_layer');
  assert.deepEqual(rows.map((x) => [x.sample_id, x.type, x.score, x.flagged, x.step]), [
    ['cat/img_00000.jpg', 'mislabel', 0.95, true, 'import'],
    ['dog/img_00001.jpg', 'outlier', 0.4, true, 'import'],
    ['dog/img_00003.jpg', 'near_duplicate', 0.99, true, 'import'],
    ['dog/img_00005.jpg', 'mislabel', 0.5, true, 'import'],
  ]);
  assert.deepEqual(JSON.parse(rows[0].evidence), { suggested_label: 'dog', reason: 'looks like a dog, not a cat', label: 'cat', line: 2 });

  // The unmatched rows, as in the export, with line and reason.
  assert.equal(r.unmatchedFile, join(workdir, 'unmatched_imagenet1k_vl_export.csv'));
  const un = parseCsv(await readFile(r.unmatchedFile!, 'utf8'));
  assert.deepEqual(un.map((x) => x.fields), [
    ['image_id', 'image_path', 'class', 'flag', 'confidence', 'suggested_label', 'reason', '_line', '_reason'],
    ['nope', 'elsewhere/missing.jpg', 'cat', 'mislabel', '0.7', 'dog', 'gone', '6', 'no sample with this id or path'],
  ]);

  // The import is an event.
  const ev = await catalog.all<{ who: string; new: string }>(`SELECT who, new::VARCHAR AS new FROM events WHERE action = 'import'`);
  assert.equal(ev.length, 1);
  assert.equal(ev[0].who, 'Saeed');
  assert.equal(JSON.parse(ev[0].new).imported, 4);

  // Re-importing the same file replaces that source's issues: same rows, one more event.
  const again = await importIssues({ catalog, file, workdir, who: 'Saeed' });
  assert.equal(again.replaced, 4);
  assert.deepEqual(await issuesOf('visual_layer'), rows);
  assert.equal(await catalog.scalar(`SELECT count(*) FROM events WHERE action = 'import'`), 2);

  // imgsift's own issues are untouched by imports, and a rebuild leaves imported issues alone.
  const own = await catalog.scalar(`SELECT count(*) FROM issues WHERE source = 'imgsift'`);
  catalog.close();
  await build(
    recipeFromObject({ name: 't', workdir, source: { format: 'imagefolder', path: join(dir, 'images') }, steps: [{ probe: {} }] }, dir),
    { reporter: new Reporter({ mode: 'quiet' }), workers: 1 },
  );
  catalog = await Catalog.open(workdir);
  assert.equal(await catalog.scalar(`SELECT count(*) FROM issues WHERE source = 'imgsift'`), own);
  assert.equal((await issuesOf('visual_layer')).length, 4);
});

test('column mapping, another source, and a fully matched import removes a stale unmatched file', async () => {
  const file = join(dir, 'cleanlab.csv');
  await writeFile(file, 'img;problem;p\ncat/img_00002.jpg;label_issue;0.8\ndog/img_00007.jpg;label_issue;0.3\n'.replace(/;/g, '\t'));
  const r = await importIssues({ catalog, file, workdir, source: 'cleanlab', map: parseFieldMap('id=img,issue_type=problem,confidence=p'), delimiter: '\t' });
  assert.equal(r.imported, 2);
  assert.equal(r.unmatchedFile, null);
  assert.deepEqual((await issuesOf('cleanlab')).map((x) => [x.sample_id, x.score]), [['cat/img_00002.jpg', 0.8], ['dog/img_00007.jpg', 0.3]]);
  assert.equal((await issuesOf('visual_layer')).length, 4, 'other sources are untouched');

  // The VL export, fixed so every row matches: its old unmatched file goes away.
  const vl = join(dir, 'imagenet1k_vl_export.csv');
  await writeFile(vl, VL_EXPORT.split('\n').slice(0, 5).join('\n') + '\n');
  assert.ok(existsSync(join(workdir, 'unmatched_imagenet1k_vl_export.csv')));
  const fixed = await importIssues({ catalog, file: vl, workdir });
  assert.equal(fixed.unmatched, 0);
  assert.ok(!existsSync(join(workdir, 'unmatched_imagenet1k_vl_export.csv')));

  assert.throws(() => parseFieldMap('idd=x'), /unknown field 'idd'/);
  await assert.rejects(importIssues({ catalog, file, workdir, map: { id: 'nosuch' } }), /--map id=nosuch: no such column; columns: img/);
  await assert.rejects(importIssues({ catalog, file, workdir, source: 'imgsift' }), UsageError);
});

test('malformed rows: error with file, line and field, or skipped and counted', async () => {
  const file = join(dir, 'bad.csv');
  await writeFile(file, [
    'id,issue_type,confidence',
    'cat/img_00000.jpg,blurry,0.5',
    'cat/img_00002.jpg,blurry,high',
    'cat/img_00004.jpg,,0.2',
    'cat/img_00006.jpg,dark,0.1,extra',
    'dog/img_00001.jpg,dark,1.5',
  ].join('\n') + '\n');
  const before = await catalog.scalar(`SELECT count(*) FROM issues WHERE source = 'bad_tool'`);
  await assert.rejects(importIssues({ catalog, file, workdir, source: 'bad_tool' }), (e: Error) => {
    assert.ok(e instanceof InputError);
    assert.deepEqual(e.location, { file, line: 3, field: 'confidence' });
    assert.match(e.message, /bad\.csv:3 \(field 'confidence'\): confidence must be a number from 0 to 1 \(got 'high'\)/);
    return true;
  });
  assert.equal(await catalog.scalar(`SELECT count(*) FROM issues WHERE source = 'bad_tool'`), before, 'nothing written');

  const r = await importIssues({ catalog, file, workdir, source: 'bad_tool', skipBadRows: true });
  assert.equal(r.rows, 5);
  assert.equal(r.imported, 1);
  assert.equal(r.badRows, 4);
  assert.match(r.badRowExamples[1], /:4 \(field 'issue_type'\): empty issue type/);
  assert.match(r.badRowExamples[2], /:5: expected 3 fields as in the header, found 4/);

  const noId = join(dir, 'noid.csv');
  await writeFile(noId, 'name,flag\nx,blurry\n');
  await assert.rejects(importIssues({ catalog, file: noId, workdir }), /noid\.csv:1: no id or path column .*--map id=COLUMN/);
});

test('tagged manifest: one row per flagged, tagged or decided sample with issues, tags and decision', async () => {
  await addTags({ catalog, filter: ['cat/img_00000.jpg'], tags: ['mislabel_confirmed', 'relabel'], action: 'relabel', newLabel: 'dog', reviewer: 'Kushagra' });
  await addTags({ catalog, filter: ['cat/img_00004.jpg'], tags: ['outlier_valid', 'keep'], reviewer: 'Saeed' });
  const file = join(dir, 'manifests', 'imagenet1k_tagged_manifest.csv');
  const n = await writeTaggedManifest(catalog, file);
  const rows = parseCsv(await readFile(file, 'utf8')).map((r) => r.fields);
  assert.equal(n, rows.length - 1);
  assert.deepEqual(rows[0], ['id', 'path', 'label', 'issues', 'user_tags', 'user_action', 'new_label', 'reviewer']);
  const byId = new Map(rows.slice(1).map((r) => [r[0], r]));
  assert.deepEqual(byId.get('cat/img_00000.jpg'), ['cat/img_00000.jpg', 'cat/img_00000.jpg', 'cat', 'blurry;mislabel', 'mislabel_confirmed,relabel', 'relabel', 'dog', 'Kushagra']);
  assert.deepEqual(byId.get('cat/img_00004.jpg'), ['cat/img_00004.jpg', 'cat/img_00004.jpg', 'cat', '', 'keep,outlier_valid', '', '', 'Saeed']);
  assert.deepEqual(byId.get('dog/img_00003.jpg')!.slice(3), ['near_duplicate', '', '', '', '']);
  // Exactly the samples with a flagged issue, a tag or a decision.
  const expected = await catalog.all<{ id: string }>(`SELECT id FROM samples s WHERE
    EXISTS (SELECT 1 FROM issues i WHERE i.sample_id = s.id AND i.flagged) OR EXISTS (SELECT 1 FROM tags t WHERE t.sample_id = s.id)
    OR EXISTS (SELECT 1 FROM decisions d WHERE d.sample_id = s.id) ORDER BY id`);
  assert.deepEqual(rows.slice(1).map((r) => r[0]), expected.map((e) => e.id));
  let pages = 0;
  for await (const _ of taggedManifestRows(catalog)) pages++;
  assert.equal(pages, 1);
});
