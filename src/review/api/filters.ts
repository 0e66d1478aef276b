import { z } from 'zod';
import { SampleFilterSchema } from '../decisions.js';
import type { GridFilter } from './grid.js';
import { HttpError } from './http.js';

/** The JSON form of a grid filter (POST bodies): decisions.ts's SampleFilter plus the grid's scope. */
export const GridFilterSchema = SampleFilterSchema.extend({ scope: z.enum(['active', 'run']).optional() }).strict();

const LIST_KEYS = ['split', 'label', 'issue', 'source', 'tag', 'decision', 'ids'] as const;

/**
 * A grid filter from a query string: `?split=train&split=test&issue=dark&scoreMin=0.5&tag=keep`.
 * A repeated key means "any of"; `ids` may also be comma-separated. Unknown keys are an error, so a
 * typo does not silently show everything.
 */
export function filterFromQuery(query: URLSearchParams, allowed: readonly string[] = []): GridFilter {
  const f: Record<string, unknown> = {};
  for (const key of new Set(query.keys())) {
    const values = query.getAll(key);
    if ((LIST_KEYS as readonly string[]).includes(key)) {
      f[key] = key === 'ids' ? values.flatMap((v) => v.split(',')).filter(Boolean) : values;
    } else if (key === 'scoreMin' || key === 'scoreMax') {
      const n = Number(values[0]);
      if (values[0] === '' || !Number.isFinite(n)) throw new HttpError(400, `${key} must be a number (got '${values[0]}')`);
      f[key] = n;
    } else if (key === 'flagged') {
      if (values[0] !== 'true' && values[0] !== 'false') throw new HttpError(400, `flagged must be true or false (got '${values[0]}')`);
      f[key] = values[0] === 'true';
    } else if (key === 'search' || key === 'scope') {
      f[key] = values[0];
    } else if (!allowed.includes(key)) {
      throw new HttpError(400, `unknown query parameter '${key}'`);
    }
  }
  return parseFilter(f);
}

export function parseFilter(value: unknown): GridFilter {
  const parsed = GridFilterSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpError(400, `filter.${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** A stable text of a filter, for cache keys. */
export function filterKey(filter: GridFilter): string {
  return JSON.stringify(Object.keys(filter).sort().map((k) => [k, filter[k as keyof GridFilter]]));
}

/** An integer query parameter within bounds. */
export function intParam(query: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be a whole number from ${min} to ${max} (got '${raw}')`);
  return n;
}
