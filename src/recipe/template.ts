import { CATALOG_FIELDS, FieldPathError, parseFieldPath, type PathSegment } from '../catalog/fields.js';

/**
 * Templates: a small string language for computed fields (the `derive` step). No code is run;
 * a template is parsed once into parts and evaluated against one sample at a time.
 *
 *   text            copied as is; `{{` and `}}` write `{` and `}`
 *   {field}         a sample field: a catalog column (id, path, split, label, text, group, source,
 *                   source_split) or a key of the sample's metadata; dotted paths and indexes reach
 *                   nested values (`item.bbox[2]`, `tags[-1]`); `meta.x` names meta key x even
 *                   when a column has that name
 *   {field:spec}    formatted by a subset of Python's format mini-language:
 *                   [[fill]align][sign][0][width][,][.precision][type]
 *                   align < > ^ =; sign + - or space; type d x X o b (integers), f e % (numbers), s.
 *                   A number given as a string ("7") formats as a number when the type asks for one.
 *   {field|filter}  filters transform the value, left to right, before the spec formats it:
 *                     map:TABLE      the value looked up in the recipe's `lookups: {TABLE: {...}}`
 *                                    (a key not in the table is an error, unless a default follows)
 *                     default:VALUE  VALUE when the field is missing or null (or a map key is unknown)
 *                     lower, upper, trim
 *                     replace:OLD:NEW   every OLD replaced by NEW
 *                     join:SEP       a list's items joined by SEP (default ", ")
 *                   In filter arguments `\` escapes the next character (`\:`, `\|`, `\}`, `\\`).
 *
 * A field that is missing (absent or null) with no default is an error naming the field; values
 * that are objects or lists write as JSON unless joined. Results are always strings.
 */

/** A template that does not parse; `column` is 1-based. */
export class TemplateSyntaxError extends Error {
  constructor(
    readonly template: string,
    readonly column: number,
    readonly problem: string,
  ) {
    super(`template ${JSON.stringify(template)}: ${problem} at column ${column}\n  ${template}\n  ${' '.repeat(Math.max(0, column - 1))}^`);
    this.name = 'TemplateSyntaxError';
  }
}

/** A template that could not be evaluated for one sample: which field, and why. */
export class TemplateValueError extends Error {
  constructor(
    readonly template: string,
    readonly field: string,
    readonly problem: string,
  ) {
    super(`template ${JSON.stringify(template)}: field '${field}': ${problem}`);
    this.name = 'TemplateValueError';
  }
}

export type FilterName = 'map' | 'default' | 'lower' | 'upper' | 'trim' | 'replace' | 'join';

/** How many arguments each filter takes: [min, max]. */
const FILTER_ARITY: Record<FilterName, [number, number]> = {
  map: [1, 1],
  default: [1, 1],
  lower: [0, 0],
  upper: [0, 0],
  trim: [0, 0],
  replace: [2, 2],
  join: [0, 1],
};

export interface TemplateFilter {
  name: FilterName;
  args: string[];
}

export interface FormatSpec {
  fill: string;
  align?: '<' | '>' | '^' | '=';
  sign: '-' | '+' | ' ';
  zero: boolean;
  width: number;
  comma: boolean;
  precision?: number;
  type?: 'd' | 'x' | 'X' | 'o' | 'b' | 'f' | 'e' | '%' | 's';
}

export type TemplatePart =
  | { kind: 'text'; text: string }
  | {
      kind: 'field';
      /** The field as written (`item.bbox[2]`). */
      field: string;
      path: PathSegment[];
      spec?: FormatSpec;
      specText?: string;
      filters: TemplateFilter[];
      /** 1-based column of the `{`. */
      column: number;
    };

export interface CompiledTemplate {
  source: string;
  parts: TemplatePart[];
}

/** Parse a template; throws TemplateSyntaxError pointing at the column of the problem. */
export function compileTemplate(source: string): CompiledTemplate {
  const parts: TemplatePart[] = [];
  let text = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === '{' && source[i + 1] === '{') {
      text += '{';
      i += 2;
    } else if (c === '}' && source[i + 1] === '}') {
      text += '}';
      i += 2;
    } else if (c === '}') {
      throw new TemplateSyntaxError(source, i + 1, `a single '}' (write '}}' for a literal brace)`);
    } else if (c === '{') {
      if (text) parts.push({ kind: 'text', text });
      text = '';
      const end = expressionEnd(source, i + 1);
      parts.push(parseExpression(source, i + 1, end));
      i = end + 1;
    } else {
      text += c;
      i++;
    }
  }
  if (text) parts.push({ kind: 'text', text });
  return { source, parts };
}

