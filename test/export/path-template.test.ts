import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkedRelativePath, pathTemplateProblem, renderTemplate, templateProblem } from '../../src/export/path-template.js';

test('renderTemplate: fields, zero padding, dotted paths, literal braces', () => {
  const view = { split: 'train', pair_id: 12, style: '3', item: { idx: 2, box: [1, 2] }, n: -7, empty: '' };
  assert.equal(renderTemplate('{split}/{pair_id:06d}_{style:02d}_{item.idx}.jpg', view), 'train/000012_03_2.jpg');
  assert.equal(renderTemplate('{item.box.1}{{x}}{n:04d}', view), '2{x}-007');
  assert.equal(renderTemplate('{pair_id:4d}|{split:s}', view), '  12|train');
  assert.throws(() => renderTemplate('{missing}.jpg', view), /\{missing\} has no value/);
  assert.throws(() => renderTemplate('{empty}.jpg', view), /\{empty\} has no value/);
  assert.throws(() => renderTemplate('{split:03d}', view), /is not an integer: "train"/);
  assert.throws(() => renderTemplate('{item}', view), /not a single value/);
});

test('template and path checks', () => {
  assert.match(templateProblem('{a')!, /unmatched '\{'/);
  assert.match(templateProblem('a}')!, /unmatched '\}'/);
  assert.match(templateProblem('{a:x}')!, /format 'x' of \{a\} is not supported/);
  assert.match(templateProblem('{1a}')!, /is not a field name/);
  assert.equal(templateProblem('{a.b:03d}/{{lit}}'), null);
  assert.match(pathTemplateProblem('{a}/../b.jpg')!, /escapes/);
  assert.match(pathTemplateProblem('C:/x/{a}.jpg')!, /absolute/);
  assert.equal(checkedRelativePath('a\\b/c.jpg'), 'a/b/c.jpg');
  assert.throws(() => checkedRelativePath('a/../../b.jpg'), /escapes the export folder/);
  assert.throws(() => checkedRelativePath('/etc/x.jpg'), /absolute/);
  assert.throws(() => checkedRelativePath('a//b.jpg'), /empty or '\.' segment/);
  assert.throws(() => checkedRelativePath('a/\n.jpg'), /control character/);
  assert.throws(() => checkedRelativePath('.imgsift/files-image.json'), /holds the exports' records/);
});
