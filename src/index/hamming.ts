/**
 * Exact radius search over 64-bit codes (perceptual hashes) by multi-index hashing.
 *
 * The 64 bits are cut into m blocks (four of 16 bits, or three of 21/21/22 for large sets). If two
 * codes differ in at most r bits, the m block distances sum to at most r, so (pigeonhole, refined)
 * with r = m·q + a: one of blocks 0..a differs in at most q bits, or one of the rest in at most
 * q-1. Each block has a counting-sorted table (2^width buckets, the ids copied in bucket order so
 * a bucket is a contiguous scan); a search visits, per block, only buckets within that block's
 * radius. A pair is reported by the first block that catches it, so each pair comes out once.
 *
 * Cost: pair tests grow with n² × (buckets visited / buckets), bucket visits with n × (buckets
 * visited). Four 16-bit blocks suit up to a few million codes; past that their buckets fill up
 * (30M codes: ~460 per bucket, 3.6e11 tests at r = 6) and three wider blocks cost less (at 10M
 * codes and r = 6, 3.3x less CPU: bench/near-dup.ts --blocks).
 * The layout is chosen per search from that estimate; results do not depend on it.
 */

/** Popcount of every 16-bit value. */
const POP16 = (() => {
  const t = new Uint8Array(1 << 16);
  for (let i = 1; i < 1 << 16; i++) t[i] = (i & 1) + t[i >>> 1];
  return t;
})();

const pop32 = (x: number) => POP16[x >>> 16] + POP16[x & 0xffff];

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

/** How the 64 bits are cut: 4 blocks of 16 bits, or 3 of 21, 21 and 22 (bit 0 = hi's top bit). */
export type BlockCount = 3 | 4;
const WIDTHS: Record<BlockCount, number[]> = { 4: [16, 16, 16, 16], 3: [21, 21, 22] };

/** Per-block search radius for a total radius r (-1: the block need not be searched). */
export function blockRadii(r: number, blocks: BlockCount = 4): number[] {
  const q = Math.floor(r / blocks);
  const a = r % blocks;
  return Array.from({ length: blocks }, (_, b) => (b <= a ? q : q - 1));
}

/** Value of the `width` bits starting at `start` (from hi's top bit) of the code (hi, lo). */
function bitsAt(hi: number, lo: number, start: number, width: number): number {
  const mask = width === 32 ? 0xffffffff : (1 << width) - 1;
  const end = start + width;
  if (end <= 32) return ((hi >>> (32 - end)) & mask) >>> 0;
  if (start >= 32) return ((lo >>> (64 - end)) & mask) >>> 0;
  const fromLo = end - 32;
  return (((hi << fromLo) | (lo >>> (32 - fromLo))) & mask) >>> 0;
}

/** Masks of `width` bits by weight: masks(width, w) lists every mask with exactly w bits set, ascending. */
const maskCache = new Map<string, Uint32Array>();
function masks(width: number, weight: number): Uint32Array {
  const key = `${width}:${weight}`;
  let m = maskCache.get(key);
  if (!m) {
    const out: number[] = [];
    const pick = (from: number, left: number, acc: number) => {
      if (left === 0) return void out.push(acc >>> 0);
      for (let bit = from; bit <= width - left; bit++) pick(bit + 1, left - 1, acc | (1 << bit));
    };
    pick(0, weight, 0);
    m = Uint32Array.from(out).sort();
    maskCache.set(key, m);
  }
  return m;
}

function binomial(n: number, k: number): number {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
  return c;
}

/** Buckets a block of this width visits at this radius (itself included). */
function ballSize(width: number, radius: number): number {
  let s = 0;
  for (let w = 0; w <= radius; w++) s += binomial(width, w);
  return s;
}

/**
 * Estimated work of a search with this layout: pair tests (n² pairs, a share of them in visited
 * buckets) plus bucket visits, which cost about twice a test (a random read of the offsets).
 * `queries` = 0 for an all-pairs join.
 */
