/**
 * mulberry32: a small seeded PRNG, non-linear (a linear generator such as xorshift32 makes
 * successive outputs dependent, so "random" 64-bit codes built from two of them crowd together).
 * The same seed gives the same sequence on every machine.
 */
export function uint32Rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform floats in [0, 1) from mulberry32. */
export function rng(seed: number): () => number {
  const next = uint32Rng(seed);
  return () => next() / 4294967296;
}
