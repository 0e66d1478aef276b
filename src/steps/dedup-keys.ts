/**
 * Exact-copy keys for millions of images without sorting their digests: rows are grouped by the
 * first 64 bits of a sha256 (an open-addressing table over typed arrays), and only rows that share
 * those 64 bits with another row have their full digests read, to split groups that merely share
 * a prefix. Equal keys ⇔ equal full digests; keys are dense from 0; -1 for rows without a digest.
 */

/** The first 64 bits of each row's digest; `present[i]` = 0 for a row without one. */
export interface DigestPrefixes {
  hi: Uint32Array;
  lo: Uint32Array;
  present?: Uint8Array;
}

/** Full digests of these rows (ascending indices), in that order. */
export type FullDigests = (indices: number[]) => Promise<string[]>;

export async function exactKeys(p: DigestPrefixes, full: FullDigests): Promise<Int32Array> {
  const n = p.hi.length;
  const has = (i: number) => !p.present || p.present[i] === 1;
  // first[i]: the first row with row i's prefix.
  const first = new Int32Array(n);
  let size = 1024;
  while (size < 2 * n) size *= 2;
  const slots = new Int32Array(size).fill(-1);
  const mask = size - 1;
  let shared = false;
  for (let i = 0; i < n; i++) {
    if (!has(i)) {
      first[i] = -1;
      continue;
    }
    const hi = p.hi[i];
    const lo = p.lo[i];
    let s = (lo ^ Math.imul(hi, 0x9e3779b1)) & mask;
    for (;;) {
      const j = slots[s];
      if (j < 0) {
        slots[s] = first[i] = i;
        break;
      }
      if (p.hi[j] === hi && p.lo[j] === lo) {
        first[i] = j;
        shared = true;
        break;
      }
      s = (s + 1) & mask;
    }
  }
  // Rows in a shared-prefix group: read their digests and split the group by them.
  const digestOf = new Map<number, string>();
  if (shared) {
    const inGroup = new Uint8Array(n);
    for (let i = 0; i < n; i++) if (first[i] >= 0 && first[i] !== i) inGroup[i] = inGroup[first[i]] = 1;
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (inGroup[i]) rows.push(i);
    const digests = await full(rows);
    if (digests.length !== rows.length) throw new Error(`exactKeys: asked for ${rows.length} digests, got ${digests.length}`);
    rows.forEach((i, k) => digestOf.set(i, digests[k]));
  }
  const keys = new Int32Array(n);
  let next = 0;
  // Per group leader, its members' keys by full digest (most groups hold one digest).
  const byDigest = new Map<number, Map<string, number>>();
  for (let i = 0; i < n; i++) {
    const f = first[i];
    if (f < 0) keys[i] = -1;
    else if (!digestOf.has(i)) keys[i] = next++;
    else {
      let m = byDigest.get(f);
      if (!m) byDigest.set(f, (m = new Map()));
      const d = digestOf.get(i)!;
      let k = m.get(d);
      if (k === undefined) m.set(d, (k = next++));
      keys[i] = k;
    }
  }
  return keys;
}
