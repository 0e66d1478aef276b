/**
 * The edit mask of an aligned image-edit pair: which input pixels the edit changed.
 *
 * The output is warped onto the input with the alignment's homography, a per-pixel difference is
 * blurred, thresholded, cleaned by morphology (open, then close), cut to the warp's footprint (the
 * input pixels the output actually covers, known from the homography rather than guessed from dark
 * rows) and reduced to its largest components. The `seed` preset is seed 000's method; the default
 * adds what measured better on bench/edit-masks.ts: a global tone fit (editing models re-tone the
 * whole picture), a difference that forgives one-pixel misregistration (the change must exceed the
 * output's local 3x3 range), hysteresis (a lower threshold for pixels connected to clearly changed
 * ones: removed texture differs strongly only in places), hole filling and a minimum component area.
 */
import { fromPixels, openImage } from './open.js';
import { z } from 'zod';
import { loadOpenCv } from './geometric.js';
import { invert3, mul3, workSize, type Size } from './align.js';

type Cv = any;

const odd = (d: number) => z.number().int().min(1).refine((v) => v % 2 === 1, 'must be odd').default(d);

export const EditMaskParamsSchema = z
  .object({
    /** Longer side the mask is computed at (0 = the input's full size); the PNG is always input-sized. */
    mask_side: z.number().int().min(0).default(1024),
    /** Gaussian blur of the difference (kernel size, odd; 1 = none). */
    blur: odd(7),
    /** Difference (0-255, maximum over channels) above which a pixel is edited. */
    threshold: z.number().min(0).max(255).default(36),
    /**
     * Hysteresis: pixels above this lower difference join the mask when connected to a pixel above
     * `threshold` (0 = off). Removed texture differs strongly in places and weakly around them.
     */
    threshold_low: z.number().min(0).max(255).default(20),
    /** Elliptic kernel of the opening and closing (odd; 1 = none). */
    kernel: odd(11),
    /** Keep this many largest components (0 = all). */
    keep_components: z.number().int().min(0).default(5),
    /** Components smaller than this share of the image are dropped. */
    min_component_area: z.number().min(0).max(1).default(0.001),
    /** Fit a per-channel gain and offset of output vs input before differencing. */
    tone_match: z.boolean().default(true),
    /** Neighbourhood radius (px) of the output a pixel may match within (0 = plain absolute difference). */
    tolerance: z.number().int().min(0).max(3).default(1),
    /**
     * Open and close with distance transforms (a Euclidean disc of the kernel's radius, O(pixels)
     * whatever the kernel) instead of an elliptic structuring element (O(pixels x kernel area)).
     */
    fast_morphology: z.boolean().default(true),
    /** Fill holes inside mask components. */
    fill_holes: z.boolean().default(true),
    /** Pixels dropped inside the footprint's edge (interpolation fringe). */
    border_margin: z.number().int().min(0).default(3),
  })
  .strict();
export type EditMaskParams = z.infer<typeof EditMaskParamsSchema>;
export type EditMaskParamsInput = z.input<typeof EditMaskParamsSchema>;

/** Seed 000: blur 7, threshold 50 on the max channel difference, ellipse 11 open+close, 5 largest, full size. */
export const SEED_MASK_PARAMS: EditMaskParams = EditMaskParamsSchema.parse({
  mask_side: 0,
  blur: 7,
  threshold: 50,
  threshold_low: 0,
  kernel: 11,
  keep_components: 5,
  min_component_area: 0,
  tone_match: false,
  tolerance: 0,
  fast_morphology: false,
  fill_holes: false,
  border_margin: 1,
});

export const EDIT_MASK_PRESETS = { default: EditMaskParamsSchema.parse({}), seed: SEED_MASK_PARAMS } as const;

export interface EditMaskResult {
  /** Single-channel PNG, 0/255, the input's upright size. */
  png: Buffer;
  /** The same pixels, raw (width*height). */
  mask: Uint8Array;
  width: number;
  height: number;
  /** Share of the input's pixels in the mask. */
  coverage: number;
  components: number;
  /** Whether the mask reaches the image border or the edge of the output's footprint. */
  touchesBorder: boolean;
  /** Share of the input the warped output covers. */
  footprint: number;
  /** Per-channel gain and offset applied to the output (identity when tone_match is off). */
  tone: { gain: number[]; offset: number[] };
}

