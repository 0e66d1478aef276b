import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { InputError, UsageError } from '../errors.js';
import { getStep, stepNames } from '../steps/registry.js';
import { exporterFormats, getExporter } from '../export/registry.js';
import { RecipeSchema, SOURCE_NAME, type Recipe, type RecipeExport, type RecipeSource, type RecipeStep } from './schema.js';
import { SourceConfigSchema } from '../sources/config.js';
import { formatPath, lineOf } from './yaml-locate.js';
import { deriveLookupProblems } from '../steps/derive.js';
import { applyOverrides, parseOverride, substituteDocument, type Override } from './variables.js';

/** How a recipe file is read: the environment for `${VAR}`, and `--set` overrides. */
export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** `KEY=VALUE` strings, applied in order after variables. */
  set?: readonly string[];
}

/** One validation problem, located in the recipe file. */
export interface RecipeProblem {
  path: readonly PropertyKey[];
  message: string;
  line?: number;
}

/** A recipe that failed validation; the message lists every problem with file:line and field path. */
export class RecipeError extends InputError {
  constructor(
    readonly file: string,
    readonly problems: RecipeProblem[],
  ) {
    super({ file, line: problems[0]?.line, field: formatPath(problems[0]?.path ?? []) }, describe(problems[0]));
    this.message = problems
      .map((p) => `${file}${p.line !== undefined ? `:${p.line}` : ''}: ${formatPath(p.path)}: ${p.message}`)
      .join('\n');
  }
}

function describe(p: RecipeProblem | undefined): string {
  return p ? p.message : 'invalid recipe';
}

/** Read, parse and validate a recipe file. */
export async function loadRecipe(file: string, options: LoadOptions = {}): Promise<Recipe> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read recipe ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseRecipe(text, file, dirname(resolve(file)), options);
}

/** Parse and validate recipe YAML text. `baseDir` is where relative paths resolve. */
export function parseRecipe(text: string, file: string, baseDir: string, options: LoadOptions = {}): Recipe {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new RecipeError(
      file,
      doc.errors.map((e) => ({ path: [], message: `YAML syntax: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`, line: e.linePos?.[0]?.line })),
    );
  }
  const locate = (path: readonly PropertyKey[]) => lineOf(doc as Document, counter, path);
  const unset = substituteDocument(doc as Document, options.env ?? process.env);
  if (unset.length > 0) {
    throw new RecipeError(file, unset.map((u) => ({
      path: u.path, line: locate(u.path),
      message: `variable \${${u.name}} is not set and has no default (set it in the environment, or write \${${u.name}:-default})`,
    })));
  }
  let overrides: Override[];
  try {
    overrides = (options.set ?? []).map(parseOverride);
    applyOverrides(doc as Document, overrides);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    throw aliasError(err, doc as Document, counter, file);
  }
  return validateRecipe(value, file, baseDir, (path, atKey) => lineOf(doc as Document, counter, path, atKey));
}

/** Validate a recipe given as a plain object (library use); errors carry field paths only. */
export function recipeFromObject(value: unknown, baseDir: string = process.cwd(), file = '<inline recipe>'): Recipe {
  return validateRecipe(value, file, resolve(baseDir), () => undefined);
}

