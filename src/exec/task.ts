import type { IssueRecord, Json } from '../steps/types.js';

/** One step to run on one sample, with its validated parameters and cache key. */
export interface TaskStep {
  name: string;
  params: unknown;
  paramsHash: string;
}

/** A unit of per-sample work sent to a worker thread. */
export interface SampleTask {
  sampleId: string;
  uri: string;
  name: string;
  /** Known content hash (from the fingerprint cache); the worker computes it when absent. */
  sha256?: string;
  steps: TaskStep[];
  /** Cached results of upstream steps that some step in `steps` uses. */
  upstream: Record<string, Json>;
}

export interface StepOutcome {
  step: string;
  paramsHash: string;
  ok: boolean;
  result?: Json;
  issues?: IssueRecord[];
  error?: string;
  elapsedMs: number;
  /** A failure not caused by the content (worker crash, timeout): recorded, never cached. */
  transient?: boolean;
}

export interface SampleTaskResult {
  sampleId: string;
  uri: string;
  sha256?: string;
  size?: number;
  /** Set when the bytes could not be read at all (missing file, permission): nothing was run. */
  fileError?: string;
  outcomes: StepOutcome[];
}
