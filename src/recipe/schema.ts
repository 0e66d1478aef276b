import { z } from 'zod';
import { SourceConfigSchema } from '../sources/config.js';
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
    source: SourceConfigSchema,
    steps: z.array(z.unknown()).default([]),
    export: z.array(z.unknown()).default([]),
    /** Path of the static HTML report, relative to the recipe file. */
    report: z.string().min(1).optional(),
    /** Worker threads for per-sample steps (default: number of cores). */
    workers: z.number().int().min(1).max(256).optional(),
    /** Review settings: extra tags beside seed 002's taxonomy. */
    review: ReviewConfigSchema.optional(),
    /** What to do when two source rows have the same id. */
    on_duplicate_id: z.enum(['error', 'first']).default('error'),
  })
  .strict();

export type RecipeInput = z.input<typeof RecipeSchema>;
type RecipeBase = z.output<typeof RecipeSchema>;

/** One step of a recipe after validation: its registered name and parsed parameters. */
export interface RecipeStep {
  name: string;
  params: unknown;
  /** Line of the step in the recipe file, for errors about its place in the list. */
  line?: number;
}

export interface RecipeExport {
  format: string;
  options: unknown;
}

/** A validated recipe with its steps and exports resolved, and where it came from. */
export interface Recipe extends Omit<RecipeBase, 'steps' | 'export'> {
  steps: RecipeStep[];
  export: RecipeExport[];
  /** Directory relative paths resolve against (the recipe file's folder). */
  baseDir: string;
  /** The recipe file, or '<inline>'. */
  file: string;
}