async function rgb(bytes: Buffer, size: Size): Promise<Buffer> {
  return openImage(bytes, { failOn: 'truncated' })
    .rotate()
    .toColourspace('srgb')
    .removeAlpha()
    .resize(size.width, size.height, { fit: 'fill' })
    .raw()
    .toBuffer();
}

async function uprightSize(bytes: Buffer): Promise<Size> {
  const m = await openImage(bytes, { failOn: 'truncated' }).metadata();
  if (!m.width || !m.height) throw new Error('no image size');
  return (m.orientation ?? 1) >= 5 ? { width: m.height, height: m.width } : { width: m.width, height: m.height };
}

/**
 * Least-squares gain/offset per channel mapping warped output to input, over valid pixels, refitted
 * once without the pixels it explains worst (the edit itself must not bend the fit).
 */
function fitTone(inp: Uint8Array, out: Uint8Array, valid: Uint8Array): { gain: number[]; offset: number[] } {
  const gain = [1, 1, 1];
  const offset = [0, 0, 0];
  const n = valid.length;
  const step = Math.max(1, Math.floor(n / 60000));
  for (let c = 0; c < 3; c++) {
    let limit = Infinity;
    for (let pass = 0; pass < 2; pass++) {
      let sx = 0, sy = 0, sxx = 0, sxy = 0, k = 0;
      // Median absolute residual from a histogram (no sort, no garbage).
      const hist = new Uint32Array(256);
      let total = 0;
      for (let i = 0; i < n; i += step) {
        if (!valid[i]) continue;
        const r = Math.abs(gain[c] * out[i * 3 + c] + offset[c] - inp[i * 3 + c]);
        hist[r > 255 ? 255 : r | 0]++;
        total++;
      }
      let median = 0;
      for (let acc = 0; median < 255 && (acc += hist[median]) < total / 2; median++);
      limit = Math.max(6, 2.5 * (median + 0.5));
    }
  }
  return { gain, offset };
}

/**
 * The mask of what the edit changed, in input coordinates. `homography` (row-major 3x3) maps output
 * pixels to input pixels at full resolution, as `alignPair` returns it. Throws on undecodable bytes.
 */
