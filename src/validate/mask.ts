/**
 * Geometry of binary masks, computed on raw single-channel pixels: coverage, connected components
 * (8-connectivity) and how close the mask comes to the image border. Pure functions, no decoding.
 */

/** Pixels at or above this value are "on" (masks are written 0/255; anything else is anti-aliasing). */
export const MASK_THRESHOLD = 128;

export interface MaskGeometry {
  width: number;
  height: number;
  /** Pixels that are on. */
  area: number;
  /** Percentage of pixels that are on, 0..100. */
  coverage: number;
  /** Connected regions of on pixels (8-connectivity). */
  components: number;
  /** Their areas in pixels, largest first. */
  componentAreas: number[];
  /**
   * Fewest pixels between an on pixel and the image border (0: the mask touches it); null for an
   * empty mask.
   */
  borderDistance: number | null;
  /** Pixels that are neither 0 nor 255 (a binary mask has none). */
  nonBinary: number;
}

/** 1 where the pixel is on, 0 elsewhere. */
export function binarize(pixels: Uint8Array, threshold = MASK_THRESHOLD): Uint8Array {
  const out = new Uint8Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] >= threshold ? 1 : 0;
  return out;
}

/**
 * Label the 8-connected regions of a binary image: two passes with union-find over provisional
 * labels. Returns a label per pixel (0 = background, 1..count in raster order of first pixel) and
 * each region's area (index 0 unused).
 */
export function labelComponents(bin: Uint8Array, width: number, height: number): { count: number; labels: Int32Array; areas: number[] } {
  if (bin.length !== width * height) throw new RangeError(`mask has ${bin.length} pixels, expected ${width}×${height}`);
  const labels = new Int32Array(width * height);
  const parent: number[] = [0];
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]]; // path halving
      x = parent[x];
    }
    return x;
  };
  const union = (a: number, b: number): number => {
    const ra = find(a);
    const rb = find(b);
    if (ra === rb) return ra;
    const lo = Math.min(ra, rb);
    parent[Math.max(ra, rb)] = lo;
    return lo;
  };
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const i = row + x;
      if (!bin[i]) continue;
      // Already-visited neighbours: W, NW, N, NE.
      let l = 0;
      const visit = (j: number) => {
        const n = labels[j];
        if (n) l = l ? union(l, n) : find(n);
      };
      if (x > 0) visit(i - 1);
      if (y > 0) {
        if (x > 0) visit(i - width - 1);
        visit(i - width);
        if (x < width - 1) visit(i - width + 1);
      }
      if (!l) {
        l = parent.length;
        parent.push(l);
      }
      labels[i] = l;
    }
  }
  // Second pass: final labels numbered 1..count in order of first appearance.
  const final = new Int32Array(parent.length);
  const areas: number[] = [0];
  for (let i = 0; i < labels.length; i++) {
    if (!labels[i]) continue;
    const root = find(labels[i]);
    if (!final[root]) {
      final[root] = areas.length;
      areas.push(0);
    }
    labels[i] = final[root];
    areas[labels[i]]++;
  }
  return { count: areas.length - 1, labels, areas };
}

/** Fewest pixels from any on pixel to the nearest image edge; null when nothing is on. */
export function borderDistance(bin: Uint8Array, width: number, height: number): number | null {
  let best: number | null = null;
  for (let y = 0; y < height; y++) {
    const dy = Math.min(y, height - 1 - y);
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!bin[row + x]) continue;
      const d = Math.min(dy, x, width - 1 - x);
      if (best === null || d < best) {
        best = d;
        if (best === 0) return 0;
      }
    }
  }
  return best;
}

/** Everything validate reports about one mask. */
export function analyzeMask(pixels: Uint8Array, width: number, height: number): MaskGeometry {
  const bin = binarize(pixels);
  let area = 0;
  let nonBinary = 0;
  for (let i = 0; i < pixels.length; i++) {
    area += bin[i];
    if (pixels[i] !== 0 && pixels[i] !== 255) nonBinary++;
  }
  const { count, areas } = labelComponents(bin, width, height);
  return {
    width,
    height,
    area,
    coverage: pixels.length ? (100 * area) / pixels.length : 0,
    components: count,
    componentAreas: areas.slice(1).sort((a, b) => b - a),
    borderDistance: borderDistance(bin, width, height),
    nonBinary,
  };
}
