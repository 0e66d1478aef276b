import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeF16, encodeF16, fromHalf, toHalf } from '../../src/embed/float16.js';

test('half precision: exact values, rounding to nearest even, overflow and subnormals', () => {
  assert.equal(toHalf(1), 0x3c00);
  assert.equal(toHalf(-2), 0xc000);
  assert.equal(toHalf(65504), 0x7bff);
  assert.equal(toHalf(70000), 0x7c00);
  assert.equal(toHalf(0), 0);
  assert.equal(fromHalf(toHalf(2 ** -24)), 2 ** -24);
  assert.equal(fromHalf(toHalf(2 ** -30)), 0);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
  assert.equal(toHalf(1 + 2 ** -11), 0x3c00);
  assert.equal(toHalf(1 + 3 * 2 ** -11), 0x3c02);
  assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
});

test('encode/decode keeps unit-vector components within half precision', () => {
  const v = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i * 0.37) / 16);
  const bytes = encodeF16(v);
  assert.equal(bytes.length, 1024);
  const back = decodeF16(bytes);
  for (let i = 0; i < v.length; i++) assert.ok(Math.abs(back[i] - v[i]) <= Math.abs(v[i]) * 2 ** -11 + 1e-7, `component ${i}`);
  assert.throws(() => decodeF16(Buffer.alloc(3)), /odd byte length/);
});
