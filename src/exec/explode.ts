import { InputError } from '../errors.js';
import type { ExplodeConfig } from '../sources/config.js';
import type { SourceRecord } from '../sources/types.js';

/**
 * `explode:` — one record whose list field holds N elements becomes N child samples
 * (`<parent id>/<suffix>`), each with `parent` set, the parent's files, fields, split and group,
 * and the element in its metadata: an object's keys merged in (or under `as`), another value
 * under `as` (default: the field's name). `index` (from `index_from`) is the element's number.
 */
export function explodeRecord(rec: SourceRecord, cfg: ExplodeConfig): SourceRecord[] | InputError {
  const list = rec.meta?.[cfg.field];
  const where = refOf(rec);
  if (list === undefined || list === null) {
    return new InputError({ ...where, field: cfg.field }, `missing: explode needs a list in '${cfg.field}'`);
  }
  if (!Array.isArray(list)) {
    return new InputError({ ...where, field: cfg.field }, `expected a list to explode, found ${typeof list}`);
  }
  const { [cfg.field]: _dropped, ...parentMeta } = rec.meta!;
  const children: SourceRecord[] = [];
  const ids = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const element = list[i];
    const index = i + cfg.index_from;
    const meta: Record<string, unknown> = { ...parentMeta };
    if (cfg.as === undefined && element !== null && typeof element === 'object' && !Array.isArray(element)) {
      Object.assign(meta, element);
    } else {
      meta[cfg.as ?? cfg.field] = element;
    }
    meta.index = index;
    const suffix = childSuffix(cfg.id, element, index);
    if (suffix === '' || suffix.includes('/')) {
      return new InputError({ ...where, field: 'explode.id' }, `child id suffix '${suffix}' of element ${index} must be non-empty and hold no '/'`);
    }
    if (ids.has(suffix)) {
      return new InputError({ ...where, field: 'explode.id' }, `two elements give the child id suffix '${suffix}'; make explode.id unique (e.g. include {index})`);
    }
    ids.add(suffix);
    children.push({ ...rec, id: `${rec.id}/${suffix}`, parent: rec.id, meta });
  }
  return children;
}

function refOf(rec: SourceRecord): { file: string; line?: number } {
  const m = /^(.*):(\d+)$/.exec(rec.ref);
  return m ? { file: m[1], line: Number(m[2]) } : { file: rec.ref };
}

/** `{index}`, or `{key}` of an object element, in the id template; nothing else (ids stay simple). */
function childSuffix(template: string, element: unknown, index: number): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, key: string) => {
    if (key === 'index') return String(index);
    if (element !== null && typeof element === 'object' && key in element) return String((element as Record<string, unknown>)[key]);
    return '';
  });
}
