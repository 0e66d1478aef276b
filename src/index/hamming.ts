/**
 * Exact radius search over 64-bit codes (perceptual hashes) by multi-index hashing.
 *
 * The 64 bits are cut into four 16-bit blocks. If two codes differ in at most r bits, the four
 * block distances sum to at most r, so (pigeonhole, refined) with r = 4q + a:
 * one of blocks 0..a differs in at most q bits, or one of blocks a+1..3 in at most q-1 bits.
 * Each block has a counting-sorted table (65,536 buckets, the codes copied in bucket order so a
 * bucket is a contiguous scan); a search visits, per block, only buckets within that block's
 * radius. A pair is reported by the first block that catches it, so each pair comes out once.
 *
 * Cost grows with how many codes share nearby buckets, not with n²: on 1M random codes, r = 10
 * means ~3e9 cheap pair tests (see bench/near-dup.ts), while r <= 6 is near-instant.
 */

const BLOCKS = 4;
const BUCKETS = 1 << 16;

/** Popcount of every 16-bit value. */
const POP16 = (() => {
  const t = new Uint8Array(BUCKETS);
  for (let i = 1; i < BUCKETS; i++) t[i] = (i & 1) + t[i >>> 1];
  return t;
})();

/** Masks of 16 bits by weight: MASKS_BY_WEIGHT[w] lists every mask with exactly w bits set. */
const MASKS_BY_WEIGHT: Uint16Array[] = (() => {
  const lists: number[][] = Array.from({ length: 17 }, () => []);
  for (let m = 0; m < BUCKETS; m++) lists[POP16[m]].push(m);
  return lists.map((l) => Uint16Array.from(l));
})();

/** Number of differing bits between two 64-bit codes given as (hi, lo) 32-bit halves. */
export function hamming64(hiA: number, loA: number, hiB: number, loB: number): number {
  const x = (hiA ^ hiB) >>> 0;
  const y = (loA ^ loB) >>> 0;
  return POP16[x >>> 16] + POP16[x & 0xffff] + POP16[y >>> 16] + POP16[y & 0xffff];
}

/** Codes as two parallel arrays of 32-bit halves (hi = the first 8 hex digits). */
export interface Codes {
  hi: Uint32Array;
  lo: Uint32Array;
}

/** Parse 16-hex-digit hashes into codes. */
export function codesFromHex(hexes: readonly string[]): Codes {
  const hi = new Uint32Array(hexes.length);
  const lo = new Uint32Array(hexes.length);
  for (let i = 0; i < hexes.length; i++) {
    const h = hexes[i];
    if (!/^[0-9a-fA-F]{16}$/.test(h)) throw new Error(`codesFromHex: code ${i} is not 16 hex digits: '${h}'`);
    hi[i] = parseInt(h.slice(0, 8), 16);
    lo[i] = parseInt(h.slice(8), 16);
  }
  return { hi, lo };
}

/** Per-block search radius for a total radius r (-1: the block need not be searched). */
export function blockRadii(r: number): number[] {
  const q = Math.floor(r / BLOCKS);
  const a = r % BLOCKS;
  return Array.from({ length: BLOCKS }, (_, b) => (b <= a ? q : q - 1));
}

/** Pairs found by a search: (a[k], b[k]) with a[k] < b[k], at `distance[k]` bits. */
export interface Pairs {
  count: number;
  a: Uint32Array;
  b: Uint32Array;
  distance: Uint8Array;
}

export interface PairsOptions {
  /** Stop with an error past this many pairs, rather than exhausting memory (default 50,000,000). */
  maxPairs?: number;
}

/** Growable pair buffer. */
class PairSink {
  count = 0;
  a = new Uint32Array(1024);
  b = new Uint32Array(1024);
  d = new Uint8Array(1024);
  constructor(private readonly max: number) {}
  push(i: number, j: number, dist: number): void {
    if (this.count >= this.max) {
      throw new Error(`hamming search: more than ${this.max} pairs within the radius; lower the radius or raise maxPairs`);
    }
    if (this.count === this.a.length) {
      const n = Math.min(this.max, this.count * 2);
      const a = new Uint32Array(n); a.set(this.a); this.a = a;
      const b = new Uint32Array(n); b.set(this.b); this.b = b;
      const d = new Uint8Array(n); d.set(this.d); this.d = d;
    }
    if (i < j) {
      this.a[this.count] = i;
      this.b[this.count] = j;
    } else {
      this.a[this.count] = j;
      this.b[this.count] = i;
    }
    this.d[this.count++] = dist;
  }
  result(): Pairs {
    return { count: this.count, a: this.a.subarray(0, this.count), b: this.b.subarray(0, this.count), distance: this.d.subarray(0, this.count) };
  }
}

/** One block's table: bucket offsets, and the ids and codes in bucket order. */
interface BlockTable {
  offsets: Uint32Array;
  ids: Uint32Array;
  hi: Uint32Array;
  lo: Uint32Array;
}

function blockValue(hi: number, lo: number, b: number): number {
  switch (b) {
    case 0: return hi >>> 16;
    case 1: return hi & 0xffff;
    case 2: return lo >>> 16;
    default: return lo & 0xffff;
  }
}

/**
 * Whether block b' < b would have caught a pair with block distances p: then that block reports
 * it and block b must not.
 */
function caughtEarlier(p0: number, p1: number, p2: number, b: number, radii: number[]): boolean {
  return (b > 0 && p0 <= radii[0]) || (b > 1 && p1 <= radii[1]) || (b > 2 && p2 <= radii[2]);
}

