import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HammingIndex, blockRadii, codesFromHex, hamming64, searchCost } from '../../src/index/hamming.js';
import { hammingHex } from '../../src/image/hashes.js';
import { uint32Rng } from '../../src/util/random.js';


/** Random codes, half of them near copies of earlier ones (so small radii have pairs to find). */
function codes(n: number, seed: number): { hi: Uint32Array; lo: Uint32Array } {
  const r = uint32Rng(seed);
  const hi = new Uint32Array(n);
  const lo = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    if (i > 0 && r() % 2 === 0) {
      const o = r() % i;
      hi[i] = hi[o];
      lo[i] = lo[o];
      for (let k = r() % 14; k > 0; k--) {
        const bit = r() % 64;
        if (bit < 32) hi[i] = (hi[i] ^ (1 << bit)) >>> 0;
        else lo[i] = (lo[i] ^ (1 << (bit - 32))) >>> 0;
      }
    } else {
      hi[i] = r();
      lo[i] = r();
    }
  }
  return { hi, lo };
}

function brutePairs(c: { hi: Uint32Array; lo: Uint32Array }, r: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < c.hi.length; i++) {
    for (let j = i + 1; j < c.hi.length; j++) {
      const d = hamming64(c.hi[i], c.lo[i], c.hi[j], c.lo[j]);
      if (d <= r) out.push(`${i}-${j}-${d}`);
    }
  }
  return out.sort();
}

test('hamming64 agrees with hammingHex', () => {
  const c = codes(50, 3);
  const hex = (i: number) => c.hi[i].toString(16).padStart(8, '0') + c.lo[i].toString(16).padStart(8, '0');
  for (let i = 1; i < 50; i++) assert.equal(hamming64(c.hi[i], c.lo[i], c.hi[i - 1], c.lo[i - 1]), hammingHex(hex(i), hex(i - 1)));
});

test('block radii cover every way r bits can fall into four or three blocks', () => {
  for (let r = 0; r <= 20; r++) {
    const four = blockRadii(r, 4);
    const three = blockRadii(r, 3);
    // Any split of r into the block distances has some block within its radius.
    for (let a = 0; a <= r; a++) for (let b = 0; a + b <= r; b++) {
      assert.ok(a <= three[0] || b <= three[1] || r - a - b <= three[2], `r=${r} split ${a},${b},${r - a - b} in three`);
      for (let c = 0; a + b + c <= r; c++) {
        const d = r - a - b - c;
        assert.ok(a <= four[0] || b <= four[1] || c <= four[2] || d <= four[3], `r=${r} split ${a},${b},${c},${d}`);
      }
    }
  }
});

test('the layout is chosen by size: four 16-bit blocks for small sets, three wider ones for millions', () => {
  assert.ok(searchCost(100_000, 6, 4) < searchCost(100_000, 6, 3));
  assert.ok(searchCost(30_000_000, 6, 3) * 4 < searchCost(30_000_000, 6, 4));
});

test('pairsWithin equals brute force on random and clustered codes, each pair once', () => {
  const c = codes(1500, 7);
  const index = new HammingIndex(c);
  for (const r of [0, 1, 3, 5, 6, 8, 10, 13]) {
    const want = brutePairs(c, r);
    if (r >= 5) assert.ok(want.length > 50, `radius ${r} has pairs to find`);
    for (const blocks of [4, 3] as const) {
      const p = index.pairsWithin(r, { blocks });
      const got = Array.from({ length: p.count }, (_, k) => {
        assert.ok(p.a[k] < p.b[k]);
        return `${p.a[k]}-${p.b[k]}-${p.distance[k]}`;
      }).sort();
      assert.deepEqual(got, want, `radius ${r}, ${blocks} blocks`);
    }
  }
});

test('pairsWithin finds identical codes and refuses runaway output', () => {
  const idx = HammingIndex.fromHex(['00000000000000ff', '00000000000000ff', '00000000000000ff', 'ffffffffffffffff']);
  assert.equal(idx.pairsWithin(0).count, 3);
  assert.throws(() => idx.pairsWithin(64, { maxPairs: 2 }), /more than 2 pairs/);
  assert.throws(() => idx.pairsWithin(65), /radius must be a whole number from 0 to 64/);
});

test('query returns exactly the codes within r, nearest first', () => {
  const c = codes(2000, 11);
  const index = new HammingIndex(c);
  const r = uint32Rng(99);
  for (let q = 0; q < 40; q++) {
    const hi = q % 2 ? c.hi[r() % 2000] ^ (1 << r() % 32) : r();
    const lo = q % 2 ? c.lo[r() % 2000] : r();
    for (const [radius, blocks] of [[2, 4], [6, 4], [11, 4], [2, 3], [6, 3], [11, 3]] as const) {
      const got = index.query(hi >>> 0, lo >>> 0, radius, blocks);
      const want: Array<[number, number]> = [];
      for (let i = 0; i < 2000; i++) {
        const d = hamming64(hi >>> 0, lo >>> 0, c.hi[i], c.lo[i]);
        if (d <= radius) want.push([i, d]);
      }
      want.sort((x, y) => x[1] - y[1] || x[0] - y[0]);
      assert.deepEqual([...got.ids], want.map((w) => w[0]));
      assert.deepEqual([...got.distances], want.map((w) => w[1]));
    }
  }
});

test('codesFromHex rejects malformed codes with their position', () => {
  assert.deepEqual([...codesFromHex(['0123456789abcdef']).lo], [0x89abcdef]);
  assert.throws(() => codesFromHex(['0123456789abcdef', 'xyz']), /code 1 is not 16 hex digits/);
});
