/**
 * Whole-dataset (reduce) steps that are per-sample in fact, so a shard runs them for its own
 * samples: their outcome for a sample depends on that sample alone and is cached by content
 * (downloads by sample and URL, augment and text steps in step_results / text_results), so the
 * merge finds them done. Every other reduce step (dedup, leaks, split, filter, balance, caption's
 * duplicate check, ...) looks at many samples at once and runs once, after the merge. Map steps
 * that follow a skipped reduce step still run in the shard, on all of its samples: a superset of
 * what the merged build needs, so its map passes find every result cached. (augment reads review
 * tags, which live in the main catalog only: copies of a tagged sample are remade by the merge.)
 */
export const SHARD_STEPS: ReadonlySet<string> = new Set(['download', 'augment', 'text_transform', 'text_filter']);
