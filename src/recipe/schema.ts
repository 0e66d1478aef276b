import { z } from 'zod';
import { SourceConfigSchema, type SourceConfig } from '../sources/config.js';
import { ReviewConfigSchema } from '../review/taxonomy.js';

/**
 * The recipe: source → steps → export. Unknown top-level keys are an error (a typo should not be
 * silently ignored). Steps and exports are validated against their registered modules' schemas
 * in load.ts, because the set of steps is open.
 */
export const RecipeSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a name of letters, digits, ".", "_" or "-"'),
    description: z.string().optional(),
    /** Catalog and cache folder; relative to the recipe file. Default `.imgsift/<name>`. */
    workdir: z.string().min(1).optional(),
    /** One source; its samples keep the ids it gives. Exactly one of `source` and `sources`. */
    source: SourceConfigSchema.optional(),
    /**
     * Several sources, each with a `name` beside its own format, fields and splits: ids become
     * `<name>/<id>` and every sample's `source` is its name. Checked per entry in load.ts.
     */
    sources: z.array(z.unknown()).min(1).optional(),
    /** A name for this build's dataset version (`v5`), as `imgsift build --tag` gives it. */
    tag: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a tag of letters, digits, ".", "_" or "-"').optional(),
    steps: z.array(z.unknown()).default([]),
    export: z.array(z.unknown()).default([]),
    /** Path of the static HTML report, relative to the recipe file. */
    report: z.string().min(1).optional(),
    /**
     * Largest image (width x height of one page) any step or export decodes; bigger ones are refused
     * from their header (probe flags them `decompression_bomb`, later steps record them as skipped).
     * Default: Pillow's limit, 178,956,970. A probe step's own `max_pixels`, when lower, lowers it.
     */
    max_pixels: z.number().int().positive().optional(),
    /** Worker threads for per-sample steps (default: number of cores). */
    workers: z.number().int().min(1).max(256).optional(),
    /** Review settings: extra tags beside seed 002's taxonomy. */
    review: ReviewConfigSchema.optional(),
    /** What to do when two source rows have the same id. */
    on_duplicate_id: z.enum(['error', 'first']).default('error'),
    /** Lookup tables for `derive` templates (`{domain|map:domain_words}`): table → key → value. */
    lookups: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.number()]).transform(String))).optional(),
  })
  .strict();

export type RecipeInput = z.input<typeof RecipeSchema>;
type RecipeBase = z.output<typeof RecipeSchema>;

/** One step of a recipe after validation: its registered name and parsed parameters. */
export interface RecipeStep {
  name: string;
  params: unknown;
  /** The role a per-sample step reads (its `role:` key), as written in the recipe; default the main role. */
  role?: string;
  /** The recipe line of the step, for errors found after loading. */
  line?: number;
}

/** One source of a recipe: its name (none for a single `source:`) and its configuration. */
export interface RecipeSource {
  name?: string;
  config: SourceConfig;
}

/** A source's name in a `sources:` list: it prefixes ids, so it is short and path-safe. */
export const SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export interface RecipeExport {
  format: string;
  options: unknown;
}

/** A validated recipe with its steps and exports resolved, and where it came from. */
export interface Recipe extends Omit<RecipeBase, 'steps' | 'export' | 'source' | 'sources'> {
  /** The first enabled source (the only one without `sources:`). */
  source: SourceConfig;
  /** Every enabled source in recipe order; a single `source:` is one entry without a name. */
  sources: RecipeSource[];
  steps: RecipeStep[];
  export: RecipeExport[];
  /** Directory relative paths resolve against (the recipe file's folder). */
  baseDir: string;
  /** The recipe file, or '<inline>'. */
  file: string;
}