/** Index of the `}` closing the expression that starts at `start`; backslash escapes skip a char. */
function expressionEnd(source: string, start: number): number {
  for (let j = start; j < source.length; j++) {
    const c = source[j];
    if (c === '\\') j++;
    else if (c === '}') return j;
    else if (c === '{') throw new TemplateSyntaxError(source, j + 1, `'{' inside a field (write '{{' outside fields, '\\{' in arguments)`);
  }
  throw new TemplateSyntaxError(source, start, `'{' is never closed by '}'`);
}

/** Split source[start, end) at unescaped `sep`, returning pieces with their start offsets, still escaped. */
function splitEscaped(source: string, start: number, end: number, sep: string): Array<{ text: string; at: number }> {
  const out: Array<{ text: string; at: number }> = [];
  let from = start;
  for (let j = start; j < end; j++) {
    if (source[j] === '\\') j++;
    else if (source[j] === sep) {
      out.push({ text: source.slice(from, j), at: from });
      from = j + 1;
    }
  }
  out.push({ text: source.slice(from, end), at: from });
  return out;
}

const unescape = (s: string) => s.replace(/\\(.)/gs, '$1');

function parseExpression(source: string, start: number, end: number): TemplatePart {
  const column = start; // the `{` is at start - 1, so its 1-based column is `start`
  const [head, ...filterTexts] = splitEscaped(source, start, end, '|');
  const colon = head.text.indexOf(':');
  const fieldText = colon < 0 ? head.text : head.text.slice(0, colon);
  if (fieldText === '') throw new TemplateSyntaxError(source, head.at + 1, 'a field name is missing');
  let path: PathSegment[];
  try {
    path = parseFieldPath(fieldText);
  } catch (err) {
    if (err instanceof FieldPathError) throw new TemplateSyntaxError(source, head.at + err.offset + 1, err.message);
    throw err;
  }
  let spec: FormatSpec | undefined;
  let specText: string | undefined;
  if (colon >= 0) {
    specText = head.text.slice(colon + 1);
    spec = parseSpec(specText);
    if (!spec) {
      throw new TemplateSyntaxError(
        source, head.at + colon + 2,
        `format spec ${JSON.stringify(specText)} is not [[fill]align][sign][0][width][,][.precision][type] with type one of d x X o b f e % s`,
      );
    }
  }
  const filters = filterTexts.map((f) => parseFilter(source, f.text, f.at));
  return { kind: 'field', field: fieldText, path, spec, specText, filters, column };
}

function parseFilter(source: string, text: string, at: number): TemplateFilter {
  const pieces = splitEscaped(text, 0, text.length, ':');
  const name = pieces[0].text;
  if (!(name in FILTER_ARITY)) {
    throw new TemplateSyntaxError(
      source, at + 1,
      `unknown filter ${JSON.stringify(name)}; filters: ${Object.keys(FILTER_ARITY).join(', ')}`,
    );
  }
  const args = pieces.slice(1).map((p) => unescape(p.text));
  const [min, max] = FILTER_ARITY[name as FilterName];
  if (args.length < min || args.length > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new TemplateSyntaxError(source, at + 1, `filter '${name}' takes ${want} argument${max === 1 ? '' : 's'}, got ${args.length}`);
  }
  if (name === 'map' && !/^[A-Za-z_][A-Za-z0-9_-]*$/.test(args[0])) {
    throw new TemplateSyntaxError(source, at + 5, `'map' needs a lookup table name, got ${JSON.stringify(args[0])}`);
  }
  return { name: name as FilterName, args };
}

const SPEC = /^(?:([^{}])?([<>^=]))?([-+ ])?(0)?(\d+)?(,)?(?:\.(\d+))?([dxXobfe%s])?$/s;

/** Parse a format spec, or undefined when it is not in the supported subset. */
export function parseSpec(text: string): FormatSpec | undefined {
  const m = SPEC.exec(text);
  if (!m) return undefined;
  return {
    fill: m[1] ?? (m[4] ? '0' : ' '),
    align: (m[2] as FormatSpec['align']) ?? undefined,
    sign: (m[3] as FormatSpec['sign']) ?? '-',
    zero: !!m[4],
    width: m[5] ? Number(m[5]) : 0,
    comma: !!m[6],
    precision: m[7] !== undefined ? Number(m[7]) : undefined,
    type: (m[8] as FormatSpec['type']) ?? undefined,
  };
}

