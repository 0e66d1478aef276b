/**
 * JSON text that keeps keys in the order given. `JSON.stringify` moves integer-like keys ("123")
 * ahead of the others; records and documents here are Maps so the order is ours.
 */

/** `value` as JSON; Maps are objects in insertion order. `indent` pretty-prints. */
export function orderedJson(value: unknown, indent = 0, depth = 0): string {
  const pad = indent ? '\n' + ' '.repeat(indent * (depth + 1)) : '';
  const end = indent ? '\n' + ' '.repeat(indent * depth) : '';
  if (value instanceof Map || (value && typeof value === 'object' && !Array.isArray(value))) {
    const entries: Array<[unknown, unknown]> = value instanceof Map ? [...value] : Object.entries(value as object);
    if (entries.length === 0) return '{}';
    const parts = entries.map(([k, v]) => `${JSON.stringify(String(k))}:${indent ? ' ' : ''}${orderedJson(v, indent, depth + 1)}`);
    return `{${pad}${parts.join(`,${pad}`)}${end}}`;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    // Short lists of scalars (a bbox) stay on one line.
    if (value.length <= 8 && value.every((v) => v === null || typeof v !== 'object')) {
      return `[${value.map((v) => orderedJson(v)).join(indent ? ', ' : ',')}]`;
    }
    return `[${pad}${value.map((v) => orderedJson(v, indent, depth + 1)).join(`,${pad}`)}${end}]`;
  }
  return JSON.stringify(value ?? null) ?? 'null';
}
