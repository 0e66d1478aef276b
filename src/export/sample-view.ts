import { z } from 'zod';
import { compareIds, parseMeta } from './file-export.js';
import { lookup } from './path-template.js';
import { loadRoleAliases } from '../catalog/roles.js';
import type { ExportContext } from './types.js';

/**
 * The run's active samples with all their files by role, and the two ways layout exports read
 * them: a template view (`{split}/{sku_id}/...`: sample columns plus meta fields at top level) and
 * named fields (`sku_id`, `meta.bbox`, `{image_path: role:crop}`).
 */

export interface RoleFile {
  uri: string;
  /** Probed format (sharp's name), null when the file was not probed. */
  format: string | null;
}

export interface ViewSample {
  id: string;
  path: string | null;
  split: string | null;
  label: string | null;
  text: string | null;
  group_key: string | null;
  source_split: string | null;
  parent_id: string | null;
  meta: Record<string, unknown> | null;
  files: Map<string, RoleFile>;
}

/** Active samples (or those of `from`, a table or subquery), sorted by id (byte order), each with its files by role. */
export async function activeSamplesWithFiles(ctx: ExportContext, from = 'active'): Promise<ViewSample[]> {
  const rows = await ctx.catalog.all<Omit<ViewSample, 'files' | 'meta'> & { meta: string | null }>(
    `SELECT id, path, split, label, text, group_key, source_split, parent_id, meta::VARCHAR AS meta FROM ${from}`,
  );
  const files = await ctx.catalog.all<{ sample_id: string; role: string; uri: string; format: string | null }>(
    `SELECT f.sample_id, f.role, f.uri, s.format
     FROM files f JOIN ${from} a ON a.id = f.sample_id
     LEFT JOIN file_status fs ON fs.uri = f.uri
     LEFT JOIN assets s ON s.sha256 = fs.sha256`,
  );
  const bySample = new Map<string, Map<string, RoleFile>>();
  for (const f of files) {
    let m = bySample.get(f.sample_id);
    if (!m) bySample.set(f.sample_id, (m = new Map()));
    m.set(f.role, { uri: f.uri, format: f.format });
  }
  // The recipe's name of the main role (`input`) reaches the same file as `image`.
  const aliases = Object.entries(await loadRoleAliases(ctx.catalog));
  if (aliases.length) {
    for (const m of bySample.values()) for (const [alias, target] of aliases) if (m.has(target) && !m.has(alias)) m.set(alias, m.get(target)!);
  }
  return rows
    .map((r) => ({ ...r, meta: parseMeta(r.meta), files: bySample.get(r.id) ?? new Map<string, RoleFile>() }))
    .sort((a, b) => compareIds(a.id, b.id));
}

/** Sample columns by the names recipes use for them. */
const COLUMNS = ['id', 'path', 'split', 'label', 'text', 'group', 'source_split', 'parent_id'] as const;

function columns(s: ViewSample): Record<(typeof COLUMNS)[number], string | null> {
  return { id: s.id, path: s.path, split: s.split, label: s.label, text: s.text, group: s.group_key, source_split: s.source_split, parent_id: s.parent_id };
}

/**
 * What a path template sees: meta fields at top level, then the sample columns over them (a
 * sample without a split is in split `all`), `meta` itself, and `extra` (role, ext) last.
 */
export function templateView(s: ViewSample, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...(s.meta ?? {}), ...columns(s), split: s.split ?? 'all', meta: s.meta ?? {}, ...extra };
}

// ---------------------------------------------------------------------------------------------
// Fields

/**
 * Which fields a record has, in order: a name (`sku_id`, `meta.bbox`, `label`) keeps its last
 * segment as key; `{key: source}` renames. Sources: a sample column (id, path, split, label, text,
 * group, source_split), `meta` (the whole record), `meta.<a.b>` or a bare `<a.b>` (a dotted path
 * into meta), or `role:<role>` (the path of the sample's file of that role).
 */
export const FieldList = z
  .array(z.union([z.string().min(1), z.record(z.string().min(1), z.string().min(1))]))
  .min(1, 'list at least one field');
export type FieldList = z.infer<typeof FieldList>;

export type FieldSource =
  | { kind: 'column'; column: (typeof COLUMNS)[number] }
  | { kind: 'meta'; path: string | null }
  | { kind: 'role'; role: string };

export interface Field {
  key: string;
  source: FieldSource;
  /** As the recipe wrote it, for messages. */
  spec: string;
}

export function parseFieldSource(spec: string): FieldSource {
  if ((COLUMNS as readonly string[]).includes(spec)) return { kind: 'column', column: spec as (typeof COLUMNS)[number] };
  if (spec === 'meta') return { kind: 'meta', path: null };
  if (spec.startsWith('role:')) return { kind: 'role', role: spec.slice(5) };
  return { kind: 'meta', path: spec.startsWith('meta.') ? spec.slice(5) : spec };
}

/** Parse a field list; duplicate keys are an error naming them. */
export function parseFields(list: FieldList, option: string): Field[] {
  const out: Field[] = [];
  for (const entry of list) {
    const pairs: Array<[string, string]> =
      typeof entry === 'string' ? [[entry.slice(entry.lastIndexOf('.') + 1).replace(/^role:/, ''), entry]] : Object.entries(entry);
    for (const [key, spec] of pairs) {
      if (out.some((f) => f.key === key)) throw new Error(`${option}: the key '${key}' is listed twice`);
      if (spec.startsWith('role:') && spec.length === 5) throw new Error(`${option}.${key}: 'role:' needs a role name, e.g. role:image`);
      out.push({ key, source: parseFieldSource(spec), spec });
    }
  }
  return out;
}

/** Resolves `role:<role>` fields to the path written for a sample's file of that role. */
export type RolePath = (sample: ViewSample, role: string) => string | null;

/** A field's value for a sample: null when absent. */
export function fieldValue(s: ViewSample, f: Field, rolePath: RolePath): unknown {
  switch (f.source.kind) {
    case 'column':
      return columns(s)[f.source.column];
    case 'meta':
      return (f.source.path === null ? s.meta : s.meta ? lookup(s.meta, f.source.path) : undefined) ?? null;
    case 'role':
      return rolePath(s, f.source.role);
  }
}

/**
 * Fields no sample has a value for: most likely a misspelt name. Returns their specs so the
 * exporter can name them in its error.
 */
export function emptyFields(samples: ViewSample[], fields: Field[], rolePath: RolePath): string[] {
  if (samples.length === 0) return [];
  return fields
    .filter((f) => f.source.kind === 'meta' && !samples.some((s) => fieldValue(s, f, rolePath) !== null))
    .map((f) => f.spec);
}
