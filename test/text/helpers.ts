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
