/**
 * Greyscale Lanczos resampling that reproduces Pillow's `Image.resize(size, Image.LANCZOS)` on
 * mode 'L' images bit for bit (libImaging/Resample.c): a separable filter with support 3 × scale
 * when shrinking, coefficients normalised to sum 1 and quantised to 22-bit fixed point, the
 * horizontal pass first, its output rounded and clipped to 8 bits before the vertical pass.
 */

/** Pillow's PRECISION_BITS for 8-bit images: 32 - 8 (result) - 2 (overflow headroom). */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
const SUPPORT = 3;

/** Fixed-point filter taps for one axis: output i reads `len[i]` inputs from `start[i]`. */
interface AxisCoeffs {
  ksize: number;
  start: Int32Array;
  len: Int32Array;
  /** outSize × ksize taps, 22-bit fixed point. */
  k: Int32Array;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

function lanczos(x: number): number {
  return x >= -SUPPORT && x < SUPPORT ? sinc(x) * sinc(x / SUPPORT) : 0;
}

const cache = new Map<string, AxisCoeffs>();
const CACHE_LIMIT = 256;

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the whole axis (box 0..inSize). */
function axisCoeffs(inSize: number, outSize: number): AxisCoeffs {
  const key = `${inSize}>${outSize}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = SUPPORT * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const len = new Int32Array(outSize);
  const k = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const v = lanczos((x + xmin - center + 0.5) * ss);
      w[x] = v;
      ww += v;
    }
    const base = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      k[base + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    start[xx] = xmin;
    len[xx] = xmax;
  }
  const coeffs = { ksize, start, len, k };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, coeffs);
  return coeffs;
}

/** Pillow's clip8: arithmetic shift out the fraction, clamp to 0..255. */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resize a greyscale image (one byte per pixel, row-major) to outW × outH like Pillow's LANCZOS.
 * Returns the input unchanged when the size is already right (Pillow returns a copy).
 */
export function resizeLanczos(src: Uint8Array, inW: number, inH: number, outW: number, outH: number): Uint8Array {
  if (!(inW >= 1 && inH >= 1 && outW >= 1 && outH >= 1)) {
    throw new Error(`resizeLanczos: sizes must be >= 1 (got ${inW}x${inH} -> ${outW}x${outH})`);
  }
  if (src.length < inW * inH) throw new Error(`resizeLanczos: buffer has ${src.length} bytes, expected ${inW * inH}`);
  const needH = outW !== inW;
  const needV = outH !== inH;
  if (!needH && !needV) return src;

  const vert = axisCoeffs(inH, outH);
  // Only the source rows the vertical pass reads are resampled horizontally.
  const yFirst = vert.start[0];
  const yLast = vert.start[outH - 1] + vert.len[outH - 1];

  let img = src;
  let imgW = inW;
  let rowOffset = 0; // row of `img` that holds source row yFirst
  if (needH) {
    const hz = axisCoeffs(inW, outW);
    const rows = yLast - yFirst;
    const tmp = new Uint8Array(outW * rows);
    const { ksize, start, len, k } = hz;
    for (let y = 0; y < rows; y++) {
      const rowBase = (y + yFirst) * inW;
      const outBase = y * outW;
      for (let xx = 0; xx < outW; xx++) {
        const s0 = rowBase + start[xx];
        const n = len[xx];
        const kb = xx * ksize;
        // int32 arithmetic as in C: PRECISION_BITS leaves room for the sum without overflow.
        let ss = HALF;
        for (let x = 0; x < n; x++) ss = (ss + Math.imul(src[s0 + x], k[kb + x])) | 0;
        tmp[outBase + xx] = clip8(ss);
      }
    }
    img = tmp;
    imgW = outW;
    rowOffset = yFirst;
  }
  if (!needV) return img;

  const out = new Uint8Array(imgW * outH);
  const { ksize, start, len, k } = vert;
  // Row-wise accumulation keeps memory access sequential.
  const acc = new Int32Array(imgW);
  for (let yy = 0; yy < outH; yy++) {
    const y0 = start[yy] - rowOffset;
    const n = len[yy];
    const kb = yy * ksize;
    acc.fill(HALF);
    for (let y = 0; y < n; y++) {
      const kv = k[kb + y];
      const rowBase = (y0 + y) * imgW;
      for (let xx = 0; xx < imgW; xx++) acc[xx] = (acc[xx] + Math.imul(img[rowBase + xx], kv)) | 0;
    }
    const outBase = yy * imgW;
    for (let xx = 0; xx < imgW; xx++) out[outBase + xx] = clip8(acc[xx]);
  }
  return out;
}