/** An immutable index over n codes; ids are positions 0..n-1 in the arrays given. */
export class HammingIndex {
  private readonly tables: BlockTable[];
  readonly size: number;

  constructor(private readonly codes: Codes) {
    if (codes.hi.length !== codes.lo.length) throw new Error(`HammingIndex: hi and lo differ in length (${codes.hi.length} vs ${codes.lo.length})`);
    this.size = codes.hi.length;
    this.tables = Array.from({ length: BLOCKS }, (_, b) => this.buildTable(b));
  }

  static fromHex(hexes: readonly string[]): HammingIndex {
    return new HammingIndex(codesFromHex(hexes));
  }

  private buildTable(b: number): BlockTable {
    const n = this.size;
    const { hi, lo } = this.codes;
    const offsets = new Uint32Array(BUCKETS + 1);
    for (let i = 0; i < n; i++) offsets[blockValue(hi[i], lo[i], b) + 1]++;
    for (let v = 0; v < BUCKETS; v++) offsets[v + 1] += offsets[v];
    const next = offsets.slice(0, BUCKETS);
    const ids = new Uint32Array(n);
    const bhi = new Uint32Array(n);
    const blo = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const k = next[blockValue(hi[i], lo[i], b)]++;
      ids[k] = i;
      bhi[k] = hi[i];
      blo[k] = lo[i];
    }
    return { offsets, ids, hi: bhi, lo: blo };
  }

  /** Every pair of codes at most r bits apart, each pair once (a < b), in no particular order. */
  pairsWithin(r: number, options: PairsOptions = {}): Pairs {
    checkRadius(r);
    const sink = new PairSink(options.maxPairs ?? 50_000_000);
    const radii = blockRadii(r);
    for (let b = 0; b < BLOCKS; b++) if (radii[b] >= 0) this.joinBlock(b, r, radii, sink);
    return sink.result();
  }

  /**
   * Bucket join of one block: every bucket with itself, and with each bucket whose value differs
   * in 1..radius bits (each unordered bucket pair once).
   */
  private joinBlock(b: number, r: number, radii: number[], sink: PairSink): void {
    const { offsets, ids, hi, lo } = this.tables[b];
    const radius = radii[b];
    // Test the half without block b first: for random pairs it alone exceeds the budget ~98% of
    // the time at r = 10, so most tests cost two table lookups.
    const other = b < 2 ? lo : hi;
    for (let v = 0; v < BUCKETS; v++) {
      const s = offsets[v];
      const e = offsets[v + 1];
      if (s === e) continue;
      for (let w = 0; w <= radius; w++) {
        const masks = MASKS_BY_WEIGHT[w];
        const budget = r - w;
        for (let mi = 0; mi < masks.length; mi++) {
          const u = v ^ masks[mi];
          if (u < v) continue;
          const s2 = offsets[u];
          const e2 = offsets[u + 1];
          if (s2 === e2) continue;
          for (let i = s; i < e; i++) {
            const oI = other[i];
            for (let j = u === v ? i + 1 : s2; j < e2; j++) {
              const y = (oI ^ other[j]) >>> 0;
              if (POP16[y >>> 16] + POP16[y & 0xffff] > budget) continue;
              const d = hamming64(hi[i], lo[i], hi[j], lo[j]);
              if (d > r) continue;
              if (b > 0) {
                const x = (hi[i] ^ hi[j]) >>> 0;
                const z = (lo[i] ^ lo[j]) >>> 0;
                if (caughtEarlier(POP16[x >>> 16], POP16[x & 0xffff], POP16[z >>> 16], b, radii)) continue;
              }
              sink.push(ids[i], ids[j], d);
            }
          }
        }
      }
    }
  }

  /** Ids of the codes at most r bits from (hi, lo), nearest first (ties by id), with their distances. */
  query(hi: number, lo: number, r: number): { ids: Uint32Array; distances: Uint8Array } {
    checkRadius(r);
    const radii = blockRadii(r);
    const found: Array<[number, number]> = [];
    for (let b = 0; b < BLOCKS; b++) {
      const radius = radii[b];
      if (radius < 0) continue;
      const t = this.tables[b];
      const v = blockValue(hi >>> 0, lo >>> 0, b);
      for (let w = 0; w <= radius; w++) {
        const masks = MASKS_BY_WEIGHT[w];
        for (let mi = 0; mi < masks.length; mi++) {
          const u = v ^ masks[mi];
          for (let j = t.offsets[u]; j < t.offsets[u + 1]; j++) {
            const x = (hi ^ t.hi[j]) >>> 0;
            const y = (lo ^ t.lo[j]) >>> 0;
            const p0 = POP16[x >>> 16];
            const p1 = POP16[x & 0xffff];
            const p2 = POP16[y >>> 16];
            const d = p0 + p1 + p2 + POP16[y & 0xffff];
            if (d > r || caughtEarlier(p0, p1, p2, b, radii)) continue;
            found.push([t.ids[j], d]);
          }
        }
      }
    }
    found.sort((p, q) => p[1] - q[1] || p[0] - q[0]);
    return { ids: Uint32Array.from(found, (f) => f[0]), distances: Uint8Array.from(found, (f) => f[1]) };
  }

  /** Convenience: query with a 16-hex-digit code. */
  queryHex(hex: string, r: number): { ids: Uint32Array; distances: Uint8Array } {
    const c = codesFromHex([hex]);
    return this.query(c.hi[0], c.lo[0], r);
  }
}

function checkRadius(r: number): void {
  if (!Number.isInteger(r) || r < 0 || r > 64) throw new Error(`hamming search: radius must be a whole number from 0 to 64 (got ${r})`);
}
