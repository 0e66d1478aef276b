/**
 * 64-bit hashes as imagehash prints them: the 8 × 8 boolean grid flattened row by row, the first
 * cell the most significant bit, written as 16 lowercase hex digits.
 */

/** Pack 64 booleans (row-major, first = most significant) into 16 hex digits. */
export function bitsToHex(bits: ArrayLike<boolean | number>): string {
  if (bits.length !== 64) throw new Error(`bitsToHex: expected 64 bits, got ${bits.length}`);
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 32; i++) hi = (hi << 1) | (bits[i] ? 1 : 0);
  for (let i = 32; i < 64; i++) lo = (lo << 1) | (bits[i] ? 1 : 0);
  return (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

const HEX64 = /^[0-9a-fA-F]{16}$/;

/** A 16-hex-digit hash as an unsigned 64-bit bigint. */
export function hexToBigInt(hex: string): bigint {
  if (!HEX64.test(hex)) throw new Error(`hexToBigInt: expected 16 hex digits, got '${hex}'`);
  return BigInt('0x' + hex);
}

/** An unsigned 64-bit bigint as 16 lowercase hex digits. */
export function bigIntToHex(value: bigint): string {
  if (value < 0n || value > 0xffffffffffffffffn) throw new Error(`bigIntToHex: value out of 64-bit range: ${value}`);
  return value.toString(16).padStart(16, '0');
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Number of differing bits between two hex hashes of the same length (imagehash's `h1 - h2`). */
export function hammingHex(a: string, b: string): number {
  if (a.length !== b.length) throw new Error(`hammingHex: hashes differ in length ('${a}' vs '${b}')`);
  let d = 0;
  for (let i = 0; i < a.length; i += 8) {
    const x = parseInt(a.slice(i, i + 8), 16);
    const y = parseInt(b.slice(i, i + 8), 16);
    if (Number.isNaN(x) || Number.isNaN(y)) throw new Error(`hammingHex: not hex ('${a}' vs '${b}')`);
    d += popcount32((x ^ y) >>> 0);
  }
  return d;
}
