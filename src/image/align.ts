/**
 * Alignment of an image-edit pair: where does each pixel of the edited output lie on the input?
 * Editing models return the picture re-framed (zoomed a few percent, shifted, slightly rotated,
 * re-toned, often at another size), so the edit mask needs the homography output -> input first.
 *
 * Method: both images decoded upright in sRGB, grey, at a working size (the output stretched to
 * the input's working size, as the seed resizes the output to the input's size); ORB or AKAZE
 * keypoints (opencv.js has no SIFT), Hamming k-NN matching with Lowe's ratio test, RANSAC
 * homography, then lifted to full resolution. A quality gate (the seed's thresholds plus an
 * absolute inlier count) and sanity checks of the homography (scale, anisotropy/shear, flip,
 * perspective, overlap) turn doubtful pairs into a failure with a reason rather than a bad mask.
 */
import { isDecompressionBomb, openImage } from './open.js';
import { z } from 'zod';
import { loadOpenCv } from './geometric.js';

type Cv = any;

export const ALIGN_FAILURES = [
  'decode_failed',
  'insufficient_keypoints',
  'too_few_matches',
  'homography_failed',
  'low_inlier_ratio',
  'degenerate_homography',
] as const;
export type AlignFailure = (typeof ALIGN_FAILURES)[number];

export const AlignParamsSchema = z
  .object({
    /** Keypoint detector: ORB (fast, default) or AKAZE (slower, more tolerant of blur). */
    detector: z.enum(['orb', 'akaze']).default('orb'),
    /** ORB keypoints per image (AKAZE keeps its strongest this many). */
    features: z.number().int().min(10).default(1500),
    /** Longer side of the working images, in pixels. */
    work_side: z.number().int().min(64).default(512),
    /** Lowe's ratio test. */
    ratio: z.number().gt(0).lt(1).default(0.75),
    /** Keypoints each image needs. */
    min_keypoints: z.number().int().min(4).default(20),
    /** Ratio-test matches needed. */
    min_matches: z.number().int().min(4).default(10),
    /** Homography inliers needed: 4 points always fit a homography, so a few inliers prove nothing. */
    min_inliers: z.number().int().min(4).default(15),
    /** RANSAC reprojection threshold, in working-size pixels. */
    ransac_threshold: z.number().positive().default(5),
    /** Inliers / ratio-test matches needed. */
    min_inlier_ratio: z.number().min(0).max(1).default(0.3),
    /** Scale of the output relative to the input (after stretching to the input's size), both ways. */
    max_scale: z.number().min(1).default(1.5),
    /** Largest ratio of the two singular values of the linear part (1 = similarity). */
    max_anisotropy: z.number().min(1).default(1.25),
    /** Largest change of the projective denominator across the image (0 = affine). */
    max_perspective: z.number().min(0).default(0.1),
    /** Share of the input the warped output must cover. */
    min_overlap: z.number().min(0).max(1).default(0.5),
  })
  .strict();
export type AlignParams = z.infer<typeof AlignParamsSchema>;
export type AlignParamsInput = z.input<typeof AlignParamsSchema>;

/** The seed's configuration as far as opencv.js allows (SIFT -> ORB with the seed's 800 features, no inlier count). */
export const SEED_ALIGN_PARAMS: AlignParams = AlignParamsSchema.parse({
  features: 800,
  min_inliers: 4,
  min_keypoints: 4,
});

export interface Size {
  width: number;
  height: number;
}

interface AlignStats {
  keypoints: { input: number; output: number };
  good_matches: number;
  inliers: number;
  inlier_ratio: number;
  input_size: Size;
  output_size: Size;
  work_size: Size;
}

export type AlignResult =
  | (AlignStats & {
      ok: true;
      /** Row-major 3x3, output pixel (x, y, 1) -> input pixel, full resolutions. */
      homography: number[];
      /** Scale, rotation (degrees) and shift (fraction of the input) of the similarity nearest to it. */
      scale: number;
      rotation: number;
      shift: [number, number];
    })
  | (Partial<AlignStats> & { ok: false; reason: AlignFailure; detail: string });

/** Upright size of an encoded image (EXIF orientations 5-8 swap the sides). */
async function uprightSize(bytes: Buffer): Promise<Size> {
  const m = await openImage(bytes, { failOn: 'truncated' }).metadata();
  if (!m.width || !m.height) throw new Error('no image size');
  const swap = (m.orientation ?? 1) >= 5;
  return swap ? { width: m.height, height: m.width } : { width: m.width, height: m.height };
}

/** Grey pixels, upright, sRGB, resized (stretched) to exactly `size`. */
async function greyAt(bytes: Buffer, size: Size): Promise<Buffer> {
  return openImage(bytes, { failOn: 'truncated' })
    .rotate()
    .toColourspace('srgb')
    .resize(size.width, size.height, { fit: 'fill' })
    .greyscale()
    .raw()
    .toBuffer();
}

