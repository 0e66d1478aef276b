/**
 * IEEE 754 half precision, for storing embeddings at 2 bytes a value: unit vectors keep ~3
 * significant digits, enough for cosine similarities to ±0.001 at 512 dimensions.
 * (Node 20 has no Float16Array.)
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round a float32 to the nearest half, as its 16 bits (round half to even; overflow → ±Inf). */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++; // may carry into the exponent: correct
  return sign | half;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** float32 values → little-endian half-precision bytes. */
export function encodeF16(v: ArrayLike<number>): Buffer {
  const out = Buffer.allocUnsafe(v.length * 2);
  for (let i = 0; i < v.length; i++) out.writeUInt16LE(toHalf(v[i]), i * 2);
  return out;
}

/** Every half's value (256 KiB), built on first use: decoding a million vectors is a lookup each. */
let HALF_TABLE: Float32Array | undefined;

/** Little-endian half-precision bytes → float32 values (into `out` at `offset`, if given). */
export function decodeF16(bytes: Uint8Array, out?: Float32Array, offset = 0): Float32Array {
  if (bytes.length % 2 !== 0) throw new Error(`float16 data has an odd byte length (${bytes.length})`);
  const n = bytes.length / 2;
  const dst = out ?? new Float32Array(n);
  const table = (HALF_TABLE ??= Float32Array.from({ length: 65536 }, (_, h) => fromHalf(h)));
  for (let i = 0; i < n; i++) dst[offset + i] = table[bytes[2 * i] | (bytes[2 * i + 1] << 8)];
  return dst;
}
