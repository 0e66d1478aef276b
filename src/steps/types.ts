import type { z } from 'zod';
import type { Catalog } from '../catalog/catalog.js';
import type { Reporter } from '../exec/reporter.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A finding about one sample: a score in [0,1] (1 = worst), whether it passes the threshold, and why. */
export interface IssueRecord {
  type: string;
  score: number;
  flagged: boolean;
  evidence?: Json;
}

/** What a per-sample step is given, inside a worker thread. */
export interface SampleInput {
  id: string;
  /** Where the bytes came from (absolute path, tar member, ...). */
  uri: string;
  /** File name used for extension checks (the sample's path inside its dataset). */
  name: string;
  bytes: Buffer;
  sha256: string;
  /** Results of earlier per-sample steps of this run, by step name (only those this step `uses`). */
  upstream: Record<string, Json>;
  /**
   * Every role the step reads (`roles(params)`), by role name; `bytes`/`sha256` above are the first
   * of them. A two-file step (align) reads `roles.input` and `roles.output`.
   */
  roles: Record<string, RoleInput>;
  /** The sample fields the step declared in `fields(params)` (their values are part of its cache key). */
  fields: Record<string, Json>;
}

/** One file of a sample as a step reads it. */
export interface RoleInput {
  bytes: Buffer;
  sha256: string;
  /** File name for extension checks. */
  name: string;
}

/**
 * A file a step makes for its sample (a mask, a crop, a bucket-sized image). The executor stores it
 * content-addressed in the workdir (`assets/<2 hex>/<sha256>.<ext>`) and registers it as `role` of the
 * sample, with its lineage.
 */
export interface DerivedFile {
  role: string;
  /** Extension without the dot, naming the encoding: png, jpg, webp. */
  ext: string;
  bytes: Buffer;
}

export interface MapOutput {
  result: Json;
  issues?: IssueRecord[];
  files?: DerivedFile[];
}

/**
 * A per-sample step. `run` executes in a worker thread, so it must only use its arguments.
 * Results are cached in the catalog by (content sha256, step name, hash of version + params +
 * the parameters of the steps it `uses`).
 */
export interface MapStep<P = unknown> {
  kind: 'map';
  name: string;
  /** Bump when the algorithm changes, so cached results are recomputed. */
  version: number;
  description: string;
  params: z.ZodType<P>;
  /** Earlier map steps whose results this one reads (their params become part of its cache key). */
  uses?: string[];
  /**
   * The roles this step reads, in order (default: the `role` parameter, else the recipe's main role).
   * The cache key covers the content hash of each.
   */
  roles?(params: P): string[];
  /**
   * Sample fields the result depends on besides the bytes (`path` for an extension check, `meta.bbox`
   * for a crop): handed to the step in `input.fields` and covered by the cache key. Paths are dotted
   * (`meta.item.bbox`); `label`, `text`, `path`, `split`, `group` name the catalog columns.
   */
  fields?(params: P): string[];
  /** Roles of the files this step makes (`files` of its outputs), so the recipe can be checked before work starts. */
  produces?(params: P): string[];
  run(input: SampleInput, params: P): Promise<MapOutput>;
  /** Samples to hand `runBatch` at once (default 1). The executor groups samples to match. */
  batchSize?(params: P): number;
  /** `run` on several samples at once (one inference batch): one output, or the Error of that sample, per input. */
  runBatch?(inputs: SampleInput[], params: P): Promise<Array<MapOutput | Error>>;
  /**
   * The part of the parameters that decides the results, for the cache key (default: all of them).
   * A batch size or where a model file lies does not change an embedding.
   */
  cacheKey?(params: P): unknown;
  /** Runs on the main thread after the step's results are in the catalog (e.g. materialise tables). */
  afterAll?(ctx: StepContext, params: P, paramsHash: string): Promise<void>;
  /** Figures for the build summary, read from the catalog after the step ran. */
  stats?(ctx: StepContext, params: P, paramsHash: string): Promise<StepStats>;
}

/** A whole-dataset step: reads and writes the catalog (dedup, split, leaks, filter). */
export interface ReduceStep<P = unknown> {
  kind: 'reduce';
  name: string;
  description: string;
  params: z.ZodType<P>;
  run(ctx: StepContext, params: P): Promise<StepStats>;
}

export type Step = MapStep<any> | ReduceStep<any>;

/** Figures a step reports for the build summary: label → value. */
export type StepStats = Record<string, number | string>;

export interface StepContext {
  catalog: Catalog;
  runId: number;
  workdir: string;
  reporter: Reporter;
  /** Where the recipe lives; relative paths in parameters resolve against it. */
  baseDir: string;
  /** The recipe's top-level `lookups:` tables (name → key → value), for `derive` templates. */
  lookups?: Record<string, Record<string, string>>;
  signal?: AbortSignal;
}