export function workSize(input: Size, side: number): Size {
  const s = Math.min(1, side / Math.max(input.width, input.height));
  return { width: Math.max(1, Math.round(input.width * s)), height: Math.max(1, Math.round(input.height * s)) };
}

/** Multiplies row-major 3x3 matrices. */
export function mul3(a: number[], b: number[]): number[] {
  const r = new Array<number>(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) r[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
  return r;
}

const diag = (sx: number, sy: number): number[] => [sx, 0, 0, 0, sy, 0, 0, 0, 1];

/** Applies a row-major homography to a point. */
export function applyH(h: number[], x: number, y: number): [number, number] {
  const w = h[6] * x + h[7] * y + h[8];
  return [(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w];
}

/** Area of a polygon (shoelace; positive when counter-clockwise in y-down image coordinates is negative). */
function polygonArea(pts: [number, number][]): number {
  let a = 0;
  for (let i = 0; i < pts.length; i++) {
    const [x1, y1] = pts[i];
    const [x2, y2] = pts[(i + 1) % pts.length];
    a += x1 * y2 - x2 * y1;
  }
  return a / 2;
}

/**
 * Why a homography between two same-size frames is implausible for an edit, or null. `h` maps the
 * output (stretched to the input's size) onto the input.
 */
export function homographyProblem(h: number[], size: Size, p: AlignParams): string | null {
  if (!h.every(Number.isFinite) || Math.abs(h[8]) < 1e-12) return 'not finite';
  const n = h.map((v) => v / h[8]);
  const [a, b, , c, d] = n;
  const det = a * d - b * c;
  if (det <= 0) return `flipped or collapsed (det ${det.toFixed(3)})`;
  // Singular values of the linear part.
  const s1 = Math.sqrt(((a + d) ** 2 + (c - b) ** 2) / 4) + Math.sqrt(((a - d) ** 2 + (c + b) ** 2) / 4);
  const s2 = Math.abs(Math.sqrt(((a + d) ** 2 + (c - b) ** 2) / 4) - Math.sqrt(((a - d) ** 2 + (c + b) ** 2) / 4));
  const scale = Math.sqrt(det);
  if (scale > p.max_scale || scale < 1 / p.max_scale) return `scale ${scale.toFixed(3)} out of range`;
  if (s2 <= 0 || s1 / s2 > p.max_anisotropy) return `anisotropy/shear ${(s1 / Math.max(s2, 1e-9)).toFixed(3)} too large`;
  const persp = Math.abs(n[6]) * size.width + Math.abs(n[7]) * size.height;
  if (persp > p.max_perspective) return `perspective ${persp.toFixed(3)} too large`;
  const corners: [number, number][] = [
    [0, 0],
    [size.width, 0],
    [size.width, size.height],
    [0, size.height],
  ].map(([x, y]) => applyH(n, x, y));
  const area = polygonArea(corners);
  if (!(area > 0)) return 'output corners fold over';
  const overlap = overlapShare(n, size);
  if (overlap < p.min_overlap) return `covers only ${(overlap * 100).toFixed(1)} % of the input`;
  return null;
}

/** Share of the input frame covered by the warped output frame (sampled on a grid). */
function overlapShare(h: number[], size: Size): number {
  const inv = invert3(h);
  if (!inv) return 0;
  let inside = 0;
  const n = 24;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const [x, y] = applyH(inv, ((i + 0.5) / n) * size.width, ((j + 0.5) / n) * size.height);
      if (x >= 0 && y >= 0 && x <= size.width && y <= size.height) inside++;
    }
  }
  return inside / (n * n);
}

export function invert3(m: number[]): number[] | null {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-15) return null;
  return [A, -(b * i - c * h), b * f - c * e, B, a * i - c * g, -(a * f - c * d), C, -(a * h - b * g), a * e - b * d].map((v) => v / det);
}

function detect(cv: Cv, p: AlignParams, img: Cv, kp: Cv, des: Cv, keep: <T>(m: T) => T): void {
  const noMask = keep(new cv.Mat());
  if (p.detector === 'orb') {
    const orb = keep(new cv.ORB(p.features));
    orb.detectAndCompute(img, noMask, kp, des);
    return;
  }
  const akaze = keep(new cv.AKAZE());
  akaze.detectAndCompute(img, noMask, kp, des);
}

/**
 * Estimates the homography output -> input. Never throws on bad images: undecodable bytes, blank or
 * tiny pictures and unrelated photos come back as `{ ok: false, reason }`.
 */
