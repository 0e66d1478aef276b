/**
 * imgsift's library API. Everything the CLI does is available here:
 *
 *   import { build, loadRecipe, Catalog } from 'imgsift';
 *   const { summary } = await build('recipe.yaml', { maxSamples: 100 });
 */
export { build, planStages, type BuildOptions, type BuildResult } from './exec/build.js';
export { ingest, type IngestOptions, type IngestStats } from './exec/ingest.js';
export { runMapPhase, type PlannedMapStep, type MapPhaseStats } from './exec/map-phase.js';
export { WorkerPool, type PoolOptions } from './exec/pool.js';
export { Reporter, Progress, type ReporterMode, type ReporterOptions } from './exec/reporter.js';
export { Catalog, COLUMNS, type CatalogOptions, type Columns, type Row } from './catalog/catalog.js';
export { useRun, latestRunId } from './catalog/run-view.js';
export { MIGRATIONS, SCHEMA_VERSION } from './catalog/schema.js';
export { loadRecipe, parseRecipe, recipeFromObject, RecipeError } from './recipe/load.js';
export type { Recipe, RecipeStep, RecipeExport, RecipeInput } from './recipe/schema.js';
export { createSource } from './sources/index.js';
export type { Source, SourceRecord, ReadOptions, FieldMap } from './sources/types.js';
export { getStep, stepNames, allSteps } from './steps/registry.js';
export type { Step, MapStep, ReduceStep, StepContext, StepStats, IssueRecord, SampleInput, MapOutput, Json } from './steps/types.js';
export { getExporter, exporterFormats } from './export/registry.js';
export type { Exporter, ExportContext, ExportStats } from './export/types.js';
export { formatSummary, type BuildSummary } from './report/summary.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo/run.js';
export { ImgsiftError, InputError, UsageError, EXIT } from './errors.js';
export { main as runCli } from './cli/main.js';
