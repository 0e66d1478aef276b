import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CATALOG_FILE } from '../catalog/catalog.js';
import { UsageError } from '../errors.js';

/** Where commands that read an existing catalog (report, import-issues) look when --workdir is not given. */
export const DEFAULT_WORKDIRS = ['.imgsift', '.'];

/**
 * The workdir holding the catalog: the one given (it must contain a catalog), else the first of
 * DEFAULT_WORKDIRS that does. Never creates one: these commands work on a built dataset.
 */
export function findWorkdir(given?: string): string {
  if (given !== undefined) {
    const dir = resolve(given);
    if (!existsSync(join(dir, CATALOG_FILE))) {
      throw new UsageError(`--workdir ${given}: no ${CATALOG_FILE} there; build a recipe with this workdir first`);
    }
    return dir;
  }
  for (const d of DEFAULT_WORKDIRS) {
    if (existsSync(join(d, CATALOG_FILE))) return resolve(d);
  }
  throw new UsageError(`no catalog found in ${DEFAULT_WORKDIRS.map((d) => `${d}/`).join(' or ')}; pass --workdir (the recipe's workdir)`);
}
