import { ImgsiftError, UsageError } from '../errors.js';

/**
 * Python-format path templates for exports: `{field}`, `{field:06d}` (zero-padded integer),
 * `{a.b}` (a dotted path into nested values), `{{` and `}}` for literal braces. A stand-in for
 * the shared src/recipe/template.ts with the same signature, kept small so it can be swapped.
 */

const PLACEHOLDER = /\{\{|\}\}|\{([^{}:]*)(?::([^{}]*))?\}|[{}]/g;

/** Problem with a template's syntax (unbalanced braces, unknown format spec), or null. */
export function templateProblem(template: string): string | null {
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m[0] === '{{' || m[0] === '}}') continue;
    if (m[0] === '{' || m[0] === '}') return `template ${JSON.stringify(template)} has an unmatched '${m[0]}' (write '${m[0]}${m[0]}' for a literal one)`;
    if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$/.test(m[1])) return `template ${JSON.stringify(template)}: '{${m[1]}}' is not a field name`;
    if (m[2] !== undefined && !/^(0?\d+)?d$|^s$/.test(m[2])) {
      return `template ${JSON.stringify(template)}: format '${m[2]}' of {${m[1]}} is not supported (use d, 0Nd such as 06d, or s)`;
    }
  }
  return null;
}

/** Field names a template uses (the first segment of dotted paths included as written). */
export function templateFields(template: string): string[] {
  const out: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) if (m[1] !== undefined) out.push(m[1]);
  return out;
}

/** A value at a dotted path (`a.b.0`), or undefined. */
export function lookup(view: Record<string, unknown>, path: string): unknown {
  let v: unknown = view;
  for (const part of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Fill a template from `view`; a missing or empty field, or a non-integer for `d`, throws. */
export function renderTemplate(template: string, view: Record<string, unknown>): string {
  const problem = templateProblem(template);
  if (problem) throw new UsageError(problem);
  return template.replace(PLACEHOLDER, (whole, field: string | undefined, spec: string | undefined) => {
    if (whole === '{{') return '{';
    if (whole === '}}') return '}';
    const v = lookup(view, field!);
    if (v === undefined || v === null || v === '') throw new Error(`template field {${field}} has no value`);
    if (spec && spec.endsWith('d')) {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
      if (!Number.isInteger(n)) throw new Error(`template field {${field}:${spec}} is not an integer: ${JSON.stringify(v)}`);
      const width = spec.length > 1 ? Number(spec.slice(0, -1)) : 0;
      const digits = String(Math.abs(n)).padStart(width - (n < 0 ? 1 : 0), spec.startsWith('0') ? '0' : ' ');
      return n < 0 ? `-${digits}` : digits;
    }
    if (typeof v === 'object') throw new Error(`template field {${field}} is not a single value: ${JSON.stringify(v)}`);
    return String(v);
  });
}

/**
 * A rendered path checked for use under an export root: forward slashes, no empty, '.' or '..'
 * segments, not absolute, no control characters, not under `.imgsift/`. Throws naming the path.
 */
export function checkedRelativePath(path: string): string {
  const p = path.replace(/\\/g, '/');
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) throw new Error(`path ${JSON.stringify(path)} is absolute; export paths are relative to the export folder`);
  if (/[\x00-\x1f\x7f]/.test(p)) throw new Error(`path ${JSON.stringify(path)} contains a control character`);
  const parts = p.split('/');
  if (parts.includes('..')) throw new Error(`path ${JSON.stringify(path)} escapes the export folder ('..')`);
  if (parts.some((s) => s === '' || s === '.')) throw new Error(`path ${JSON.stringify(path)} has an empty or '.' segment`);
  // Where exports sharing a folder record their files (owned-files.ts).
  if (parts[0] === '.imgsift') throw new Error(`path ${JSON.stringify(path)} is inside .imgsift/, which holds the exports' records`);
  return p;
}

/** The file name a per-split `template` gives `split`, checked; the error names the export and the split. */
export function splitFileName(format: string, template: string, split: string): string {
  try {
    return checkedRelativePath(renderTemplate(template, { split }));
  } catch (err) {
    throw new ImgsiftError(`${format}: split ${JSON.stringify(split)}: ${(err as Error).message}`);
  }
}

/** A template's static problems as a path: absolute, or a literal '..' segment. */
export function pathTemplateProblem(template: string): string | null {
  const syntax = templateProblem(template);
  if (syntax) return syntax;
  const t = template.replace(/\\/g, '/');
  if (t.startsWith('/') || /^[A-Za-z]:/.test(t)) return `path template ${JSON.stringify(template)} is absolute; it must be relative to the export folder`;
  if (t.split('/').includes('..')) return `path template ${JSON.stringify(template)} escapes the export folder ('..')`;
  return null;
}
