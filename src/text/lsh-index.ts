/**
 * The LSH bucket table, in typed arrays: an open-addressing hash table from a 32-bit band key to
 * the newest entry with that key, and a `next` array chaining older entries. An entry is
 * (item, band) numbered item·bands + band. A JavaScript Map of millions of keys would cost ~10× the
 * memory and be slower to probe. All bands share the table, so a key must already encode its band
 * (bandKeys does).
 */
export class LshTable {
  private keys: Uint32Array;
  private heads: Int32Array;
  private mask: number;
  private used = 0;
  private next: Int32Array;
  private items = 0;
  /** Per item, the query that last visited it (to report each candidate once per query). */
  private stamps: Int32Array;
  private query = 0;

  constructor(readonly bands: number, expectedItems = 1024) {
    if (!Number.isInteger(bands) || bands < 1) throw new RangeError(`bands must be a whole number >= 1 (got ${bands})`);
    const cap = pow2AtLeast(Math.max(16, expectedItems * bands * 2));
    this.keys = new Uint32Array(cap);
    this.heads = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    this.next = new Int32Array(Math.max(16, expectedItems) * bands);
    this.stamps = new Int32Array(Math.max(16, expectedItems));
  }

  get size(): number {
    return this.items;
  }

  /** Add the next item (numbered from 0 in insertion order) under its band keys. */
  add(keys: Uint32Array): number {
    const item = this.items++;
    const { bands } = this;
    if ((item + 1) * bands > this.next.length) this.next = grow(this.next, (item + 1) * bands);
    if (item >= this.stamps.length) this.stamps = grow(this.stamps, item + 1);
    for (let band = 0; band < bands; band++) {
      if ((this.used + 1) * 2 > this.keys.length) this.rehash();
      const entry = item * bands + band;
      const key = keys[band];
      let slot = key & this.mask;
      while (this.heads[slot] !== -1 && this.keys[slot] !== key) slot = (slot + 1) & this.mask;
      if (this.heads[slot] === -1) {
        this.keys[slot] = key;
        this.used++;
        this.next[entry] = -1;
      } else {
        this.next[entry] = this.heads[slot];
      }
      this.heads[slot] = entry;
    }
    return item;
  }

  /** Call `visit(item)` once for every item sharing at least one band key with `keys`. */
  candidates(keys: Uint32Array, visit: (item: number) => void): void {
    const stamp = ++this.query;
    const { bands } = this;
    for (let band = 0; band < bands; band++) {
      const key = keys[band];
      let slot = key & this.mask;
      while (this.heads[slot] !== -1 && this.keys[slot] !== key) slot = (slot + 1) & this.mask;
      for (let e = this.heads[slot]; e !== -1; e = this.next[e]) {
        const item = (e / bands) | 0;
        if (this.stamps[item] === stamp) continue;
        this.stamps[item] = stamp;
        visit(item);
      }
    }
  }

  private rehash(): void {
    const oldKeys = this.keys;
    const oldHeads = this.heads;
    const cap = oldKeys.length * 2;
    this.keys = new Uint32Array(cap);
    this.heads = new Int32Array(cap).fill(-1);
    this.mask = cap - 1;
    for (let i = 0; i < oldKeys.length; i++) {
      if (oldHeads[i] === -1) continue;
      let slot = oldKeys[i] & this.mask;
      while (this.heads[slot] !== -1) slot = (slot + 1) & this.mask;
      this.keys[slot] = oldKeys[i];
      this.heads[slot] = oldHeads[i];
    }
  }
}

/**
 * Sorted shingle sets of many items in one buffer (offsets into `data`), instead of one small
 * typed array per item.
 */
export class SetPool {
  private data = new Uint32Array(1 << 16);
  private offsets = new Float64Array(1025);
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(set: Uint32Array): number {
    const start = this.offsets[this.count];
    if (start + set.length > this.data.length) this.data = grow(this.data, start + set.length);
    this.data.set(set, start);
    if (this.count + 2 > this.offsets.length) this.offsets = grow(this.offsets, this.count + 2);
    this.offsets[this.count + 1] = start + set.length;
    return this.count++;
  }

  /** A view (no copy) of item `i`'s set. */
  get(i: number): Uint32Array {
    return this.data.subarray(this.offsets[i], this.offsets[i + 1]);
  }

  /** Number of elements of item `i`'s set. */
  length(i: number): number {
    return this.offsets[i + 1] - this.offsets[i];
  }
}

type Typed = Uint32Array | Int32Array | Float64Array;

function grow<T extends Typed>(a: T, min: number): T {
  let n = a.length * 2;
  while (n < min) n *= 2;
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a as never);
  return b;
}

function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
