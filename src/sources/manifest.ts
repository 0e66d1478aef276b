import { isAbsolute, relative, resolve, sep } from 'node:path';
import { InputError } from '../errors.js';
import { resolveInside } from '../util/paths.js';
import { isRemoteUri } from '../util/uri.js';
import type { FieldMap, SourceRecord } from './types.js';

/**
 * Turning one manifest row (jsonl, csv, parquet, imagefolder metadata) into a SourceRecord through
 * the recipe's field mapping. Columns are resolved once per file (from the header, the schema, or
 * the first rows), so a mapping typo fails early with the columns that do exist, instead of
 * turning every row into a bad row.
 */

type TextField = 'id' | 'text' | 'label' | 'group' | 'split';
const TEXT_FIELDS: readonly TextField[] = ['id', 'text', 'label', 'group', 'split'];

/** Columns tried, in order, when `fields` does not name one. */
export const DEFAULT_COLUMNS: Record<TextField | 'image', readonly string[]> = {
  image: ['image', 'file_name', 'image_path', 'path', 'file', 'filename', 'image_url', 'url'],
  id: ['id'],
  text: ['text', 'caption'],
  label: ['label'],
  group: ['group'],
  split: ['split'],
};

/** The concrete column behind each field, for one file. */
export interface ResolvedColumns {
  image: string;
  id?: string;
  text?: string;
  label?: string;
  group?: string;
  split?: string;
  /** Extra file roles → column. */
  files: Record<string, string>;
  /** Role → text put before its column's value. */
  prefixes: Record<string, string>;
  /** Whether the id column was named in the recipe (then a row without it is bad). */
  explicitId: boolean;
  /** Every column some field takes; the others go to meta. */
  used: ReadonlySet<string>;
}

/**
 * Pick the column of every field. `columns` are those the file has (header, schema, or the keys
 * of its first rows, as `seenIn` says). Throws an InputError naming the file, the mapping and the
 * columns that exist when a mapped column is absent or no image column can be found.
 */
export function resolveColumns(
  file: string,
  fields: FieldMap,
  columns: readonly string[],
  seenIn = 'the header',
  imageDefaults: readonly string[] = DEFAULT_COLUMNS.image,
): ResolvedColumns {
  const have = new Set(columns);
  const listing = () => (columns.length ? columns.map((c) => `'${c}'`).join(', ') : '(none)');
  const need = (field: string, column: string) => {
    if (!have.has(column)) {
      throw new InputError(
        { file, field: `source.fields.${field}` },
        `mapped to column '${column}', which ${seenIn} does not have; columns: ${listing()}`,
      );
    }
    return column;
  };
  let image: string;
  if (fields.image !== undefined) image = need('image', fields.image);
  else {
    const found = imageDefaults.find((c) => have.has(c));
    if (found === undefined) {
      throw new InputError(
        { file, field: 'source.fields.image' },
        `no image column: set fields.image to one of the columns (${listing()}); tried ${imageDefaults.join(', ')}`,
      );
    }
    image = found;
  }
  const used = new Set<string>([image]);
  const out: ResolvedColumns = { image, files: {}, prefixes: fields.prefixes ?? {}, explicitId: fields.id !== undefined, used };
  for (const f of TEXT_FIELDS) {
    const named = fields[f];
    const column = named !== undefined ? need(f, named) : DEFAULT_COLUMNS[f].find((c) => have.has(c) && c !== image);
    if (column === undefined) continue;
    out[f] = column;
    used.add(column);
  }
  for (const [role, column] of Object.entries(fields.files ?? {})) {
    out.files[role] = need(`files.${role}`, column);
    used.add(column);
  }
  for (const column of fields.keep_in_meta ?? []) used.delete(column);
  return out;
}

export interface RowContext {
  /** The manifest file, for `ref` and errors. */
  file: string;
  /** 1-based line (jsonl, csv: line where the record starts) or row number (parquet). */
  line: number;
  /** Absolute folder that relative image paths resolve against. */
  root: string;
  /** Absolute folder that `record.path` and derived ids are relative to (default: root). */
  pathRoot?: string;
  allowAbsolutePaths: boolean;
}

/** A scalar cell as text; empty and null cells are absent. Objects are not text. */
function cellText(value: unknown): string | undefined | { error: string } {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  return { error: `expected text or a number, found ${Array.isArray(value) ? 'a list' : typeof value}` };
}

