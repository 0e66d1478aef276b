import type { Catalog } from '../../catalog/catalog.js';
import type { Taxonomy } from '../taxonomy.js';
import type { Thumbnailer } from '../thumbs.js';

/** What every API handler works with: one open catalog, the run under review, and a small cache. */
export class ReviewContext {
  /** Bumped by every write, so cached counts computed before it are not served after it. */
  private generation = 0;
  private readonly cache = new Map<string, { gen: number; value: Promise<unknown> }>();

  constructor(
    readonly catalog: Catalog,
    /** The run under review; moves to a newer run when a build finishes (unless pinned). */
    public runId: number,
    readonly thumbs: Thumbnailer,
    readonly taxonomy: Taxonomy,
    /** Who a change is recorded as when the client does not say. */
    readonly defaultReviewer: string,
  ) {}

  /**
   * Sorted views: the snapshot's row numbers in view order, by sort and filter. Large (4 bytes a
   * sample), so only the last few are kept. A write drops the views whose filter names tags or
   * decisions (`live`); the others depend on the run's snapshot only.
   */
  readonly sortedViews = new Map<string, { rns: Promise<Int32Array>; live: boolean }>();
  static readonly SORTED_VIEWS = 4;

  /** Note that tags or decisions changed. */
  changed(): void {
    this.generation++;
    for (const [k, v] of this.sortedViews) if (v.live) this.sortedViews.delete(k);
    if (this.cache.size > 2000) this.cache.clear();
  }

  /**
   * A value computed once per key until the next write (counts of a filter, facet tables).
   * Concurrent callers share the pending computation; a failure is not cached.
   */
  cached<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(key);
    if (hit && hit.gen === this.generation) return hit.value as Promise<T>;
    const gen = this.generation;
    const value = compute();
    this.cache.set(key, { gen, value });
    value.catch(() => {
      if (this.cache.get(key)?.value === value) this.cache.delete(key);
    });
    return value;
  }
}
