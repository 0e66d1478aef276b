/**
 * Choice lists the CLI needs to declare its options, copied from modules that load heavy
 * dependencies (zod, sharp, duckdb) so `imgsift --help` loads none of them. test/cli/start.test.ts
 * checks each copy equals its source.
 */

/** image/perceptual.ts HASH_ALGOS */
export const HASH_ALGOS = ['phash', 'dhash', 'ahash', 'whash'] as const;

/** steps/dedup-match.ts KEEP_RULES */
export const KEEP_RULES = ['largest', 'first', 'path'] as const;

/** steps/leaks.ts LEAK_METHODS */
export const LEAK_METHODS = ['exact', 'perceptual', 'semantic'] as const;
export type LeakMethodName = (typeof LEAK_METHODS)[number];

/** image/quality.ts QUALITY_ISSUE_TYPES */
export const QUALITY_ISSUE_TYPES = [
  'dark', 'light', 'odd_aspect_ratio', 'low_information', 'blurry', 'grayscale', 'odd_size', 'low_resolution',
  'disallowed_format', 'underexposed', 'overexposed', 'low_sharpness',
] as const;
export type QualityIssueType = (typeof QUALITY_ISSUE_TYPES)[number];

/** sources/urls.ts URL_LIST_FORMATS */
export const URL_LIST_FORMATS = ['txt', 'jsonl', 'csv', 'parquet'] as const;

/** review/server.ts DEFAULT_PORT */
export const DEFAULT_REVIEW_PORT = 8765;