/** Where a file named in a row lives: a URL kept as is, or a local path inside the root. */
function locate(
  raw: unknown,
  ctx: RowContext,
): { uri: string; path?: string } | { error: string } {
  let value = raw;
  // Hugging Face image columns are {bytes, path}; a path without embedded bytes is usable.
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)) {
    const o = value as Record<string, unknown>;
    if (o.bytes != null) return { error: 'holds embedded image bytes; imgsift reads images from paths or URLs (extract them first)' };
    value = o.path;
  }
  if (value instanceof Uint8Array) return { error: 'holds embedded image bytes; imgsift reads images from paths or URLs (extract them first)' };
  if (value === null || value === undefined) return { error: 'missing (a path or URL is required)' };
  if (typeof value !== 'string') return { error: `expected a path or URL, found ${typeof value}` };
  const name = value.trim();
  if (name === '') return { error: 'empty (a path or URL is required)' };
  if (isRemoteUri(name)) return { uri: name };
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(name)) {
    return { error: `unsupported location '${name}' (expected a local path or an http(s):// or s3:// URL)` };
  }
  const pathRoot = ctx.pathRoot ?? ctx.root;
  if (isAbsolute(name)) {
    if (!ctx.allowAbsolutePaths) {
      return { error: `absolute path '${name}' escapes the dataset root ${ctx.root} (set allow_absolute_paths: true to accept absolute paths)` };
    }
    const full = resolve(name);
    return { uri: full, path: posixRelativeOrAbsolute(pathRoot, full) };
  }
  if (sep === '/' && isPlainRelative(name)) {
    // The common case, without path.resolve/relative: `a/b.jpg` cannot leave the root.
    const full = ctx.root.endsWith('/') ? ctx.root + name : `${ctx.root}/${name}`;
    return { uri: full, path: pathRoot === ctx.root ? name : posixRelativeOrAbsolute(pathRoot, full) };
  }
  const full = resolveInside(ctx.root, name);
  if (full === null) return { error: `path '${name}' escapes the dataset root ${ctx.root}` };
  return { uri: full, path: posixRelativeOrAbsolute(pathRoot, full) };
}

/** A relative path with no `.`, `..` or empty segments and no NUL: it names a place under any root. */
function isPlainRelative(name: string): boolean {
  return (
    name.charCodeAt(0) !== 47 &&
    name.charCodeAt(name.length - 1) !== 47 &&
    !name.includes('//') &&
    !name.includes('\0') &&
    !/(?:^|\/)\.\.?(?:\/|$)/.test(name)
  );
}

function posixRelativeOrAbsolute(root: string, full: string): string {
  const rel = relative(root, full);
  const inside = rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
  return (inside ? rel : full).split(sep).join('/');
}

/**
 * One row → a record, or the InputError that says why it cannot be one (the caller reports it
 * through `onBadRow` and goes on). Columns not used by a field are kept in `meta`.
 */
function bad(ctx: RowContext, field: string, problem: string): InputError {
  return new InputError({ file: ctx.file, line: ctx.line, field }, problem);
}

/** A relative column value joined to its role's prefix (`images/1.png` → `https://cdn/images/1.png`). */
function withPrefix(value: unknown, prefix: string | undefined): unknown {
  if (prefix === undefined || typeof value !== 'string' || value === '') return value;
  return prefix + value;
}

export function rowToRecord(row: Record<string, unknown>, cols: ResolvedColumns, ctx: RowContext): SourceRecord | InputError {

  const image = locate(withPrefix(row[cols.image], cols.prefixes.image), ctx);
  if ('error' in image) return bad(ctx, cols.image, image.error);
  const files: Record<string, string> = { image: image.uri };
  for (const [role, column] of Object.entries(cols.files)) {
    const loc = locate(withPrefix(row[column], cols.prefixes[role]), ctx);
    if ('error' in loc) return bad(ctx, column, loc.error);
    files[role] = loc.uri;
  }

  const record: SourceRecord = { id: '', files, ref: `${ctx.file}:${ctx.line}` };
  if (image.path !== undefined) record.path = image.path;
  for (const f of TEXT_FIELDS) {
    const column = cols[f];
    if (column === undefined) continue;
    const v = cellText(row[column]);
    if (typeof v === 'object') return bad(ctx, column, v.error);
    if (v !== undefined) record[f] = v;
  }
  if (record.id === '') {
    if (cols.explicitId) return bad(ctx, cols.id ?? 'id', 'missing id');
    // No id column: the image's place names the sample (its path inside the root, or its URL).
    record.id = image.path ?? image.uri;
  }

  const used = cols.used;
  let meta: Record<string, unknown> | undefined;
  for (const key of Object.keys(row)) {
    if (used.has(key)) continue;
    (meta ??= {})[key] = row[key];
  }
  if (meta) record.meta = meta;
  return record;
}
