/**
 * Geometric verification of a candidate duplicate pair: ORB keypoints on both images, Hamming
 * matching with Lowe's ratio test, then a RANSAC homography. Two views of one picture (cropped,
 * rotated, scaled, watermarked, padded) share many matches consistent with one homography; two
 * different photos of a similar scene do not. OpenCV (WASM) is loaded on first use only.
 */
import { openImage } from './open.js';

/** OpenCV.js has loose types; this is the part of it used here. */
type Cv = any;

/**
 * The Emscripten module is itself a thenable, so it must never be the value of a promise (awaiting
 * it would resolve it again, forever): it travels inside a holder object.
 */
let cvPromise: Promise<{ cv: Cv }> | undefined;

/** The OpenCV.js module, initialised once (its WASM runtime starts asynchronously, a few seconds). */
export function loadOpenCv(): Promise<{ cv: Cv }> {
  cvPromise ??= (async () => {
    const mod = (await import('@techstark/opencv-js')) as { default: unknown };
    const cv = mod.default as Cv;
    if (!cv.Mat) {
      await new Promise<void>((resolve) => {
        cv.onRuntimeInitialized = () => resolve();
      });
    }
    return { cv };
  })();
  return cvPromise;
}

export interface GeometricOptions {
  /** Longer side the images are decoded to (default 512). */
  maxSide?: number;
  /** ORB keypoints per image (default 800). */
  features?: number;
  /** Lowe's ratio: a match counts when clearly better than the second best (default 0.75). */
  ratio?: number;
  /** Homography inliers needed to call the pair the same picture (default 20). */
  minInliers?: number;
  /** ... and the share of ratio-test matches they must make up (default 0.3). */
  minInlierRatio?: number;
  /** Mirror the second image first (when the hashes matched it mirrored). */
  mirrorSecond?: boolean;
}

export interface GeometricResult {
  same: boolean;
  keypoints: [number, number];
  /** Matches passing the ratio test. */
  matches: number;
  inliers: number;
  inlierRatio: number;
}

const DEFAULTS = { maxSide: 512, features: 800, ratio: 0.75, minInliers: 20, minInlierRatio: 0.3 };

async function greyMat(cv: Cv, bytes: Buffer, maxSide: number, mirror: boolean): Promise<Cv> {
  let p = openImage(bytes, { failOn: 'truncated', autoOrient: false })
    .resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true })
    .greyscale();
  if (mirror) p = p.flop();
  const { data, info } = await p.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const mat = new cv.Mat(info.height, info.width, cv.CV_8UC1);
  mat.data.set(data.subarray(0, info.width * info.height));
  return mat;
}

/** Whether two encoded images show the same picture up to a homography. Throws on undecodable input. */
export async function geometricMatch(a: Buffer, b: Buffer, options: GeometricOptions = {}): Promise<GeometricResult> {
  const o = { ...DEFAULTS, ...options };
  const { cv } = await loadOpenCv();
  const owned: Cv[] = [];
  const keep = <T>(m: T): T => (owned.push(m), m);
  try {
    const imgA = keep(await greyMat(cv, a, o.maxSide, false));
    const imgB = keep(await greyMat(cv, b, o.maxSide, options.mirrorSecond ?? false));
    const orb = keep(new cv.ORB(o.features));
    const kpA = keep(new cv.KeyPointVector());
    const kpB = keep(new cv.KeyPointVector());
    const desA = keep(new cv.Mat());
    const desB = keep(new cv.Mat());
    const noMask = keep(new cv.Mat());
    orb.detectAndCompute(imgA, noMask, kpA, desA);
    orb.detectAndCompute(imgB, noMask, kpB, desB);
    const keypoints: [number, number] = [kpA.size(), kpB.size()];
    const none: GeometricResult = { same: false, keypoints, matches: 0, inliers: 0, inlierRatio: 0 };
    if (desA.rows < 2 || desB.rows < 2) return none;

    const matcher = keep(new cv.BFMatcher(cv.NORM_HAMMING, false));
    const knn = keep(new cv.DMatchVectorVector());
    matcher.knnMatch(desA, desB, knn, 2);
    const src: number[] = [];
    const dst: number[] = [];
    for (let i = 0; i < knn.size(); i++) {
      const pair = knn.get(i);
      if (pair.size() < 2) continue;
      const m = pair.get(0);
      const n = pair.get(1);
      if (m.distance >= o.ratio * n.distance) continue;
      const pa = kpA.get(m.queryIdx).pt;
      const pb = kpB.get(m.trainIdx).pt;
      src.push(pa.x, pa.y);
      dst.push(pb.x, pb.y);
    }
    const matches = src.length / 2;
    if (matches < 4) return { ...none, matches };
    const srcMat = keep(cv.matFromArray(matches, 1, cv.CV_32FC2, src));
    const dstMat = keep(cv.matFromArray(matches, 1, cv.CV_32FC2, dst));
    const inlierMask = keep(new cv.Mat());
    const h = keep(cv.findHomography(srcMat, dstMat, cv.RANSAC, 5, inlierMask));
    if (h.empty()) return { ...none, matches };
    let inliers = 0;
    for (let i = 0; i < inlierMask.rows; i++) if (inlierMask.data[i]) inliers++;
    const inlierRatio = inliers / matches;
    // A homography that folds or collapses the image is not a view of the same picture.
    const det = h.doubleAt(0, 0) * h.doubleAt(1, 1) - h.doubleAt(0, 1) * h.doubleAt(1, 0);
    const sane = det > 0.1 && det < 10;
    return {
      same: sane && inliers >= o.minInliers && inlierRatio >= o.minInlierRatio,
      keypoints, matches, inliers, inlierRatio: Math.round(inlierRatio * 1000) / 1000,
    };
  } finally {
    for (const m of owned.reverse()) m.delete?.();
  }
}