/** The distinct top-level fields a template names, in order of appearance (`item.bbox[2]` → `item`). */
export function fieldsOf(template: CompiledTemplate | string): string[] {
  const t = typeof template === 'string' ? compileTemplate(template) : template;
  const out = new Set<string>();
  for (const p of t.parts) if (p.kind === 'field') out.add(rootField(p.path));
  return [...out];
}

/** The lookup tables a template's `map` filters name. */
export function lookupsOf(template: CompiledTemplate | string): string[] {
  const t = typeof template === 'string' ? compileTemplate(template) : template;
  const out = new Set<string>();
  for (const p of t.parts) if (p.kind === 'field') for (const f of p.filters) if (f.name === 'map') out.add(f.args[0]);
  return [...out];
}

/** The field a path starts from; `meta.x` is field `x` (what a derive writes and later templates read). */
function rootField(path: readonly PathSegment[]): string {
  return path[0] === 'meta' && path.length > 1 && typeof path[1] === 'string' ? path[1] : String(path[0]);
}

/** Lookup tables by name: key → value. */
export type Lookups = Record<string, Record<string, string>>;

/**
 * A sample as templates see it: the catalog columns by field name (`group` for group_key), over
 * its metadata keys; `meta` is the metadata object itself. Kept as two objects rather than one
 * merged copy, so evaluating a million samples allocates little.
 */
export interface SampleView {
  columns: Record<string, unknown>;
  meta: Record<string, unknown>;
}

/** Build a SampleView from catalog columns (by field name) and the meta object. */
export function sampleView(columns: Record<string, unknown>, meta: Record<string, unknown> | null | undefined): SampleView {
  return { columns, meta: meta ?? {} };
}

/** Read a path from a view; undefined when any step is absent. */
export function valueAt(view: SampleView, path: readonly PathSegment[]): unknown {
  const first = path[0] as string;
  let v: unknown;
  let rest = 1;
  if (Object.hasOwn(view.columns, first)) v = view.columns[first];
  else if (first === 'meta') v = view.meta;
  else {
    v = view.meta;
    rest = 0;
  }
  for (let k = rest; k < path.length; k++) {
    const seg = path[k];
    if (v === null || v === undefined) return undefined;
    if (typeof seg === 'number') {
      if (!Array.isArray(v)) return undefined;
      v = v.at(seg);
    } else {
      if (typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, seg)) return undefined;
      v = (v as Record<string, unknown>)[seg];
    }
  }
  return v;
}

/** Evaluate a template against one sample. Throws TemplateValueError naming the field. */
export function renderTemplate(t: CompiledTemplate, view: SampleView, lookups: Lookups = {}): string {
  let out = '';
  for (const p of t.parts) {
    if (p.kind === 'text') {
      out += p.text;
      continue;
    }
    let value = valueAt(view, p.path);
    // Why the value is missing, when it is: reported unless a default fills it.
    let missing: string | undefined = value === undefined || value === null ? 'is missing' : undefined;
    for (const f of p.filters) {
      if (f.name === 'default') {
        if (missing) {
          value = f.args[0];
          missing = undefined;
        }
        continue;
      }
      if (missing) continue;
      switch (f.name) {
        case 'map': {
          const table = lookups[f.args[0]];
          if (!table) failure(t, p.field, `lookup table '${f.args[0]}' is not declared under 'lookups:'`);
          const key = plain(value);
          if (Object.hasOwn(table, key)) value = table[key];
          else {
            missing = `value ${JSON.stringify(key)} is not a key of lookup '${f.args[0]}' (keys: ${keyList(table)})`;
            value = undefined;
          }
          break;
        }
        case 'lower':
          value = plain(value).toLowerCase();
          break;
        case 'upper':
          value = plain(value).toUpperCase();
          break;
        case 'trim':
          value = plain(value).trim();
          break;
        case 'replace':
          value = plain(value).split(f.args[0]).join(f.args[1]);
          break;
        case 'join':
          if (!Array.isArray(value)) failure(t, p.field, `'join' needs a list, got ${JSON.stringify(value)}`);
          value = (value as unknown[]).map((x) => (x === null || x === undefined ? '' : plain(x))).join(f.args[0] ?? ', ');
          break;
      }
    }
    if (missing) failure(t, p.field, missing);
    if (p.spec) {
      try {
        out += formatValue(value, p.spec);
      } catch (err) {
        failure(t, p.field, `cannot format ${JSON.stringify(value)} with ':${p.specText}': ${(err as Error).message}`);
      }
    } else {
      out += plain(value);
    }
  }
  return out;
}

