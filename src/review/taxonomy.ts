import { z } from 'zod';
import type { Catalog } from '../catalog/catalog.js';
import { UsageError } from '../errors.js';

/**
 * The review tags a person may put on a sample. The defaults are seed 002's standard taxonomy;
 * a recipe adds its own under `review: { tags: [...] }`. The build stores the recipe's extra tags
 * in the catalog (`meta` key `review.tags`), so the review app and scripts that only have the
 * workdir validate against the same list.
 */

export interface TagDef {
  name: string;
  description: string;
}

/** A tag name: lowercase, starts with a letter; `:` allowed for namespaces (`vl:checked`). */
export const TAG_NAME = /^[a-z][a-z0-9_:.-]{0,63}$/;

export const DEFAULT_TAGS: readonly TagDef[] = [
  { name: 'mislabel_confirmed', description: 'definitely wrong label' },
  { name: 'mislabel_uncertain', description: 'possibly wrong, needs discussion' },
  { name: 'outlier_valid', description: 'edge case but correct' },
  { name: 'outlier_invalid', description: 'outlier and wrong label' },
  { name: 'duplicate_exact', description: 'exact duplicate' },
  { name: 'duplicate_near', description: 'near duplicate (>95% similar)' },
  { name: 'low_quality_blur', description: 'blurry or low resolution' },
  { name: 'low_quality_corrupt', description: 'corrupted file' },
  { name: 'ambiguous_class', description: 'could belong to several classes' },
  { name: 'train_test_leak', description: 'appears in both splits' },
  { name: 'keep', description: 'keep in the dataset' },
  { name: 'remove', description: 'remove from the dataset' },
  { name: 'relabel', description: 'change the label to another class' },
];

/** What a reviewer decides for a sample. `relabel` carries the new label. */
export const REVIEW_ACTIONS = ['keep', 'remove', 'relabel'] as const;
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

export function isReviewAction(v: unknown): v is ReviewAction {
  return typeof v === 'string' && (REVIEW_ACTIONS as readonly string[]).includes(v);
}

const TagEntry = z.union([
  z.string().regex(TAG_NAME, `a tag name matching ${TAG_NAME}`),
  z.object({ name: z.string().regex(TAG_NAME, `a tag name matching ${TAG_NAME}`), description: z.string().default('') }).strict(),
]);

/** The recipe's `review:` key (for the recipe schema: `review: ReviewConfigSchema.optional()`). */
export const ReviewConfigSchema = z
  .object({
    /** Tags added to the standard taxonomy. */
    tags: z.array(TagEntry).default([]),
  })
  .strict();
export type ReviewConfig = z.infer<typeof ReviewConfigSchema>;

export class Taxonomy {
  private readonly byName: Map<string, TagDef>;

  constructor(tags: readonly TagDef[]) {
    this.byName = new Map();
    for (const t of tags) {
      if (!TAG_NAME.test(t.name)) throw new UsageError(`review tag '${t.name}' must match ${TAG_NAME}`);
      if (!this.byName.has(t.name)) this.byName.set(t.name, t);
    }
  }

  /** The standard tags plus `extra` (given as names or {name, description}). */
  static withExtra(extra: ReadonlyArray<string | Partial<TagDef> & { name: string }> = []): Taxonomy {
    return new Taxonomy([...DEFAULT_TAGS, ...extra.map(toDef)]);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  list(): TagDef[] {
    return [...this.byName.values()];
  }

  /** Throws a UsageError naming every unknown tag and the allowed ones. Returns the tags deduplicated. */
  check(tags: readonly string[]): string[] {
    if (tags.length === 0) throw new UsageError('no tags given');
    const unknown = tags.filter((t) => !this.byName.has(t));
    if (unknown.length) {
      throw new UsageError(
        `unknown review tag${unknown.length > 1 ? 's' : ''} ${unknown.map((t) => `'${t}'`).join(', ')}; ` +
          `allowed: ${[...this.byName.keys()].join(', ')} (add more under the recipe's review: { tags: [...] })`,
      );
    }
    return [...new Set(tags)];
  }
}

function toDef(t: string | (Partial<TagDef> & { name: string })): TagDef {
  return typeof t === 'string' ? { name: t, description: '' } : { name: t.name, description: t.description ?? '' };
}

const META_KEY = 'review.tags';

/** Store the recipe's extra tags with the catalog (the build calls this; replaces what was stored). */
export async function saveTaxonomy(catalog: Catalog, config: ReviewConfig | undefined): Promise<void> {
  const extra = (config?.tags ?? []).map(toDef);
  new Taxonomy(extra); // validates names
  await catalog.run(`INSERT OR REPLACE INTO meta VALUES (?, ?)`, [META_KEY, JSON.stringify(extra)]);
}

/** The taxonomy of a catalog: the standard tags plus those its recipe added. */
export async function loadTaxonomy(catalog: Catalog): Promise<Taxonomy> {
  const row = await catalog.one<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, [META_KEY]);
  if (!row) return Taxonomy.withExtra();
  let extra: TagDef[];
  try {
    extra = JSON.parse(row.value) as TagDef[];
  } catch {
    throw new UsageError(`catalog ${catalog.path}: meta '${META_KEY}' is not valid JSON`);
  }
  return Taxonomy.withExtra(extra);
}