export async function editMask(input: Buffer, output: Buffer, homography: number[], params: EditMaskParamsInput = {}): Promise<EditMaskResult> {
  const p = EditMaskParamsSchema.parse(params);
  if (homography.length !== 9 || !homography.every(Number.isFinite)) throw new Error('homography must be 9 finite numbers');
  const [inSize, outSize] = await Promise.all([uprightSize(input), uprightSize(output)]);
  const m = p.mask_side > 0 ? workSize(inSize, p.mask_side) : inSize;
  // Decode the output near the mask's scale so the warp does not alias.
  const s = m.width / inSize.width;
  const o = { width: Math.max(1, Math.round(outSize.width * Math.min(1, s * 1.1))), height: Math.max(1, Math.round(outSize.height * Math.min(1, s * 1.1))) };
  const [inPx, outPx] = await Promise.all([rgb(input, m), rgb(output, o)]);
  // Decoded-output px -> full output px -> full input px -> mask px.
  const h = mul3(
    [m.width / inSize.width, 0, 0, 0, m.height / inSize.height, 0, 0, 0, 1],
    mul3(homography, [outSize.width / o.width, 0, 0, 0, outSize.height / o.height, 0, 0, 0, 1]),
  );
  if (!invert3(h)) throw new Error('homography is singular');

  const { cv } = await loadOpenCv();
  const owned: Cv[] = [];
  const keep = <T>(x: T): T => (owned.push(x), x);
  try {
    const size = new cv.Size(m.width, m.height);
    const hMat = keep(cv.matFromArray(3, 3, cv.CV_64F, h));
    const outMat = keep(new cv.Mat(o.height, o.width, cv.CV_8UC3));
    outMat.data.set(outPx);
    const warped = keep(new cv.Mat());
    cv.warpPerspective(outMat, warped, hMat, size, cv.INTER_LINEAR, cv.BORDER_REPLICATE, new cv.Scalar());
    // The footprint: input pixels the output covers, less a fringe where interpolation and blur reach past it.
    const ones = keep(new cv.Mat(o.height, o.width, cv.CV_8UC1, new cv.Scalar(255)));
    const foot = keep(new cv.Mat());
    cv.warpPerspective(ones, foot, hMat, size, cv.INTER_NEAREST, cv.BORDER_CONSTANT, new cv.Scalar(0));
    const margin = p.border_margin + (p.blur >> 1);
    if (margin > 0) {
      const k = keep(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(2 * margin + 1, 2 * margin + 1)));
      cv.erode(foot, foot, k, new cv.Point(-1, -1), 1, cv.BORDER_CONSTANT, new cv.Scalar(0));
    }
    // A copy: views into the WASM heap go stale when later allocations grow it.
    const valid = new Uint8Array(foot.data as Uint8Array);
    const n = m.width * m.height;
    let covered = 0;
    for (let i = 0; i < n; i++) if (valid[i]) covered++;

    const w = warped.data as Uint8Array;
    const tone = p.tone_match ? fitTone(inPx, w, valid) : { gain: [1, 1, 1], offset: [0, 0, 0] };
    if (p.tone_match) {
      for (let i = 0; i < n * 3; i++) {
        const c = i % 3;
        const v = tone.gain[c] * w[i] + tone.offset[c];
        w[i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    // Per-pixel difference, maximum over channels.
    // Allocate every Mat before taking views of their pixels (a heap growth would detach them).
    const diff = keep(new cv.Mat(m.height, m.width, cv.CV_8UC1));
    let er = warped;
    let di = warped;
    if (p.tolerance > 0) {
      const k = keep(cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(2 * p.tolerance + 1, 2 * p.tolerance + 1)));
      er = keep(new cv.Mat());
      di = keep(new cv.Mat());
      cv.erode(warped, er, k);
      cv.dilate(warped, di, k);
    }
    const lo = er.data as Uint8Array;
    const hi = di.data as Uint8Array;
    const d = diff.data as Uint8Array;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 0; c < 3; c++) {
        const j = i * 3 + c;
        const v = inPx[j];
        const e = v > hi[j] ? v - hi[j] : lo[j] > v ? lo[j] - v : 0;
        if (e > best) best = e;
      }
      d[i] = best;
    }
    if (p.blur > 1) cv.GaussianBlur(diff, diff, new cv.Size(p.blur, p.blur), 0, 0, cv.BORDER_REPLICATE);
    const bin = keep(new cv.Mat());
    cv.threshold(diff, bin, p.threshold, 255, cv.THRESH_BINARY);
    if (p.threshold_low > 0 && p.threshold_low < p.threshold) hysteresis(cv, diff, bin, p.threshold_low, keep);
    if (p.kernel > 1 && p.fast_morphology) {
      const r = p.kernel >> 1;
      // open = erode then dilate; close = dilate then erode.
      for (const op of ['erode', 'dilate', 'dilate', 'erode'] as const) discMorph(cv, bin, r, op, keep);
    } else if (p.kernel > 1) {
      const k = keep(cv.getStructuringElement(cv.MORPH_ELLIPSE, new cv.Size(p.kernel, p.kernel)));
      cv.morphologyEx(bin, bin, cv.MORPH_OPEN, k);
      cv.morphologyEx(bin, bin, cv.MORPH_CLOSE, k);
    }
    const b = bin.data as Uint8Array;
    for (let i = 0; i < n; i++) if (!valid[i]) b[i] = 0;
    if (p.fill_holes) fillHoles(cv, bin, keep);

    const labels = keep(new cv.Mat());
    const stats = keep(new cv.Mat());
    const cents = keep(new cv.Mat());
    const count = cv.connectedComponentsWithStats(bin, labels, stats, cents, 8, cv.CV_32S) as number;
    const areas: Array<{ label: number; area: number }> = [];
    for (let l = 1; l < count; l++) areas.push({ label: l, area: stats.intAt(l, cv.CC_STAT_AREA) as number });
    areas.sort((x, y) => y.area - x.area);
    const minArea = p.min_component_area * n;
    const kept = areas.filter((a, i) => a.area >= minArea && (p.keep_components === 0 || i < p.keep_components));
    const keepLabel = new Uint8Array(count);
    for (const a of kept) keepLabel[a.label] = 1;
    const lab = labels.data32S as Int32Array;
    const small = new Uint8Array(n);
    for (let i = 0; i < n; i++) small[i] = keepLabel[lab[i]] ? 255 : 0;

    let mask = small;
    if (m.width !== inSize.width || m.height !== inSize.height) {
      const src = keep(new cv.Mat(m.height, m.width, cv.CV_8UC1));
      src.data.set(small);
      const big = keep(new cv.Mat());
      cv.resize(src, big, new cv.Size(inSize.width, inSize.height), 0, 0, cv.INTER_LINEAR);
      cv.threshold(big, big, 127, 255, cv.THRESH_BINARY);
      mask = new Uint8Array(big.data);
    }
    let on = 0;
    for (let i = 0; i < mask.length; i++) if (mask[i]) on++;
    const png = await fromPixels(Buffer.from(mask.buffer, mask.byteOffset, mask.byteLength), { width: inSize.width, height: inSize.height, channels: 1 })
      .toColourspace('b-w')
      .png({ compressionLevel: 6 })
      .toBuffer();
    return {
      png,
      mask,
      width: inSize.width,
      height: inSize.height,
      coverage: on / mask.length,
      components: kept.length,
      touchesBorder: touches(small, valid, m.width, m.height),
      footprint: covered / n,
      tone,
    };
  } finally {
    for (const x of owned) x.delete?.();
  }
}