function validateRecipe(
  value: unknown,
  file: string,
  baseDir: string,
  locate: (path: readonly PropertyKey[], atKey?: boolean) => number | undefined,
): Recipe {
  const problems: RecipeProblem[] = [];
  const add = (path: readonly PropertyKey[], message: string, atKey = false) => problems.push({ path, message, line: locate(path, atKey) });
  const addZod = (prefix: readonly PropertyKey[], error: z.ZodError) => {
    for (const issue of error.issues) {
      const path = [...prefix, ...(issue.path as PropertyKey[])];
      // One problem per unknown key, at the key's own line (the typo), not the enclosing mapping's.
      if (issue.code === 'unrecognized_keys') for (const k of issue.keys) add([...path, k], `unknown key '${k}'`, true);
      else add(path, issue.message);
    }
  };

  const base = parseLenient(RecipeSchema, value ?? {});
  if (!base.success) addZod([], base.error);

  const raw = (value ?? {}) as { steps?: unknown; export?: unknown };
  const steps: RecipeStep[] = [];
  if (Array.isArray(raw.steps)) {
    raw.steps.forEach((item, i) => {
      const entry = stepEntry(item);
      if (!entry) {
        add(['steps', i], 'each step is a step name, or a mapping with one key (the step name) to its parameters');
        return;
      }
      const step = getStep(entry.name);
      if (!step) {
        add(['steps', i, entry.name], `unknown step '${entry.name}'; known steps: ${stepNames().join(', ')}`);
        return;
      }
      // Every per-sample step reads one role (`role: crop`); steps that read several name them in their own parameters.
      let params = entry.params ?? {};
      let role: string | undefined;
      if (step.kind === 'map' && !step.roles && params && typeof params === 'object' && 'role' in params) {
        const { role: r, ...rest } = params as Record<string, unknown>;
        if (typeof r !== 'string' || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(r)) {
          add(['steps', i, entry.name, 'role'], 'a role name (image, crop, mask, ...)');
          return;
        }
        role = r;
        params = rest;
      }
      const parsed = parseLenient(step.params, params);
      if (!parsed.success) addZod(['steps', i, entry.name], parsed.error);
      else steps.push({ name: entry.name, params: parsed.data, ...(role ? { role } : {}), line: locate(['steps', i]) });
    });
  }

  const exports: RecipeExport[] = [];
  if (Array.isArray(raw.export)) {
    raw.export.forEach((item, i) => {
      if (!item || typeof item !== 'object' || Array.isArray(item)) {
        add(['export', i], 'each export is a mapping with a `format` key');
        return;
      }
      const { format, ...options } = item as Record<string, unknown>;
      const exporter = typeof format === 'string' ? getExporter(format) : undefined;
      if (!exporter) {
        add(['export', i, 'format'], `unknown export format ${JSON.stringify(format)}; known formats: ${exporterFormats().join(', ')}`);
        return;
      }
      const parsed = parseLenient(exporter.options, options);
      if (!parsed.success) addZod(['export', i], parsed.error);
      else exports.push({ format: exporter.format, options: parsed.data });
    });
  }

  const sources = recipeSources(base.data, add, addZod);
  if (!base.data && (value as { source?: unknown; sources?: unknown } | null)?.source === undefined && (value as { sources?: unknown } | null)?.sources === undefined) {
    add(['source'], 'a source: block (or a sources: list) is required');
  }

  // Cross-checks that need the whole recipe: derive templates name tables of `lookups:`.
  for (const p of deriveLookupProblems(steps, base.data?.lookups)) add(p.path, p.message);

  if (problems.length > 0 || !base.success || !sources) throw new RecipeError(file, problems);
  const { sources: _raw, source: _one, ...rest } = base.data;
  return { ...rest, source: sources[0].config, sources, steps, export: exports, baseDir, file };
}

/**
 * `source:` (one, ids as the source gives them) or `sources:` (each entry a source block with a
 * `name`, and `enabled: false` to leave it out of a build): the enabled sources in order.
 */
