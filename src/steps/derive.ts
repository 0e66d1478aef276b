import { z } from 'zod';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Catalog, Columns, Row } from '../catalog/catalog.js';
import { CATALOG_FIELDS, fieldSql } from '../catalog/fields.js';
import { InputError } from '../errors.js';
import {
  TemplateSyntaxError,
  TemplateValueError,
  compileTemplate,
  fieldsOf,
  lookupsOf,
  renderTemplate,
  sampleView,
  type CompiledTemplate,
  type Lookups,
} from '../recipe/template.js';
import type { ReduceStep, StepContext, StepStats } from './types.js';

/**
 * Computed fields: `derive: { fields: { sku_id: "{pair_id:06d}_{style:02d}", ... } }`. Each field
 * is a template (src/recipe/template.ts) evaluated for every active sample; the results are
 * merged into the sample's metadata, where later templates, filters (`meta->>'sku_id'`, group
 * filters), splits (`group_by: sku_id`) and exports see them. The names `label`, `text` and
 * `group` write those catalog columns instead. A field may use another derived field (they are
 * evaluated in dependency order, declaration order otherwise); a cycle is an error at load.
 */

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Derived names that write a catalog column rather than a meta key. */
const COLUMN_TARGETS: Readonly<Record<string, string>> = { label: 'label', text: 'text', group: 'group_key' };

export const DeriveParams = z
  .object({
    fields: z
      .record(z.string(), z.string())
      .superRefine((fields, ctx) => {
        for (const p of deriveProblems(fields)) ctx.addIssue({ code: 'custom', message: p.message, path: p.path });
      }),
  })
  .strict();
export type DeriveParams = z.infer<typeof DeriveParams>;

interface Problem {
  path: PropertyKey[];
  message: string;
}

/** Problems with a `fields` map that need no data: names, template syntax, cycles. */
export function deriveProblems(fields: Record<string, string>): Problem[] {
  const out: Problem[] = [];
  const names = Object.keys(fields);
  if (names.length === 0) out.push({ path: [], message: 'derive needs at least one field, e.g. { sku_id: "{pair_id:06d}" }' });
  const compiled = new Map<string, CompiledTemplate>();
  for (const name of names) {
    if (!FIELD_NAME.test(name)) {
      out.push({ path: [name], message: `field name '${name}' must be letters, digits, '_' or '-', not starting with a digit` });
    } else if (name === 'meta' || (Object.hasOwn(CATALOG_FIELDS, name) && !Object.hasOwn(COLUMN_TARGETS, name))) {
      out.push({ path: [name], message: `'${name}' is a catalog column derive cannot write; derive may write label, text, group or metadata fields` });
    }
    try {
      compiled.set(name, compileTemplate(fields[name]));
    } catch (err) {
      if (err instanceof TemplateSyntaxError) out.push({ path: [name], message: err.message });
      else throw err;
    }
  }
  if (out.length === 0) {
    try {
      deriveOrder(compiled);
    } catch (err) {
      out.push({ path: [], message: (err as Error).message });
    }
  }
  return out;
}

/**
 * Evaluation order: each field after the derived fields it names, otherwise as declared. Throws
 * on a cycle (a field naming itself included), naming the fields around it.
 */
export function deriveOrder(compiled: ReadonlyMap<string, CompiledTemplate>): string[] {
  const deps = new Map<string, string[]>();
  for (const [name, t] of compiled) deps.set(name, fieldsOf(t).filter((f) => compiled.has(f)));
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, stack: string[]) => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      throw new Error(
        cycle.length === 2
          ? `derived field '${name}' uses itself; derive a new name from the source field instead`
          : `derived fields form a cycle: ${cycle.join(' → ')}`,
      );
    }
    state.set(name, 'visiting');
    for (const d of deps.get(name)!) visit(d, [...stack, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of compiled.keys()) visit(name, []);
  return order;
}