/**
 * Erosion or dilation of a 0/255 mask, in place, by a disc of radius r: a pixel survives erosion when
 * its nearest 0 is farther than r, a pixel joins by dilation when its nearest 255 is within r.
 */
function discMorph(cv: Cv, bin: Cv, r: number, op: 'erode' | 'dilate', keep: <T>(x: T) => T): void {
  const src = op === 'erode' ? bin : keep(new cv.Mat());
  if (op === 'dilate') cv.bitwise_not(bin, src);
  const dist = keep(new cv.Mat());
  cv.distanceTransform(src, dist, cv.DIST_L2, cv.DIST_MASK_5);
  const d = dist.data32F as Float32Array;
  const b = bin.data as Uint8Array;
  if (op === 'erode') for (let i = 0; i < b.length; i++) b[i] = d[i] > r + 0.5 ? 255 : 0;
  else for (let i = 0; i < b.length; i++) b[i] = d[i] <= r + 0.5 ? 255 : 0;
}

/** Grows `bin` (strong pixels) by the components of diff > low that contain a strong pixel. */
function hysteresis(cv: Cv, diff: Cv, bin: Cv, low: number, keep: <T>(x: T) => T): void {
  const weak = keep(new cv.Mat());
  cv.threshold(diff, weak, low, 255, cv.THRESH_BINARY);
  const labels = keep(new cv.Mat());
  const count = cv.connectedComponents(weak, labels, 8, cv.CV_32S) as number;
  const lab = labels.data32S as Int32Array;
  const b = bin.data as Uint8Array;
  const seeded = new Uint8Array(count);
  for (let i = 0; i < b.length; i++) if (b[i]) seeded[lab[i]] = 1;
  seeded[0] = 0;
  for (let i = 0; i < b.length; i++) if (seeded[lab[i]]) b[i] = 255;
}

/** Sets to 255 every 0-pixel not connected (4-way) to the image border: holes inside components. */
function fillHoles(cv: Cv, bin: Cv, keep: <T>(x: T) => T): void {
  const inv = keep(new cv.Mat());
  cv.bitwise_not(bin, inv);
  const labels = keep(new cv.Mat());
  const stats = keep(new cv.Mat());
  const cents = keep(new cv.Mat());
  const count = cv.connectedComponentsWithStats(inv, labels, stats, cents, 4, cv.CV_32S) as number;
  const w = bin.cols as number;
  const h = bin.rows as number;
  const hole = new Uint8Array(count);
  for (let l = 1; l < count; l++) {
    const x = stats.intAt(l, cv.CC_STAT_LEFT) as number;
    const y = stats.intAt(l, cv.CC_STAT_TOP) as number;
    const bw = stats.intAt(l, cv.CC_STAT_WIDTH) as number;
    const bh = stats.intAt(l, cv.CC_STAT_HEIGHT) as number;
    hole[l] = x > 0 && y > 0 && x + bw < w && y + bh < h ? 1 : 0;
  }
  const lab = labels.data32S as Int32Array;
  const b = bin.data as Uint8Array;
  for (let i = 0; i < w * h; i++) if (hole[lab[i]]) b[i] = 255;
}

/** Whether a mask pixel lies on the image border or next to a pixel outside the footprint. */
function touches(mask: Uint8Array, valid: Uint8Array, w: number, h: number): boolean {
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!mask[i]) continue;
      if (x === 0 || y === 0 || x === w - 1 || y === h - 1) return true;
      if (!valid[i - 1] || !valid[i + 1] || !valid[i - w] || !valid[i + w]) return true;
    }
  }
  return false;
}
