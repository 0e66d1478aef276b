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

// Signals
export { computeHashes, hammingHex, type HashAlgo, type HashResult } from './image/hashes.js';
export { probeImage, type ProbeResult, type ProbeOptions } from './image/probe.js';
export { measureQuality, scoreQuality, scoreOddSize, type QualityMeasures } from './image/quality.js';
export { selfDedup, crossDedup } from './text/dedup.js';
export { normalizeText } from './text/normalize.js';
export { dedupTextFile } from './text/file-dedup.js';

// Exports and storage
export { createSink, sinkFor, LocalSink, S3Options, type Sink, type SinkWriter } from './export/sink.js';
export { validateShards } from './validate/validate.js';

// Downloads
export {
  downloadUrls, downloadSamples, formatDownloadSummary, DownloadParams, HttpFetcher, processImage, ObjectStore,
  type DownloadUrlsOptions, type DownloadUrlsResult, type DownloadStatus,
} from './download/index.js';
export { UrlsSource } from './sources/urls.js';

// Review and report
export { addTags, removeTags, setDecision, undo, history, filterSql } from './review/decisions.js';
export { DEFAULT_TAGS } from './review/taxonomy.js';
export { importIssues } from './review/imports.js';
export { writeTaggedManifest } from './review/tagged-manifest.js';
export { startReviewServer } from './review/server.js';
export { writeReport } from './report/html.js';

// Embeddings
export { PRESETS, parseManifest } from './embed/manifest.js';
export { modelsDir, resolveModel } from './embed/models-dir.js';
export { getEncoder, Encoder } from './embed/encoder.js';
export { EmbeddingSpace } from './embed/space.js';
export { similar } from './embed/similar.js';
export { VectorIndex } from './index/vector.js';