function failure(t: CompiledTemplate, field: string, problem: string): never {
  throw new TemplateValueError(t.source, field, problem);
}

function keyList(table: Record<string, string>): string {
  const keys = Object.keys(table);
  return keys.slice(0, 8).map((k) => JSON.stringify(k)).join(', ') + (keys.length > 8 ? ', ...' : '');
}

/** A value as text: strings as they are, numbers and booleans as written in JSON, objects as JSON. */
function plain(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

const INTEGER_TYPES = new Set(['d', 'x', 'X', 'o', 'b']);

/** A number from a number or a numeric string; throws otherwise. */
function asNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v.trim()))) return Number(v.trim());
  throw new Error('not a number');
}

/** Format one value by a spec, as Python's format() would for the supported subset. */
export function formatValue(value: unknown, spec: FormatSpec): string {
  const numeric = spec.type !== undefined && spec.type !== 's';
  if (!numeric && (spec.type === 's' || typeof value !== 'number')) {
    let s = plain(value);
    if (spec.precision !== undefined) s = s.slice(0, spec.precision);
    if (spec.align === '=') throw new Error("'=' alignment is for numbers");
    return pad('', s, spec, '<');
  }
  const n = asNumber(value);
  if (!Number.isFinite(n)) throw new Error('not a finite number');
  if (spec.type === undefined && spec.precision !== undefined) throw new Error('a precision on a number needs a type (f, e, %)');
  const type = spec.type ?? (Number.isInteger(n) ? 'd' : undefined);
  if (type && INTEGER_TYPES.has(type) && !Number.isInteger(n)) throw new Error(`type '${type}' needs an integer`);
  const sign = n < 0 || Object.is(n, -0) ? '-' : spec.sign === '-' ? '' : spec.sign;
  const a = Math.abs(n);
  let body: string;
  switch (type) {
    case 'd':
      body = group(String(a), spec.comma);
      break;
    case 'x':
      body = a.toString(16);
      break;
    case 'X':
      body = a.toString(16).toUpperCase();
      break;
    case 'o':
      body = a.toString(8);
      break;
    case 'b':
      body = a.toString(2);
      break;
    case 'f':
      body = fixed(a, spec.precision ?? 6, spec.comma);
      break;
    case '%':
      body = fixed(a * 100, spec.precision ?? 6, spec.comma) + '%';
      break;
    case 'e':
      body = a.toExponential(spec.precision ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
      break;
    default:
      body = String(a);
  }
  return pad(sign, body, spec, '>');
}

function fixed(a: number, digits: number, comma: boolean): string {
  const s = a.toFixed(digits);
  if (!comma) return s;
  const [int, frac] = s.split('.');
  return group(int, true) + (frac !== undefined ? `.${frac}` : '');
}

function group(digits: string, comma: boolean): string {
  return comma ? digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',') : digits;
}

/** Pad sign + body to the spec's width; `=` (the default with a `0` flag on numbers) pads between. */
function pad(sign: string, body: string, spec: FormatSpec, defaultAlign: '<' | '>'): string {
  const len = sign.length + body.length;
  if (spec.width <= len) return sign + body;
  const align = spec.align ?? (spec.zero && defaultAlign === '>' ? '=' : defaultAlign);
  const n = spec.width - len;
  const fill = (k: number) => spec.fill.repeat(k);
  switch (align) {
    case '<':
      return sign + body + fill(n);
    case '>':
      return fill(n) + sign + body;
    case '^':
      return fill(Math.floor(n / 2)) + sign + body + fill(n - Math.floor(n / 2));
    case '=':
      return sign + fill(n) + body;
  }
}

/** Whether `name` is a catalog column rather than a metadata key. */
export function isCatalogField(name: string): boolean {
  return Object.hasOwn(CATALOG_FIELDS, name);
}
