import type { IssueRecord, Json } from '../steps/types.js';

/** One step to run on one sample, with its validated parameters and cache key. */
export interface TaskStep {
  name: string;
  params: unknown;
  paramsHash: string;
  /** The catalog roles the step reads, in order (default: the task's main file, `image`). */
  roles?: string[];
  /** The same roles by the names the step's parameters use (`input` for the main role), if they differ. */
  roleNames?: string[];
}

/** One file of a sample, as a task names it. */
export interface TaskFile {
  uri: string;
  /** File name for extension checks (the sample's path for the main file). */
  name: string;
  /** Known content hash (from the fingerprint cache); the worker computes it when absent. */
  sha256?: string;
}

/** A unit of per-sample work sent to a worker thread. */
export interface SampleTask {
  sampleId: string;
  /** The main file (role `image`); steps that read other roles find them in `files`. */
  uri: string;
  name: string;
  /** Known content hash (from the fingerprint cache); the worker computes it when absent. */
  sha256?: string;
  /** Further roles the steps read (the main file may be repeated here as `image`). */
  files?: Record<string, TaskFile>;
  /** Sample fields the steps declared (`fields(params)`), by dotted name. */
  fields?: Record<string, Json>;
  steps: TaskStep[];
  /** Cached results of upstream steps that some step in `steps` uses. */
  upstream: Record<string, Json>;
  /** Where derived files are stored (`<workdir>/assets`); required when a step makes files. */
  assetsDir?: string;
  /** The run's pixel limit (recipe `max_pixels`): the worker decodes nothing larger (src/image/open.ts). */
  maxPixels?: number;
}

/** A derived file as recorded: stored under `assets/<sha256[0:2]>/<sha256>.<ext>`. */
export interface StoredFile {
  role: string;
  sha256: string;
  ext: string;
  bytes: number;
}

/** How a skipped outcome's error starts in the catalog (`skipped: <reason>: <why>`), so issues tell it from a failure. */
export const SKIPPED_PREFIX = 'skipped: ';

export interface StepOutcome {
  step: string;
  paramsHash: string;
  ok: boolean;
  result?: Json;
  issues?: IssueRecord[];
  files?: StoredFile[];
  error?: string;
  elapsedMs: number;
  /** A failure not caused by the content (worker crash, timeout, a missing role): recorded, never cached. */
  transient?: boolean;
  /**
   * Set (with ok: false) when the step did not process the sample for a reason of the content that is
   * not a failure: `decompression_bomb`, an image over the pixel limit that nothing decodes.
   */
  skipped?: string;
}

/** What reading one role's file gave. */
export interface RoleRead {
  sha256?: string;
  size?: number;
  /** Set when the bytes could not be read. */
  error?: string;
}

export interface SampleTaskResult {
  sampleId: string;
  uri: string;
  sha256?: string;
  size?: number;
  /** Set when the main file could not be read at all (missing file, permission): nothing was run. */
  fileError?: string;
  /** Every role read, by role (the main file as `image`). */
  roles?: Record<string, RoleRead>;
  outcomes: StepOutcome[];
}