export function searchCost(n: number, r: number, blocks: BlockCount, queries = 0): number {
  const widths = WIDTHS[blocks];
  const radii = blockRadii(r, blocks);
  let cost = 0;
  widths.forEach((w, b) => {
    if (radii[b] < 0) return;
    const ball = ballSize(w, radii[b]);
    const share = ball / 2 ** w;
    if (queries > 0) cost += queries * (n * share + 2 * ball);
    else cost += (n * n * share) / 2 + 2 * Math.min(n, 2 ** w) * ball;
  });
  return cost;
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
  /** Block layout (default: the cheaper for this size and radius). */
  blocks?: BlockCount;
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

/** One block: where it sits, and its table (bucket offsets, ids in bucket order). */
interface Block {
  start: number;
  width: number;
  offsets: Uint32Array;
  ids: Uint32Array;
  /**
   * Per position in bucket order, 32 bits of the code from outside this block: their distance
   * plus the block's is a lower bound of the whole distance, so most pairs are rejected from two
   * arrays read in order.
   */
  rest: Uint32Array;
}

/** 32 bits of the code outside the block [start, start + width): hi or lo whole when one is free of it. */
function restBits(hi: number, lo: number, start: number, width: number): number {
  if (start >= 32) return hi;
  if (start + width <= 32) return lo;
  // The block straddles the halves: the bits before it and enough of those after it.
  const after = 64 - start - width;
  const fromAfter = 32 - start;
  return ((bitsAt(hi, lo, 0, start) << fromAfter) | bitsAt(hi, lo, 64 - Math.min(after, fromAfter), Math.min(after, fromAfter))) >>> 0;
}

/** An immutable index over n codes; ids are positions 0..n-1 in the arrays given. */
export class HammingIndex {
  /** Tables per layout, built on first use. */
  private readonly layouts = new Map<BlockCount, Block[]>();
  readonly size: number;

  constructor(private readonly codes: Codes) {
    if (codes.hi.length !== codes.lo.length) throw new Error(`HammingIndex: hi and lo differ in length (${codes.hi.length} vs ${codes.lo.length})`);
    this.size = codes.hi.length;
  }

  static fromHex(hexes: readonly string[]): HammingIndex {
    return new HammingIndex(codesFromHex(hexes));
  }

  private blocks(count: BlockCount): Block[] {
    let blocks = this.layouts.get(count);
    if (!blocks) {
      let start = 0;
      blocks = WIDTHS[count].map((width) => {
        const b = this.buildBlock(start, width);
        start += width;
        return b;
      });
      this.layouts.set(count, blocks);
    }
    return blocks;
  }

  private buildBlock(start: number, width: number): Block {
    const n = this.size;
    const { hi, lo } = this.codes;
    const buckets = 2 ** width;
    const value = new Uint32Array(n);
    for (let i = 0; i < n; i++) value[i] = bitsAt(hi[i], lo[i], start, width);
    const offsets = new Uint32Array(buckets + 1);
    for (let i = 0; i < n; i++) offsets[value[i] + 1]++;
    for (let v = 0; v < buckets; v++) offsets[v + 1] += offsets[v];
    const next = offsets.slice(0, buckets);
    const ids = new Uint32Array(n);
    const rest = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const k = next[value[i]]++;
      ids[k] = i;
      rest[k] = restBits(hi[i], lo[i], start, width);
    }
    return { start, width, offsets, ids, rest };
  }

  /** The layout a search uses: the one asked for, else a built one for queries, else the cheaper. */
  private layoutFor(r: number, queries: number, asked?: BlockCount): BlockCount {
    if (asked) return asked;
    if (queries > 0 && this.layouts.size > 0) return this.layouts.keys().next().value!;
    return searchCost(this.size, r, 3, queries) < searchCost(this.size, r, 4, queries) ? 3 : 4;
  }

  /** Every pair of codes at most r bits apart, each pair once (a < b), in no particular order. */
  pairsWithin(r: number, options: PairsOptions = {}): Pairs {
    checkRadius(r);
    const sink = new PairSink(options.maxPairs ?? 50_000_000);
    const count = this.layoutFor(r, 0, options.blocks);
    const blocks = this.blocks(count);
    const radii = blockRadii(r, count);
    for (let b = 0; b < blocks.length; b++) if (radii[b] >= 0) this.joinBlock(blocks, b, r, radii, sink);
    return sink.result();
  }

  /**
   * Bucket join of one block: every bucket with itself, and with each bucket whose value differs
   * in 1..radius bits (each unordered bucket pair once).
   */
  private joinBlock(blocks: Block[], b: number, r: number, radii: number[], sink: PairSink): void {
    const { offsets, ids, rest, width } = blocks[b];
    const { hi, lo } = this.codes;
    const radius = radii[b];
    const buckets = 2 ** width;
    const byWeight = Array.from({ length: radius + 1 }, (_, w) => masks(width, w));
    for (let v = 0; v < buckets; v++) {
      const s = offsets[v];
      const e = offsets[v + 1];
      if (s === e) continue;
      for (let w = 0; w <= radius; w++) {
        const ms = byWeight[w];
        const budget = r - w;
        for (let mi = 0; mi < ms.length; mi++) {
          const u = (v ^ ms[mi]) >>> 0;
          if (u < v) continue;
          const s2 = offsets[u];
          const e2 = offsets[u + 1];
          if (s2 === e2) continue;
          for (let i = s; i < e; i++) {
            const oI = rest[i];
            for (let j = u === v ? i + 1 : s2; j < e2; j++) {
              // For random pairs the bits outside the block alone exceed the budget ~98% of the time
              // at r = 10, so most tests cost two sequential reads.
              const y = (oI ^ rest[j]) >>> 0;
              if (POP16[y >>> 16] + POP16[y & 0xffff] > budget) continue;
              const p = ids[i];
              const q = ids[j];
              const d = hamming64(hi[p], lo[p], hi[q], lo[q]);
              if (d > r || (b > 0 && caughtEarlier(blocks, b, radii, hi[p] ^ hi[q], lo[p] ^ lo[q]))) continue;
              sink.push(p, q, d);
            }
          }
        }
      }
    }
  }

  /** Ids of the codes at most r bits from (hi, lo), nearest first (ties by id), with their distances. */
  query(hi: number, lo: number, r: number, blocks?: BlockCount): { ids: Uint32Array; distances: Uint8Array } {
    checkRadius(r);
    hi >>>= 0;
    lo >>>= 0;
    const count = this.layoutFor(r, 1, blocks);
    const table = this.blocks(count);
    const radii = blockRadii(r, count);
    const codes = this.codes;
    const found: Array<[number, number]> = [];
    for (let b = 0; b < table.length; b++) {
      const radius = radii[b];
      if (radius < 0) continue;
      const { offsets, ids, start, width } = table[b];
      const v = bitsAt(hi, lo, start, width);
      for (let w = 0; w <= radius; w++) {
        const ms = masks(width, w);
        for (let mi = 0; mi < ms.length; mi++) {
          const u = (v ^ ms[mi]) >>> 0;
          for (let j = offsets[u]; j < offsets[u + 1]; j++) {
            const id = ids[j];
            const d = hamming64(hi, lo, codes.hi[id], codes.lo[id]);
            if (d > r || (b > 0 && caughtEarlier(table, b, radii, hi ^ codes.hi[id], lo ^ codes.lo[id]))) continue;
            found.push([id, d]);
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

/**
 * Whether a block before b would have caught a pair whose codes differ by (xHi, xLo): then that
 * block reports it and block b must not.
 */
function caughtEarlier(blocks: Block[], b: number, radii: number[], xHi: number, xLo: number): boolean {
  for (let k = 0; k < b; k++) {
    if (pop32(bitsAt(xHi >>> 0, xLo >>> 0, blocks[k].start, blocks[k].width)) <= radii[k]) return true;
  }
  return false;
}

function checkRadius(r: number): void {
  if (!Number.isInteger(r) || r < 0 || r > 64) throw new Error(`hamming search: radius must be a whole number from 0 to 64 (got ${r})`);
}
