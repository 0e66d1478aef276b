/**
 * Sample fields by name, shared by templates (`derive`), filters (`groups.by`) and splits
 * (`group_by`). A field name is a catalog column (`id`, `path`, `split`, `label`, `text`, `group`,
 * `source`, ...) or a path into the sample's `meta` JSON: dotted keys with `[n]` indexes
 * (`item.bbox[2]`, `meta.split` to reach a meta key that a column name shadows).
 */

/** Catalog columns a field name can name, and the column each reads. */
export const CATALOG_FIELDS: Readonly<Record<string, string>> = {
  id: 'id',
  path: 'path',
  split: 'split',
  label: 'label',
  text: 'text',
  group: 'group_key',
  group_key: 'group_key',
  source: 'source',
  source_ref: 'source_ref',
  source_split: 'source_split',
  parent_id: 'parent_id',
};

/** One step of a field path: an object key or an array index (negative counts from the end). */
export type PathSegment = string | number;

/** A field path that does not parse; `offset` is where in the text the problem is (0-based). */
export class FieldPathError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'FieldPathError';
  }
}

const KEY_START = /[A-Za-z_]/;
const KEY_CHAR = /[A-Za-z0-9_-]/;

/**
 * Parse `a.b[2].c` into ['a', 'b', 2, 'c']. Keys are letters, digits, `_` and `-` (not starting
 * with a digit or `-`); indexes are integers in brackets.
 */
export function parseFieldPath(text: string): PathSegment[] {
  const out: PathSegment[] = [];
  let i = 0;
  const key = (): string => {
    const start = i;
    if (i >= text.length || !KEY_START.test(text[i])) {
      throw new FieldPathError(
        i >= text.length ? `field name ends early` : `unexpected ${JSON.stringify(text[i])} where a field name starts`,
        i,
      );
    }
    while (i < text.length && KEY_CHAR.test(text[i])) i++;
    return text.slice(start, i);
  };
  out.push(key());
  while (i < text.length) {
    const c = text[i];
    if (c === '.') {
      i++;
      out.push(key());
    } else if (c === '[') {
      const m = /^\[(-?\d+)\]/.exec(text.slice(i));
      if (!m) throw new FieldPathError(`expected an index like [0] after ${JSON.stringify(text.slice(0, i))}`, i);
      out.push(Number(m[1]));
      i += m[0].length;
    } else {
      throw new FieldPathError(`unexpected ${JSON.stringify(c)} in field name ${JSON.stringify(text)}`, i);
    }
  }
  return out;
}

/** Whether `name` is a field name `fieldSql` accepts. */
export function isFieldName(name: string): boolean {
  try {
    parseFieldPath(name);
    return true;
  } catch {
    return false;
  }
}

/** A field path as a DuckDB JSON path (`$."item"."bbox"[2]`); keys hold no quotes by the grammar. */
export function jsonPath(segments: readonly PathSegment[]): string {
  let p = '$';
  for (const s of segments) p += typeof s === 'number' ? (s < 0 ? `[#${s}]` : `[${s}]`) : `."${s}"`;
  return p;
}

/**
 * SQL for the text value of field `name` over a row of `samples`/`active` (`alias.` prefixed when
 * given): a catalog column as text, or the meta value at that path as text (NULL when absent or
 * JSON null; objects and arrays as JSON text). Throws on a name that does not parse.
 */
export function fieldSql(name: string, alias?: string): string {
  const segs = parseFieldPath(name);
  const col = (c: string) => (alias ? `${alias}.${c}` : c);
  const first = segs[0] as string;
  if (segs.length === 1 && first in CATALOG_FIELDS) return `CAST(${col(CATALOG_FIELDS[first])} AS VARCHAR)`;
  if (first === 'meta') {
    if (segs.length === 1) return `CAST(${col('meta')} AS VARCHAR)`;
    return `json_extract_string(${col('meta')}, '${jsonPath(segs.slice(1))}')`;
  }
  return `json_extract_string(${col('meta')}, '${jsonPath(segs)}')`;
}
