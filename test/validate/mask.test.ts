import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeMask, binarize, borderDistance, labelComponents } from '../../src/validate/mask.js';
import { maskPixels } from './fixtures.js';

/** A binary image from rows of '#' and '.'. */
function grid(rows: string[]): { bin: Uint8Array; w: number; h: number } {
  const w = rows[0].length;
  const bin = new Uint8Array(w * rows.length);
  rows.forEach((r, y) => [...r].forEach((c, x) => (bin[y * w + x] = c === '#' ? 1 : 0)));
  return { bin, w, h: rows.length };
}

test('labelComponents: 8-connectivity joins diagonals; U shapes merge; areas add up', () => {
  const diag = grid(['#...', '.#..', '..#.', '....']);
  assert.equal(labelComponents(diag.bin, diag.w, diag.h).count, 1, 'diagonal neighbours are connected');
  // Two arms that only meet at the bottom: provisional labels must be merged.
  const u = grid(['#...#', '#...#', '#...#', '#####']);
  const lu = labelComponents(u.bin, u.w, u.h);
  assert.equal(lu.count, 1);
  assert.equal(lu.areas[1], 11);
  // An anti-diagonal staircase needs the NE neighbour.
  const stairs = grid(['...#', '..#.', '.#..', '#...']);
  assert.equal(labelComponents(stairs.bin, stairs.w, stairs.h).count, 1);
  const many = grid(['#.#.#', '.....', '#.#.#', '.....', '##..#']);
  const lm = labelComponents(many.bin, many.w, many.h);
  assert.equal(lm.count, 8);
  assert.deepEqual(lm.areas.slice(1).sort(), [1, 1, 1, 1, 1, 1, 1, 2]);
  // Labels are numbered in raster order of first pixel.
  assert.equal(lm.labels[0], 1);
  assert.equal(lm.labels[2], 2);
  assert.equal(labelComponents(new Uint8Array(12), 4, 3).count, 0);
  assert.throws(() => labelComponents(new Uint8Array(5), 2, 2), /expected 2×2/);
});

test('borderDistance and analyzeMask on known geometry', () => {
  const blobs = maskPixels([[10, 10, 19, 19], [40, 25, 49, 34]]);
  const g = analyzeMask(blobs, 64, 48);
  assert.equal(g.area, 200);
  assert.equal(g.components, 2);
  assert.deepEqual(g.componentAreas, [100, 100]);
  assert.equal(g.borderDistance, 10);
  assert.ok(Math.abs(g.coverage - (100 * 200) / (64 * 48)) < 1e-9);
  assert.equal(g.nonBinary, 0);

  const edge = analyzeMask(maskPixels([[0, 10, 19, 29]]), 64, 48);
  assert.equal(edge.borderDistance, 0);
  assert.equal(edge.components, 1);
  // Bottom-right corner region: distance counts from the far edges too.
  assert.equal(borderDistance(binarize(maskPixels([[50, 30, 60, 44]])), 64, 48), 3);
  assert.equal(analyzeMask(Buffer.alloc(64 * 48), 64, 48).borderDistance, null);
  const soft = Buffer.from([0, 127, 128, 255]);
  const s = analyzeMask(soft, 2, 2);
  assert.equal(s.area, 2, 'threshold 128');
  assert.equal(s.nonBinary, 2);
});
