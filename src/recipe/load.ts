import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { z } from 'zod';
import { InputError, UsageError } from '../errors.js';
import { getStep, stepNames } from '../steps/registry.js';
import { exporterFormats, getExporter } from '../export/registry.js';
import { RecipeSchema, type Recipe, type RecipeExport, type RecipeStep } from './schema.js';
import { formatPath, lineOf } from './yaml-locate.js';

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
export async function loadRecipe(file: string): Promise<Recipe> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read recipe ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseRecipe(text, file, dirname(resolve(file)));
}

/** Parse and validate recipe YAML text. `baseDir` is where relative paths resolve. */
export function parseRecipe(text: string, file: string, baseDir: string): Recipe {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new RecipeError(
      file,
      doc.errors.map((e) => ({ path: [], message: `YAML syntax: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`, line: e.linePos?.[0]?.line })),
    );
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

  const base = RecipeSchema.safeParse(value ?? {});
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
      const parsed = step.params.safeParse(entry.params ?? {});
      if (!parsed.success) addZod(['steps', i, entry.name], parsed.error);
      else {
        const line = locate(['steps', i]);
        steps.push(line === undefined ? { name: entry.name, params: parsed.data } : { name: entry.name, params: parsed.data, line });
      }
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
      const parsed = exporter.options.safeParse(options);
      if (!parsed.success) addZod(['export', i], parsed.error);
      else exports.push({ format: exporter.format, options: parsed.data });
    });
  }

  if (problems.length > 0 || !base.success) throw new RecipeError(file, problems);
  return { ...base.data, steps, export: exports, baseDir, file };
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
