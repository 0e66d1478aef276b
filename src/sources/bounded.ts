import type { ReadOptions } from './types.js';

/**
 * Apply the options every reader honours: stop after `maxRecords`, stop when `signal` aborts.
 * Leaving the loop early calls the inner generator's `return`, which closes its files.
 */
export async function* bounded<T>(records: AsyncIterable<T>, options: ReadOptions): AsyncGenerator<T> {
  const max = options.maxRecords ?? Number.POSITIVE_INFINITY;
  if (max <= 0) return;
  options.signal?.throwIfAborted();
  let n = 0;
  for await (const record of records) {
    options.signal?.throwIfAborted();
    yield record;
    if (++n >= max) return;
  }
}

/**
 * The same for readers that produce records a chunk at a time: one async step per chunk instead
 * of per record keeps million-row manifests fast.
 */
export async function* boundedBatches<T>(batches: AsyncIterable<T[]>, options: ReadOptions): AsyncGenerator<T> {
  const max = options.maxRecords ?? Number.POSITIVE_INFINITY;
  if (max <= 0) return;
  options.signal?.throwIfAborted();
  let n = 0;
  for await (const batch of batches) {
    for (const record of batch) {
      options.signal?.throwIfAborted();
      yield record;
      if (++n >= max) return;
    }
  }
}
