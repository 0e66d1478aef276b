/** An independent reference: the n-gram sets as strings (no hashing), padded as minhash.ts documents. */
export function naiveShingles(normalized: string, n: number): Set<string> {
  const cps = ['\u0002', ...Array.from(normalized), '\u0003'];
  const k = Math.min(n, cps.length);
  const out = new Set<string>();
  for (let i = 0; i + k <= cps.length; i++) out.add(cps.slice(i, i + k).join(''));
  return out;
}

export function naiveJaccard(a: string, b: string, n = 3): number {
  const x = naiveShingles(a, n);
  const y = naiveShingles(b, n);
  let inter = 0;
  for (const s of x) if (y.has(s)) inter++;
  return inter / (x.size + y.size - inter);
}

/** The padded n-grams with their counts (multiset), as strings. */
export function naiveShingleCounts(normalized: string, n: number, unit: 'char' | 'word' = 'char'): Map<string, number> {
  const units = unit === 'word' ? ['\u0002', ...normalized.split(' ').filter(Boolean), '\u0003'] : ['\u0002', ...Array.from(normalized), '\u0003'];
  const k = Math.min(n, units.length);
  const out = new Map<string, number>();
  for (let i = 0; i + k <= units.length; i++) {
    const g = units.slice(i, i + k).join(unit === 'word' ? ' ' : '');
    out.set(g, (out.get(g) ?? 0) + 1);
  }
  return out;
}

/** Weighted Jaccard Σmin/Σmax of n-gram counts: the similarity of multiset shingles. */
export function naiveMultisetJaccard(a: string, b: string, n = 3, unit: 'char' | 'word' = 'char'): number {
  const x = naiveShingleCounts(a, n, unit);
  const y = naiveShingleCounts(b, n, unit);
  let min = 0;
  let max = 0;
  for (const g of new Set([...x.keys(), ...y.keys()])) {
    min += Math.min(x.get(g) ?? 0, y.get(g) ?? 0);
    max += Math.max(x.get(g) ?? 0, y.get(g) ?? 0);
  }
  return max === 0 ? 0 : min / max;
}