/**
 * Lookup tables the recipe's derive steps name but its `lookups:` block lacks; paths are relative
 * to the recipe (`steps[i].derive.fields.<name>`), for the loader to locate.
 */
export function deriveLookupProblems(
  steps: ReadonlyArray<{ name: string; params: unknown }>,
  lookups: Lookups | undefined,
): Problem[] {
  const out: Problem[] = [];
  steps.forEach((s, i) => {
    if (s.name !== 'derive') return;
    for (const [name, src] of Object.entries((s.params as DeriveParams).fields)) {
      for (const table of lookupsOf(src)) {
        if (!lookups || !Object.hasOwn(lookups, table)) {
          const known = Object.keys(lookups ?? {});
          out.push({
            path: ['steps', i, 'derive', 'fields', name],
            message: `lookup table '${table}' is not declared under the top-level 'lookups:'${known.length ? ` (declared: ${known.join(', ')})` : ''}`,
          });
        }
      }
    }
  });
  return out;
}

const PAGE = 20_000;
const STAGE = 'derive_stage';
const STAGE_COLUMNS: Columns = { id: 'varchar', meta: 'json', label: 'varchar', text: 'varchar', group_key: 'varchar' };

interface Planned {
  name: string;
  template: CompiledTemplate;
  /** The catalog column it writes, or undefined for a meta key. */
  column?: string;
}

export const deriveStep: ReduceStep<DeriveParams> = {
  kind: 'reduce',
  name: 'derive',
  description: 'computed fields from templates and lookup tables, stored in the sample metadata (or label/text/group)',
  params: DeriveParams,
  async run(ctx: StepContext, params: DeriveParams): Promise<StepStats> {
    const { catalog } = ctx;
    const lookups: Lookups = ctx.lookups ?? {};
    const compiled = new Map(Object.entries(params.fields).map(([n, src]) => [n, compileTemplate(src)]));
    const plan: Planned[] = deriveOrder(compiled).map((name) => ({
      name, template: compiled.get(name)!, column: COLUMN_TARGETS[name],
    }));
    for (const p of plan) {
      for (const table of lookupsOf(p.template)) {
        if (!Object.hasOwn(lookups, table)) {
          throw new InputError(location(p.name), `lookup table '${table}' is not declared under the recipe's 'lookups:'`);
        }
      }
    }
    await checkMissingFields(catalog, plan);

    // Only the columns the templates read: moving rows into JavaScript is the cost of this step.
    const columns = await presentColumns(catalog);
    const named = new Set(plan.flatMap((p) => fieldsOf(p.template)));
    const fields = Object.entries(CATALOG_FIELDS).filter(([f, c]) => (named.has(f) || f === 'id') && columns.has(c));
    const select = [...new Set(fields.map(([, c]) => c))];
    const writesColumn = new Set(plan.filter((p) => p.column).map((p) => p.column!));
    const progress = ctx.reporter.progress('derive', await catalog.scalar(`SELECT count(*) FROM active`));
    let samples = 0;
    // Rows leave the catalog through COPY to a JSONL file read line by line: memory stays bounded,
    // the order (ingest order) is deterministic, and it is several times faster than fetching
    // pages of rows through the client. Results come back in batches with the appender.
    const scratch = join(ctx.workdir, `derive-${ctx.runId}.jsonl`);
    await catalog.run(`DROP TABLE IF EXISTS ${STAGE}`);
    await catalog.run(`CREATE TABLE ${STAGE} (id VARCHAR, meta JSON, label VARCHAR, text VARCHAR, group_key VARCHAR)`);
    try {
      await catalog.run(
        `COPY (SELECT ${select.join(', ')}, meta FROM active ORDER BY ord) TO '${scratch.replace(/'/g, "''")}' (FORMAT JSON)`,
      );
      let batch: Row[] = [];
      const lines = createInterface({ input: createReadStream(scratch), crlfDelay: Infinity });
      for await (const line of lines) {
        if (!line) continue;
        batch.push(deriveRow(JSON.parse(line) as Record<string, unknown>, fields, plan, lookups));
        if (batch.length >= PAGE) {
          await catalog.append(STAGE, STAGE_COLUMNS, batch);
          samples += batch.length;
          progress.tick(batch.length);
          batch = [];
          if (ctx.signal?.aborted) return { samples };
        }
      }
      await catalog.append(STAGE, STAGE_COLUMNS, batch);
      samples += batch.length;
      progress.tick(batch.length);
      progress.finish();
      const sets = ['meta = d.meta', ...[...writesColumn].map((c) => `${c} = d.${c}`)];
      await catalog.run(`UPDATE samples SET ${sets.join(', ')} FROM ${STAGE} d WHERE samples.id = d.id`);
    } finally {
      await catalog.run(`DROP TABLE IF EXISTS ${STAGE}`).catch(() => undefined);
      await rm(scratch, { force: true });
    }

    const stats: StepStats = { samples, fields: plan.length };
    // How many distinct values the first few fields took: a quick sanity check (e.g. SKUs).
    for (const p of plan.slice(0, 5)) {
      stats[`distinct ${p.name}`] = await catalog.scalar(`SELECT count(DISTINCT ${fieldSql(p.name)}) FROM active`);
    }
    return stats;
  },
};

