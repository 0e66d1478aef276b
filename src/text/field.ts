import { z } from 'zod';

/**
 * Which text of a sample a text step reads: 'text' (the samples' caption/prompt column) or the
 * name of a field of its `meta` (a column the source kept, e.g. `negative_prompt`).
 */

const META_FIELD = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export const TextField = z
  .string()
  .regex(META_FIELD, { message: `field must be 'text' or a meta field name matching ${META_FIELD}` })
  .default('text');

/** SQL for the field's value on a row of `samples`/`active` (optionally qualified by `alias.`). */
export function textFieldSql(field: string, alias = ''): string {
  const a = alias ? `${alias}.` : '';
  // META_FIELD admits no quote, so the JSON path needs no escaping.
  return field === 'text' ? `${a}text` : `json_extract_string(${a}meta, '$."${field}"')`;
}
