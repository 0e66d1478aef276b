/**
 * The low-frequency corner of a 2-D DCT-II, as `scipy.fftpack.dct(scipy.fftpack.dct(x, axis=0), axis=1)`
 * computes it (type II, no normalisation: y[k] = 2 Σ x[n] cos(π k (2n + 1) / 2N)), restricted to
 * the first `keep` rows and columns — all a pHash reads. Separable, with a cached cosine table.
 */

const tables = new Map<string, Float64Array>();

/** cos table, keep × n: row k holds 2·cos(π k (2j + 1) / 2n). */
function cosTable(n: number, keep: number): Float64Array {
  const key = `${n}:${keep}`;
  let t = tables.get(key);
  if (!t) {
    t = new Float64Array(keep * n);
    for (let k = 0; k < keep; k++) {
      for (let j = 0; j < n; j++) t[k * n + j] = 2 * Math.cos((Math.PI * k * (2 * j + 1)) / (2 * n));
    }
    tables.set(key, t);
  }
  return t;
}

/**
 * `pixels` is an n × n row-major image; returns keep × keep coefficients, row-major, where
 * row index is the vertical frequency (axis 0) and column index the horizontal one (axis 1).
 */
export function dctLowBand(pixels: ArrayLike<number>, n: number, keep: number): Float64Array {
  if (keep > n) throw new Error(`dctLowBand: keep (${keep}) must be <= n (${n})`);
  const c = cosTable(n, keep);
  // Pass 1, along axis 0 (down each column): tmp[u][x] = Σ_y c[u][y] · p[y][x], for u < keep.
  const tmp = new Float64Array(keep * n);
  for (let u = 0; u < keep; u++) {
    const cu = u * n;
    const tu = u * n;
    for (let y = 0; y < n; y++) {
      const cv = c[cu + y];
      const row = y * n;
      for (let x = 0; x < n; x++) tmp[tu + x] += cv * pixels[row + x];
    }
  }
  // Pass 2, along axis 1 (across each row of tmp): out[u][v] = Σ_x c[v][x] · tmp[u][x].
  const out = new Float64Array(keep * keep);
  for (let u = 0; u < keep; u++) {
    const tu = u * n;
    for (let v = 0; v < keep; v++) {
      const cv = v * n;
      let s = 0;
      for (let x = 0; x < n; x++) s += c[cv + x] * tmp[tu + x];
      out[u * keep + v] = s;
    }
  }
  return out;
}
