import { resolve } from 'node:path';
import { z } from 'zod';
import { ImgsiftError, UsageError } from '../errors.js';
import { compareIds } from './file-export.js';
import { commitOwned, ownedKey, type OwnedFile } from './owned-files.js';
import { orderedJson } from './ordered-json.js';
import { pathTemplateProblem, splitFileName, templateFields } from './path-template.js';
import { rolePaths } from './role-paths.js';
import {
  FieldList, activeSamplesWithFiles, emptyFields, fieldValue, parseFieldSource, parseFields, type Field, type ViewSample,
} from './sample-view.js';
import { S3Options, sinkFor } from './sink.js';
import type { Exporter, ExportContext, ExportStats } from './types.js';

/**
 * `grouped_json`: one JSON document per split with the samples nested under their group, e.g.
 * seed 001's `<split>_sku_metadata.json`:
 *
 *   { "split": "train", "df2_root": "...", "num_skus": 2,         ← header, count_key
 *     "skus": {                                                   ← groups_key
 *       "000001_01_01": { "pair_id": 1, ...,                      ← group_by, group_fields
 *                         "catalog": [ {member_fields}, ... ],    ← list_by (domain) values
 *                         "query": [ ... ] } } }
 *
 * Keys keep the order of the options; groups are sorted by key and members by sample id (byte
 * order), so the same catalog gives the same bytes. Group fields come from the group's first
 * member; members that disagree are counted and warned about. Header strings may use `{split}`
 * and `${ENV_VAR}` (or `${ENV_VAR:-default}`); other braces are kept as they are.
 */

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const GroupedJsonOptions = z
  .object({
    /** The folder (local, relative to the recipe, or s3://bucket/prefix). */
    to: z.string().min(1),
    s3: S3Options.optional(),
    /** File name per split; must contain {split}. */
    name: z.string().min(1).default('{split}.json'),
    /** The field whose value groups samples (e.g. sku_id). */
    group_by: z.string().min(1),
    /** Fields of the group, taken from its first member (names or renames, as in the manifest). */
    group_fields: FieldList.optional(),
    /** Members go into one list per value of this field (e.g. domain → catalog, query). */
    list_by: z.string().min(1).optional(),
    /** With list_by: the lists every group has, in this order (values outside it are skipped); default: the values found, sorted. */
    lists: z.array(z.string().min(1)).min(1).optional(),
    /** Without list_by: the key of the one member list. */
    members_key: z.string().min(1).default('members'),
    /** Fields of each member. */
    member_fields: FieldList,
    /** Top-level constants before the groups, e.g. {split: '{split}', df2_root: '${DF2_ROOT}'}. */
    header: z.record(z.string(), Scalar).default({}),
    /** Key for the number of groups (e.g. num_skus); omitted when not set. */
    count_key: z.string().min(1).optional(),
    /** Key of the groups object. */
    groups_key: z.string().min(1).default('groups'),
    /** `role:` paths not written by a files export into `to` are relative to this folder. */
    relative_to: z.string().min(1).optional(),
    /** Spaces per indentation level (0: one line). */
    indent: z.number().int().min(0).max(8).default(2),
  })
  .strict()
  .superRefine((o, ctx) => {
    const p = pathTemplateProblem(o.name);
    if (p) ctx.addIssue({ code: 'custom', path: ['name'], message: p });
    else if (!templateFields(o.name).includes('split') || templateFields(o.name).some((f) => f !== 'split')) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: `name ${JSON.stringify(o.name)} must use {split} and no other field (one file per split)` });
    }
    for (const key of ['group_fields', 'member_fields'] as const) {
      try {
        if (o[key]) parseFields(o[key], key);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: [key], message: (err as Error).message });
      }
    }
    if (o.lists && !o.list_by) ctx.addIssue({ code: 'custom', path: ['lists'], message: 'lists needs list_by (the field whose values name the lists)' });
    const top = [...Object.keys(o.header), ...(o.count_key ? [o.count_key] : [])];
    if (top.includes(o.groups_key)) ctx.addIssue({ code: 'custom', path: ['groups_key'], message: `'${o.groups_key}' is also a header or count key` });
  });
export type GroupedJsonOptions = z.infer<typeof GroupedJsonOptions>;

/** `${VAR}` and `${VAR:-default}` from the environment; an unset variable without default is an error. */
export function expandEnv(text: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => {
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    throw new UsageError(`grouped_json: header uses \${${name}}, which is not set in the environment (write \${${name}:-default} for a default)`);
  });
}

interface Group {
  fields: Map<string, unknown>;
  lists: Map<string, Array<Map<string, unknown>>>;
}