function location(name: string) {
  return { file: 'recipe', field: `derive.fields.${name}` };
}

/** Evaluate the plan for one catalog row; `fields` pairs field names with the columns read. */
function deriveRow(r: Record<string, unknown>, fields: ReadonlyArray<[string, string]>, plan: Planned[], lookups: Lookups): Row {
  const meta = asObject(r.meta);
  const cols: Record<string, unknown> = {};
  for (const [field, column] of fields) cols[field] = r[column];
  const view = sampleView(cols, meta);
  const row: Row = { id: r.id, meta, label: null, text: null, group_key: null };
  for (const p of plan) {
    let value: string;
    try {
      value = renderTemplate(p.template, view, lookups);
    } catch (err) {
      if (err instanceof TemplateValueError) {
        throw new InputError(location(p.name), `${err.message} (sample '${String(r.id)}')`);
      }
      throw err;
    }
    if (p.column) {
      row[p.column] = value;
      cols[p.name] = value;
    } else {
      meta[p.name] = value;
    }
  }
  return row;
}

/** The sample's meta as an object (ingest only stores objects; anything else is kept under `value`). */
function asObject(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return {};
  return typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
}

/**
 * Fail before any work when a template names a field some sample lacks (and gives no default),
 * naming the template, the field, how many samples and the first of them. Fields that an earlier
 * derived field provides are left to evaluation.
 */
async function checkMissingFields(catalog: Catalog, plan: Planned[]): Promise<void> {
  const derived = new Set(plan.map((p) => p.name));
  for (const p of plan) {
    for (const part of p.template.parts) {
      if (part.kind !== 'field' || part.filters.some((f) => f.name === 'default')) continue;
      const root = part.path[0] === 'meta' && part.path.length > 1 ? String(part.path[1]) : String(part.path[0]);
      if (derived.has(root)) continue;
      const row = await catalog.one<{ n: bigint; first: string | null }>(
        `SELECT count(*) AS n, arg_min(id, ord) AS first FROM active WHERE (${fieldSql(part.field)}) IS NULL`,
      );
      const n = Number(row?.n ?? 0);
      if (n > 0) {
        throw new InputError(
          location(p.name),
          `template ${JSON.stringify(p.template.source)}: field '${part.field}' is missing (absent or null) in ${n} sample${n === 1 ? '' : 's'}, ` +
            `e.g. '${row!.first}'; give a default with {${part.field}|default:VALUE}`,
        );
      }
    }
  }
}

/** Columns of the samples table (parent_id and others may come with later schema versions). */
async function presentColumns(catalog: Catalog): Promise<Set<string>> {
  const rows = await catalog.all<{ name: string }>(
    `SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'samples'`,
  );
  return new Set(rows.map((r) => r.name));
}
