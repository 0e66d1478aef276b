import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  TemplateSyntaxError,
  TemplateValueError,
  compileTemplate,
  fieldsOf,
  formatValue,
  lookupsOf,
  parseSpec,
  renderTemplate,
  sampleView,
} from '../../src/recipe/template.js';
import { fieldSql, parseFieldPath } from '../../src/catalog/fields.js';

/** A DeepFashion2-style sample (seed 001): SKU attributes and one crop's annotations in meta. */
const view = sampleView(
  { id: 'train/query/000001_item1', path: 'train/image/000001.jpg', split: 'train', label: null, text: null, group: null },
  {
    pair_id: 1, style: '1', category_id: 7, category_name: 'short sleeve top', domain: 'query',
    occlusion: 3, viewpoint: 2, item: { bbox: [12, 30, 220.5, 410], item_idx: 1 }, tags: ['cotton', 'red'],
    split: 'meta-split',
  },
);

const lookups = {
  domain_words: { catalog: 'shop photo of a', query: 'user photo of a person wearing a' },
  occlusion_words: { '1': '', '2': ', partly occluded', '3': ', heavily occluded' },
  viewpoint_words: { '1': 'laid flat', '2': 'from the front', '3': 'from the side or back' },
};

const render = (t: string, v = view) => renderTemplate(compileTemplate(t), v, lookups);

test("seed 001's SKU id and prompt templates", () => {
  assert.equal(render('{pair_id:06d}_{style:02d}_{category_id:02d}'), '000001_01_07');
  assert.equal(
    render('A {domain|map:domain_words} {category_name}{occlusion|map:occlusion_words} {viewpoint|map:viewpoint_words}.'),
    'A user photo of a person wearing a short sleeve top, heavily occluded from the front.',
  );
});

test('format specs follow Python format() for the supported subset', () => {
  // Expected values are Python 3's format(value, spec).
  const cases: Array<[unknown, string, string]> = [
    [1, '06d', '000001'], [-42, '06d', '-00042'], [3.14159, '.2f', '3.14'], ['ab', '>8', '      ab'],
    [255, 'x', 'ff'], [255, 'X', 'FF'], [1234567, ',', '1,234,567'], [1234567.891, ',.2f', '1,234,567.89'],
    [0.256, '.1%', '25.6%'], [12345.678, '.3e', '1.235e+04'], [5, '+d', '+5'], [5, ' d', ' 5'],
    ['mid', '*^9', '***mid***'], [-3, '=+6', '-    3'], [42, '<6', '42    '], ['abcdef', '.3', 'abc'],
    [5, 'b', '101'], [8, 'o', '10'], [-7, '08.2f', '-0007.00'], [1e-7, 'e', '1.000000e-07'], [42, '', '42'],
  ];
  for (const [v, spec, want] of cases) {
    const parsed = parseSpec(spec);
    assert.ok(parsed, `spec ${spec} parses`);
    assert.equal(formatValue(v, parsed), want, `format(${JSON.stringify(v)}, '${spec}')`);
  }
});

test('numbers given as strings format as numbers when the spec asks for d or f', () => {
  const v = sampleView({}, { n: '7', f: ' 2.5 ', whole: '3.0', word: 'seven' });
  assert.equal(render('{n:03d}|{f:.2f}|{whole:d}|{n:>4}', v), '007|2.50|3|   7');
  assert.throws(() => render('{word:d}', v), (e: TemplateValueError) => e.field === 'word' && /not a number/.test(e.message));
  assert.throws(() => render('{f:d}', v), /needs an integer/);
});

test('dotted paths, indexes, catalog columns and the meta escape', () => {
  assert.equal(render('{item.bbox[2]}/{item.bbox[-1]}/{item.item_idx}'), '220.5/410/1');
  assert.equal(render('{tags[0]}+{tags}'), 'cotton+["cotton","red"]');
  assert.equal(render('{split} {meta.split} {id}'), 'train meta-split train/query/000001_item1', 'columns win; meta.x reaches meta');
  assert.equal(render('{tags|join: & }|{tags|join}'), 'cotton & red|cotton, red');
});