function recipeSources(
  base: { source?: unknown; sources?: unknown[] } | undefined,
  add: (path: readonly PropertyKey[], message: string) => void,
  addZod: (prefix: readonly PropertyKey[], error: z.ZodError) => void,
): RecipeSource[] | undefined {
  if (!base) return undefined;
  if (base.source !== undefined && base.sources !== undefined) {
    add(['sources'], 'give either source: (one) or sources: (a list), not both');
    return undefined;
  }
  if (base.sources === undefined) {
    if (base.source === undefined) {
      add(['source'], 'a source: block (or a sources: list) is required');
      return undefined;
    }
    return [{ config: base.source as RecipeSource['config'] }];
  }
  const out: RecipeSource[] = [];
  const names = new Set<string>();
  let ok = true;
  base.sources.forEach((item, i) => {
    if (!item || typeof item !== 'object' || Array.isArray(item)) {
      add(['sources', i], 'each source is a mapping with a name and a format');
      ok = false;
      return;
    }
    const { name, enabled, ...config } = item as Record<string, unknown>;
    if (typeof name !== 'string' || !SOURCE_NAME.test(name)) {
      add(['sources', i, 'name'], 'each source needs a name of letters, digits, ".", "_" or "-" (it prefixes the ids: <name>/<id>)');
      ok = false;
    } else if (names.has(name)) {
      add(['sources', i, 'name'], `source name '${name}' is used twice`);
      ok = false;
    }
    if (enabled !== undefined && typeof enabled !== 'boolean') {
      add(['sources', i, 'enabled'], 'true or false');
      ok = false;
    }
    const parsed = parseLenient(SourceConfigSchema, config);
    if (!parsed.success) {
      addZod(['sources', i], parsed.error);
      ok = false;
      return;
    }
    if (typeof name === 'string') names.add(name);
    if (enabled !== false && typeof name === 'string') out.push({ name, config: parsed.data });
  });
  if (!ok) return undefined;
  if (out.length === 0) {
    add(['sources'], 'every source is disabled (enabled: false); nothing to build');
    return undefined;
  }
  return out;
}

/**
 * yaml refuses a document whose aliases expand past its limit (an "alias bomb", a resource
 * exhaustion attack): a recipe error at the first alias, not a crash.
 */
function aliasError(err: unknown, doc: Document, counter: LineCounter, file: string): unknown {
  if (!(err instanceof Error) || !/alias/i.test(err.message)) return err;
  let line: number | undefined;
  visit(doc, {
    Alias(_, node) {
      if (node.range) line = counter.linePos(node.range[0]).line;
      return visit.BREAK;
    },
  });
  return new RecipeError(file, [{ path: [], message: `YAML aliases expand too much (${err.message}); write the values out instead`, line }]);
}

/** `probe`, `{probe: {...}}` or `{probe: null}` → name and params. */
function stepEntry(item: unknown): { name: string; params: unknown } | undefined {
  if (typeof item === 'string') return { name: item, params: {} };
  if (item && typeof item === 'object' && !Array.isArray(item)) {
    const keys = Object.keys(item);
    if (keys.length === 1) return { name: keys[0], params: (item as Record<string, unknown>)[keys[0]] };
  }
  return undefined;
}

/**
 * Parse with a schema, reading a string where a list is expected as a whitespace- or
 * comma-separated list (`splits: ${SPLITS:-train validation test}`).
 */
function parseLenient<T>(schema: z.ZodType<T>, value: unknown): z.ZodSafeParseResult<T> {
  let current = value;
  for (let round = 0; ; round++) {
    const result = schema.safeParse(current);
    if (result.success || round >= 20) return result;
    let changed = false;
    for (const issue of result.error.issues) {
      if (issue.code !== 'invalid_type' || issue.expected !== 'array') continue;
      const at = getAt(current, issue.path as PropertyKey[]);
      if (typeof at !== 'string') continue;
      current = setAt(current, issue.path as PropertyKey[], at.split(/[\s,]+/).filter((x) => x !== ''));
      changed = true;
    }
    if (!changed) return result;
  }
}

function getAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** A copy of `value` with the value at `path` replaced (containers on the path are copied). */
function setAt(value: unknown, path: readonly PropertyKey[], next: unknown): unknown {
  if (path.length === 0) return next;
  const [k, ...rest] = path;
  const copy: Record<PropertyKey, unknown> = Array.isArray(value) ? ([...value] as never) : { ...(value as object) };
  copy[k] = setAt(copy[k], rest, next);
  return copy;
}
