import type { Catalog } from './catalog.js';
import type { Recipe } from '../recipe/schema.js';

/**
 * File roles by name. The main file of a sample is stored as role `image` whatever the recipe
 * calls it (`main: input`), so that every step, export and view finds it the same way; the
 * recipe's name is an alias, kept in the catalog's `meta` so commands run on a workdir alone
 * (`imgsift export`) resolve it too.
 */
export const MAIN_ROLE = 'image';

export type RoleAliases = Record<string, string>;

export function roleAliasesOf(recipe: Pick<Recipe, 'source'>): RoleAliases {
  const main = recipe.source.fields.main;
  return main ? { [main]: MAIN_ROLE } : {};
}

/** The catalog name of a role (`input` → `image` when input is the main role). */
export function resolveRole(role: string | undefined, aliases: RoleAliases): string {
  if (role === undefined || role === 'main') return MAIN_ROLE;
  return aliases[role] ?? role;
}

export async function saveRoleAliases(catalog: Catalog, recipe: Pick<Recipe, 'source'>): Promise<void> {
  await catalog.run(`INSERT OR REPLACE INTO meta VALUES ('role_aliases', ?)`, [JSON.stringify(roleAliasesOf(recipe))]);
}

export async function loadRoleAliases(catalog: Catalog): Promise<RoleAliases> {
  const row = await catalog.one<{ value: string }>(`SELECT value FROM meta WHERE key = 'role_aliases'`);
  return row ? (JSON.parse(row.value) as RoleAliases) : {};
}