test('defaults fill missing or null values and unknown lookup keys; filters run left to right, then the spec', () => {
  assert.equal(render('{label|default:unlabelled} {nothing.at[3]:03d|default:0}'), 'unlabelled 000');
  const v = sampleView({}, { domain: 'studio', name: '  Red Shirt ' });
  assert.equal(render('{domain|map:domain_words|default:photo of a}', v), 'photo of a');
  assert.equal(render('{name|trim|lower|replace: :_}', v), 'red_shirt');
  assert.equal(render('{name:>12|trim|upper}', v), '   RED SHIRT');
  assert.equal(render('{{literal}} {name|trim|replace:Red:\\:\\|}', v), '{literal} :| Shirt');
});

test('a missing field or lookup key fails naming the template and the field', () => {
  assert.throws(
    () => render('{pair_id:06d}_{colour}'),
    (e: TemplateValueError) =>
      e instanceof TemplateValueError && e.field === 'colour' && e.template === '{pair_id:06d}_{colour}' && /missing/.test(e.message),
  );
  const v = sampleView({}, { domain: 'studio' });
  assert.throws(() => render('{domain|map:domain_words}', v), /"studio" is not a key of lookup 'domain_words' \(keys: "catalog", "query"\)/);
  assert.throws(() => render('{domain|map:colours}', v), /lookup table 'colours' is not declared/);
  assert.throws(() => render('{domain|join}', v), /'join' needs a list/);
});

test('syntax errors point at the column', () => {
  const col = (t: string) => {
    try {
      compileTemplate(t);
    } catch (e) {
      assert.ok(e instanceof TemplateSyntaxError, String(e));
      return { column: e.column, message: e.message };
    }
    assert.fail(`${t} compiled`);
  };
  assert.equal(col('abc {pair_id').column, 5);
  assert.match(col('abc {pair_id').message, /never closed/);
  assert.equal(col('a } b').column, 3);
  assert.deepEqual(col('{a|shout}'), { column: 4, message: col('{a|shout}').message });
  assert.match(col('{a|shout}').message, /unknown filter "shout"; filters: map, default/);
  assert.equal(col('{pair_id:06q}').column, 10);
  assert.equal(col('x{item..bbox}').column, 8);
  assert.equal(col('{}').column, 2);
  assert.match(col('{a|replace:x}').message, /'replace' takes 2 arguments, got 1/);
  assert.match(col('{a|map}').message, /'map' takes 1 argument, got 0/);
  assert.match(col('{a{b}}').message, /'\{' inside a field/);
  // The message shows the template with a caret under the column.
  assert.match(col('ab {x|nope}').message, /\n {2}ab \{x\|nope\}\n {2}\s{6}\^$/);
});

test('fieldsOf and lookupsOf list what a template names', () => {
  const t = 'A {domain|map:domain_words} {item.bbox[2]:d} {meta.style} {domain} {x|default:0|map:t2}';
  assert.deepEqual(fieldsOf(t), ['domain', 'item', 'style', 'x']);
  assert.deepEqual(lookupsOf(t), ['domain_words', 't2']);
  assert.deepEqual(fieldsOf('no fields {{here}}'), []);
});

test('field paths and their SQL', () => {
  assert.deepEqual(parseFieldPath('item.bbox[2]'), ['item', 'bbox', 2]);
  assert.deepEqual(parseFieldPath('a-b[-1].c_d'), ['a-b', -1, 'c_d']);
  assert.throws(() => parseFieldPath("x'y"), /unexpected "'"/);
  assert.throws(() => parseFieldPath('2x'), /where a field name starts/);
  assert.equal(fieldSql('group', 'a'), 'CAST(a.group_key AS VARCHAR)');
  assert.equal(fieldSql('label'), 'CAST(label AS VARCHAR)');
  assert.equal(fieldSql('sku_id', 'a'), `json_extract_string(a.meta, '$."sku_id"')`);
  assert.equal(fieldSql('item.bbox[2]'), `json_extract_string(meta, '$."item"."bbox"[2]')`);
  assert.equal(fieldSql('meta.split'), `json_extract_string(meta, '$."split"')`);
  assert.equal(fieldSql('tags[-1]'), `json_extract_string(meta, '$."tags"[#-1]')`);
});