export const groupedJsonExporter: Exporter<GroupedJsonOptions> = {
  format: 'grouped_json',
  description: 'one JSON document per split: samples nested under their group, in lists per value of a field',
  options: GroupedJsonOptions,
  async run(ctx: ExportContext, options: GroupedJsonOptions): Promise<ExportStats> {
    const groupBy: Field = { key: options.group_by, source: parseFieldSource(options.group_by), spec: options.group_by };
    const listBy: Field | null = options.list_by ? { key: options.list_by, source: parseFieldSource(options.list_by), spec: options.list_by } : null;
    const groupFields = options.group_fields ? parseFields(options.group_fields, 'group_fields') : [];
    const memberFields = parseFields(options.member_fields, 'member_fields');
    // Header strings are filled in once per split; check the environment before writing anything.
    const header = Object.entries(options.header);
    for (const [, v] of header) if (typeof v === 'string') expandEnv(v);

    const sink = await sinkFor(ctx, options.to, options.s3);
    try {
      const samples = await activeSamplesWithFiles(ctx);
      const relativeTo = options.relative_to !== undefined ? resolve(ctx.baseDir, options.relative_to) : undefined;
      const rolePath = await rolePaths(sink, relativeTo);
      const empty = emptyFields(samples, [groupBy, ...(listBy ? [listBy] : []), ...groupFields, ...memberFields], rolePath);
      if (empty.length) throw new ImgsiftError(`grouped_json: no sample has a value for field(s) ${empty.join(', ')}; check the names against the samples' meta`);

      const bySplit = new Map<string, ViewSample[]>();
      for (const s of samples) {
        const split = s.split ?? 'all';
        if (!bySplit.has(split)) bySplit.set(split, []);
        bySplit.get(split)!.push(s);
      }
      const stats: ExportStats = {};
      let ungrouped = 0;
      let unlisted = 0;
      let conflicts = 0;
      const owned: OwnedFile[] = [];
      for (const [split, members] of [...bySplit].sort(([a], [b]) => compareIds(a, b))) {
        const groups = new Map<string, Group>();
        for (const s of members) {
          const g = fieldValue(s, groupBy, rolePath);
          if (g === null || typeof g === 'object') {
            ungrouped++;
            if (ungrouped <= 5) ctx.reporter.warn(`grouped_json: sample ${s.id} has no single ${options.group_by} value; left out`);
            continue;
          }
          let list = options.members_key;
          if (listBy) {
            const v = fieldValue(s, listBy, rolePath);
            if (v === null || typeof v === 'object' || (options.lists && !options.lists.includes(String(v)))) {
              unlisted++;
              if (unlisted <= 5) ctx.reporter.warn(`grouped_json: sample ${s.id} has ${options.list_by} ${JSON.stringify(v)}, not one of the lists; left out`);
              continue;
            }
            list = String(v);
          }
          const key = String(g);
          let group = groups.get(key);
          if (!group) {
            group = { fields: new Map(groupFields.map((f) => [f.key, fieldValue(s, f, rolePath)])), lists: new Map() };
            groups.set(key, group);
          } else {
            for (const f of groupFields) {
              const v = fieldValue(s, f, rolePath);
              if (orderedJson(v) !== orderedJson(group.fields.get(f.key))) {
                conflicts++;
                if (conflicts <= 5) ctx.reporter.warn(`grouped_json: sample ${s.id}: ${f.key} ${orderedJson(v)} differs from its group ${key}'s ${orderedJson(group.fields.get(f.key))}`);
              }
            }
          }
          if (!group.lists.has(list)) group.lists.set(list, []);
          group.lists.get(list)!.push(new Map(memberFields.map((f) => [f.key, fieldValue(s, f, rolePath)])));
        }

        const doc = new Map<string, unknown>();
        for (const [k, v] of header) doc.set(k, typeof v === 'string' ? expandEnv(v.replaceAll('{split}', split)) : v);
        if (options.count_key) doc.set(options.count_key, groups.size);
        const body = new Map<string, unknown>();
        for (const [key, group] of [...groups].sort(([a], [b]) => compareIds(a, b))) {
          const names = listBy ? (options.lists ?? [...group.lists.keys()].sort(compareIds)) : [options.members_key];
          const out = new Map<string, unknown>(group.fields);
          for (const n of names) out.set(n, group.lists.get(n) ?? []);
          body.set(key, out);
        }
        doc.set(options.groups_key, body);

        const name = splitFileName('grouped_json', options.name, split);
        const committed = await sink.put(name, orderedJson(doc, options.indent) + '\n');
        owned.push({ path: name, xxh128: committed.xxh128 });
        stats[`groups ${split}`] = groups.size;
      }
      const removed = await commitOwned(sink, ownedKey('grouped_json', options.name), owned, { format: 'grouped_json', name: options.name, run: ctx.runId });
      if (removed) stats['stale files removed'] = removed;
      if (ungrouped) stats[`samples without ${options.group_by}`] = ungrouped;
      if (unlisted) stats[`samples outside the lists`] = unlisted;
      if (conflicts) stats['group field conflicts'] = conflicts;
      return stats;
    } finally {
      await sink.close();
    }
  },
};