export async function alignPair(input: Buffer, output: Buffer, params: AlignParamsInput = {}): Promise<AlignResult> {
  const p = AlignParamsSchema.parse(params);
  let inSize: Size;
  let outSize: Size;
  let work: Size;
  let greyIn: Buffer;
  let greyOut: Buffer;
  try {
    [inSize, outSize] = await Promise.all([uprightSize(input), uprightSize(output)]);
    work = workSize(inSize, p.work_side);
    [greyIn, greyOut] = await Promise.all([greyAt(input, work), greyAt(output, work)]);
  } catch (e) {
    // An image over the pixel limit is not a failed alignment: the executor records it as skipped.
    if (isDecompressionBomb(e)) throw e;
    return { ok: false, reason: 'decode_failed', detail: (e as Error).message };
  }
  const base = { input_size: inSize, output_size: outSize, work_size: work };
  const { cv } = await loadOpenCv();
  const owned: Cv[] = [];
  const keep = <T>(m: T): T => (owned.push(m), m);
  try {
    const mats = [greyIn, greyOut].map((g) => {
      const m = keep(new cv.Mat(work.height, work.width, cv.CV_8UC1));
      m.data.set(g);
      return m;
    });
    const kpIn = keep(new cv.KeyPointVector());
    const kpOut = keep(new cv.KeyPointVector());
    const desIn = keep(new cv.Mat());
    const desOut = keep(new cv.Mat());
    detect(cv, p, mats[0], kpIn, desIn, keep);
    detect(cv, p, mats[1], kpOut, desOut, keep);
    const keypoints = { input: kpIn.size() as number, output: kpOut.size() as number };
    if (Math.min(keypoints.input, keypoints.output) < p.min_keypoints || desIn.rows < 2 || desOut.rows < 2) {
      return { ok: false, reason: 'insufficient_keypoints', detail: `keypoints ${keypoints.input}/${keypoints.output} < ${p.min_keypoints}`, keypoints, ...base };
    }
    // Query = output, train = input: each output feature looks for its place on the input.
    const matcher = keep(new cv.BFMatcher(cv.NORM_HAMMING, false));
    const knn = keep(new cv.DMatchVectorVector());
    matcher.knnMatch(desOut, desIn, knn, 2);
    const src: number[] = [];
    const dst: number[] = [];
    for (let i = 0; i < knn.size(); i++) {
      const pair = knn.get(i);
      if (pair.size() < 2) continue;
      const m = pair.get(0);
      if (m.distance >= p.ratio * pair.get(1).distance) continue;
      const po = kpOut.get(m.queryIdx).pt;
      const pi = kpIn.get(m.trainIdx).pt;
      src.push(po.x, po.y);
      dst.push(pi.x, pi.y);
    }
    const good = src.length / 2;
    const stats = { keypoints, good_matches: good, ...base };
    if (good < Math.max(4, p.min_matches)) {
      return { ok: false, reason: 'too_few_matches', detail: `${good} good matches < ${p.min_matches}`, ...stats, inliers: 0, inlier_ratio: 0 };
    }
    const srcMat = keep(cv.matFromArray(good, 1, cv.CV_32FC2, src));
    const dstMat = keep(cv.matFromArray(good, 1, cv.CV_32FC2, dst));
    const inlierMask = keep(new cv.Mat());
    const hm = keep(cv.findHomography(srcMat, dstMat, cv.RANSAC, p.ransac_threshold, inlierMask, 2000, 0.995));
    if (hm.empty() || hm.rows !== 3) {
      return { ok: false, reason: 'homography_failed', detail: 'RANSAC found no homography', ...stats, inliers: 0, inlier_ratio: 0 };
    }
    let inliers = 0;
    for (let i = 0; i < inlierMask.rows; i++) if (inlierMask.data[i]) inliers++;
    const inlierRatio = inliers / good;
    const withInliers = { ...stats, inliers, inlier_ratio: inlierRatio };
    if (inlierRatio < p.min_inlier_ratio) {
      return { ok: false, reason: 'low_inlier_ratio', detail: `inlier ratio ${inlierRatio.toFixed(3)} < ${p.min_inlier_ratio}`, ...withInliers };
    }
    if (inliers < p.min_inliers) {
      return { ok: false, reason: 'too_few_matches', detail: `${inliers} inliers < ${p.min_inliers}`, ...withInliers };
    }
    const hWork = Array.from({ length: 9 }, (_, i) => hm.doubleAt(Math.floor(i / 3), i % 3) as number);
    const problem = homographyProblem(hWork, work, p);
    if (problem) return { ok: false, reason: 'degenerate_homography', detail: problem, ...withInliers };
    // Full output px -> working px (stretch), working homography, working px -> full input px.
    const h = mul3(diag(inSize.width / work.width, inSize.height / work.height), mul3(hWork, diag(work.width / outSize.width, work.height / outSize.height)));
    const norm = h.map((v) => v / h[8]);
    const n = hWork.map((v) => v / hWork[8]);
    const [cx, cy] = applyH(n, work.width / 2, work.height / 2);
    return {
      ok: true,
      homography: norm,
      scale: Math.sqrt(n[0] * n[4] - n[1] * n[3]),
      rotation: (Math.atan2(n[3] - n[1], n[0] + n[4]) * 180) / Math.PI,
      shift: [cx / work.width - 0.5, cy / work.height - 0.5],
      ...withInliers,
    };
  } finally {
    for (const m of owned) m.delete?.();
  }
}
