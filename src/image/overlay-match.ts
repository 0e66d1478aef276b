/**
 * Pair verification by alignment, as a careful person checks a suspected copy: lay one picture on
 * the other, turn it a few degrees, scale and shift it until they agree best, then look region by
 * region whether they show the same thing. Works where keypoint matching (ORB) fails: smooth
 * photos (sky, water, fur) have too few corners for ORB, yet align well.
 *
 * Model: B = similarity(A) (scale, rotation up to ±MAX_ANGLE°, translation), optionally mirrored,
 * on the content inside any uniform padding. Search is coarse to fine over a three-level pyramid,
 * maximising normalised cross-correlation over the overlap. The verdict then asks that
 *  - the overlap covers most of both pictures (two crops of one big photo that share a third of
 *    their area are different pictures), and
 *  - most 6 × 6 regions of the overlap agree: textured regions by their own correlation, flat ones
 *    by brightness, so a watermark, a caption band or a logo spoils only the regions it covers.
 */
import { openImage } from './open.js';
import { findBorder, cropGrey } from './variants.js';
import { resizeLanczos } from './lanczos.js';
import type { GreyImage } from './perceptual.js';
import type { GeometricResult } from './geometric.js';

export interface AlignOptions {
  /** Largest rotation searched, degrees (default 6). */
  maxAngle?: number;
  /** Share of regions that must agree (default 0.6). */
  minAgree?: number;
  /** Share of each picture the overlap must cover, smaller / larger picture side (default 0.6 / 0.85). */
  minCover?: number;
  minCoverMax?: number;
  /** Whether B is mirrored relative to A: true, false, or 'both' to try both (default). */
  mirror?: boolean | 'both';
}

export interface AlignResult {
  same: boolean;
  /** The best transform of A onto B. */
  angle: number;
  scale: number;
  mirror: boolean;
  /** Correlation over the overlap at the finest level. */
  ncc: number;
  /** Share of A's / B's area in the overlap. */
  coverA: number;
  coverB: number;
  /** Regions compared, and how many agree. */
  regions: number;
  agree: number;
}

const DEFAULTS: Required<AlignOptions> = { maxAngle: 6, minAgree: 0.6, minCover: 0.6, minCoverMax: 0.85, mirror: 'both' };
/** sqrt(area) of the pyramid levels, coarse to fine. */
const LEVELS = [24, 48, 96];
const DECODE_SIDE = 192;
const GRID = 6;
/** Share of B's height at top and bottom left out of the alignment score (caption bands). */
const BAND = 0.16;

interface Pose {
  mirror: boolean;
  angle: number;
  scale: number;
  tx: number;
  ty: number;
}

/** Decode to grey inside DECODE_SIDE² and drop uniform padding. */
async function content(bytes: Buffer): Promise<GreyImage> {
  const { data, info } = await openImage(bytes, { failOn: 'truncated', autoOrient: false })
    .resize(DECODE_SIDE, DECODE_SIDE, { fit: 'inside', withoutEnlargement: true })
    .greyscale()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const img: GreyImage = { data: new Uint8Array(data.buffer, data.byteOffset, info.width * info.height), width: info.width, height: info.height };
  const b = findBorder(img);
  return b ? cropGrey(img, b.left, b.top, img.width - b.left - b.right, img.height - b.top - b.bottom) : img;
}

function level(img: GreyImage, root: number): GreyImage {
  const f = root / Math.sqrt(img.width * img.height);
  const w = Math.max(4, Math.round(img.width * f));
  const h = Math.max(4, Math.round(img.height * f));
  return { data: resizeLanczos(img.data, img.width, img.height, w, h), width: w, height: h };
}

/** A pose as the affine map of A pixels to B pixels: centres, rotation-scale terms and the mirror sign. */
function poseTransform(a: GreyImage, b: GreyImage, p: Pose) {
  const ua = Math.sqrt(a.width * a.height);
  const ub = Math.sqrt(b.width * b.height);
  const cxa = (a.width - 1) / 2;
  const cya = (a.height - 1) / 2;
  const cxb = (b.width - 1) / 2 + p.tx * ub;
  const cyb = (b.height - 1) / 2 + p.ty * ub;
  const r = (p.angle * Math.PI) / 180;
  const k = (p.scale * ub) / ua;
  const c = Math.cos(r) * k;
  const s = Math.sin(r) * k;
  const m = p.mirror ? -1 : 1;
  return { cxa, cya, cxb, cyb, c, s, m };
}

/** Maps A pixel (x, y) to B pixel coordinates for a pose; both images at the same level. */
function mapper(a: GreyImage, b: GreyImage, p: Pose): (x: number, y: number) => [number, number] {
  const { cxa, cya, cxb, cyb, c, s, m } = poseTransform(a, b, p);
  return (x, y) => {
    const dx = (x - cxa) * m;
    const dy = y - cya;
    return [cxb + c * dx - s * dy, cyb + s * dx + c * dy];
  };
}

function sample(b: GreyImage, x: number, y: number): number {
  const x0 = x | 0;
  const y0 = y | 0;
  const fx = x - x0;
  const fy = y - y0;
  const i = y0 * b.width + x0;
  const d = b.data;
  const top = d[i] + (d[i + 1] - d[i]) * fx;
  const bot = d[i + b.width] + (d[i + b.width + 1] - d[i + b.width]) * fx;
  return top + (bot - top) * fy;
}

/**
 * NCC over the overlap and the share of A inside B (NCC -1 when the overlap is under half of A).
 * B's top and bottom BAND rows are left out of the correlation (not of the cover): a caption band
 * would otherwise pull the alignment towards itself.
 */
function score(a: GreyImage, b: GreyImage, p: Pose): { ncc: number; cover: number } {
  const { cxa, cya, cxb, cyb, c, s, m } = poseTransform(a, b, p);
  const bw = b.width;
  const bd = b.data;
  const ad = a.data;
  const xm = b.width - 1;
  const ym = b.height - 1;
  const vLo = b.height * BAND;
  const vHi = b.height * (1 - BAND);
  let inside = 0, n = 0, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  for (let y = 0; y < a.height; y++) {
    const dy = y - cya;
    for (let x = 0; x < a.width; x++) {
      const dx = (x - cxa) * m;
      const u = cxb + c * dx - s * dy;
      const v = cyb + s * dx + c * dy;
      if (u < 0 || v < 0 || u >= xm || v >= ym) continue;
      inside++;
      if (v < vLo || v > vHi) continue;
      const x0 = u | 0;
      const y0 = v | 0;
      const fx = u - x0;
      const fy = v - y0;
      const i = y0 * bw + x0;
      const top = bd[i] + (bd[i + 1] - bd[i]) * fx;
      const vb = top + (bd[i + bw] + (bd[i + bw + 1] - bd[i + bw]) * fx - top) * fy;
      const va = ad[y * a.width + x];
      n++; sa += va; sb += vb; saa += va * va; sbb += vb * vb; sab += va * vb;
    }
  }
  const cover = inside / (a.width * a.height);
  if (cover < 0.5 || n < 16) return { ncc: -1, cover };
  const cov = sab - (sa * sb) / n;
  const den = Math.sqrt((saa - (sa * sa) / n) * (sbb - (sb * sb) / n));
  return { ncc: den > 1e-6 ? cov / den : 0, cover };
}

function range(lo: number, hi: number, step: number): number[] {
  const out: number[] = [];
  for (let v = lo; v <= hi + 1e-9; v += step) out.push(Math.round(v * 1e4) / 1e4);
  return out;
}

/** Region-by-region agreement at the pose, and how much of B the overlap covers. */
function regions(a: GreyImage, b: GreyImage, p: Pose): { regions: number; agree: number; coverB: number } {
  const map = mapper(a, b, p);
  const cells = Array.from({ length: GRID * GRID }, () => ({ n: 0, sa: 0, sb: 0, saa: 0, sbb: 0, sab: 0, total: 0 }));
  const xm = b.width - 1;
  const ym = b.height - 1;
  const hitB = new Uint8Array(b.width * b.height);
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const cell = cells[Math.min(GRID - 1, ((y * GRID) / a.height) | 0) * GRID + Math.min(GRID - 1, ((x * GRID) / a.width) | 0)];
      cell.total++;
      const [u, v] = map(x, y);
      if (u < 0 || v < 0 || u >= xm || v >= ym) continue;
      hitB[Math.round(v) * b.width + Math.round(u)] = 1;
      const va = a.data[y * a.width + x];
      const vb = sample(b, u, v);
      cell.n++; cell.sa += va; cell.sb += vb; cell.saa += va * va; cell.sbb += vb * vb; cell.sab += va * vb;
    }
  }
  // A's pixels are about as many as B's, so marking each hit pixel (and its neighbours, for
  // scale > 1) estimates B's covered share.
  let covered = 0;
  for (let y = 0; y < b.height; y++) {
    for (let x = 0; x < b.width; x++) {
      let hit = 0;
      for (let dy = -1; dy <= 1 && !hit; dy++) for (let dx = -1; dx <= 1 && !hit; dx++) {
        const yy = y + dy, xx = x + dx;
        if (yy >= 0 && xx >= 0 && yy < b.height && xx < b.width && hitB[yy * b.width + xx]) hit = 1;
      }
      covered += hit;
    }
  }
  let count = 0;
  let agree = 0;
  for (const c of cells) {
    if (c.n < 0.6 * c.total || c.n < 8) continue;
    count++;
    const va = c.saa / c.n - (c.sa / c.n) ** 2;
    const vb = c.sbb / c.n - (c.sb / c.n) ** 2;
    const flatA = va < 9;
    const flatB = vb < 9;
    if (flatA && flatB) {
      if (Math.abs(c.sa / c.n - c.sb / c.n) < 12) agree++;
    } else if (!flatA && !flatB) {
      const ncc = (c.sab / c.n - (c.sa / c.n) * (c.sb / c.n)) / Math.sqrt(va * vb);
      if (ncc >= 0.6) agree++;
    }
  }
  return { regions: count, agree, coverB: covered / (b.width * b.height) };
}

/** Whether B is a copy of A up to a similarity transform (and mirroring). Throws on undecodable input. */
export async function alignMatch(aBytes: Buffer, bBytes: Buffer, options: AlignOptions = {}): Promise<AlignResult> {
  const o = { ...DEFAULTS, ...options };
  const [ca, cb] = await Promise.all([content(aBytes), content(bBytes)]);
  const pa = LEVELS.map((l) => level(ca, l));
  const pb = LEVELS.map((l) => level(cb, l));

  // Coarse: a grid over the whole search space, keep the best few.
  let poses: Array<Pose & { ncc: number }> = [];
  for (const mirror of o.mirror === 'both' ? [false, true] : [o.mirror]) {
    for (const angle of range(-o.maxAngle, o.maxAngle, o.maxAngle / 2)) {
      for (const scale of [0.76, 0.85, 0.95, 1.05, 1.16, 1.28, 1.4]) {
        for (const tx of range(-0.1, 0.1, 0.05)) {
          for (const ty of range(-0.1, 0.1, 0.05)) {
            const p = { mirror, angle, scale, tx, ty };
            poses.push({ ...p, ncc: score(pa[0], pb[0], p).ncc });
          }
        }
      }
    }
  }
  poses = poses.sort((x, y) => y.ncc - x.ncc).slice(0, 4);

  // Refine the best few on the finer levels, steps halving per level.
  let step = { angle: 1.5, scale: 0.05, t: 0.025 };
  for (let l = 1; l < LEVELS.length; l++) {
    const next: Array<Pose & { ncc: number }> = [];
    for (const p0 of poses) {
      let best = { ...p0, ncc: score(pa[l], pb[l], p0).ncc };
      // Coordinate descent: one parameter at a time, until no step improves.
      for (let round = 0; round < 4; round++) {
        let moved = false;
        for (const key of ['angle', 'scale', 'tx', 'ty'] as const) {
          for (const dir of [-1, 1]) {
            const p = { ...best };
            if (key === 'angle') p.angle = Math.max(-o.maxAngle - 1, Math.min(o.maxAngle + 1, p.angle + dir * step.angle));
            else if (key === 'scale') p.scale *= 1 + dir * step.scale;
            else p[key] += dir * step.t;
            const sc = score(pa[l], pb[l], p).ncc;
            if (sc > best.ncc) {
              best = { ...p, ncc: sc };
              moved = true;
            }
          }
        }
        if (!moved) break;
      }
      next.push(best);
    }
    poses = next.sort((x, y) => y.ncc - x.ncc).slice(0, l === 1 ? 2 : 1);
    step = { angle: step.angle / 2, scale: step.scale / 2, t: step.t / 2 };
  }
  const best = poses[0];
  const fine = LEVELS.length - 1;
  const { cover: coverA } = score(pa[fine], pb[fine], best);
  const r = regions(pa[fine], pb[fine], best);
  const coverB = r.coverB;
  // Fine textures (rain, gravel) lose region agreement to sub-pixel misalignment; a very high
  // overall correlation then carries the verdict.
  const agreeNeeded = best.ncc >= 0.94 ? 0.4 : o.minAgree;
  const same =
    best.ncc > 0.5 && r.regions >= 8 && r.agree >= agreeNeeded * r.regions &&
    Math.min(coverA, coverB) >= o.minCover && Math.max(coverA, coverB) >= o.minCoverMax;
  const round = (v: number, d = 1000) => Math.round(v * d) / d;
  return {
    same, angle: round(best.angle, 10), scale: round(best.scale), mirror: best.mirror, ncc: round(best.ncc),
    coverA: round(coverA), coverB: round(coverB), regions: r.regions, agree: r.agree,
  };
}

/**
 * alignMatch as a GeometricResult (what the duplicate matcher's check returns): `matches` are the
 * regions compared, `inliers` those that agree.
 */
export async function alignCheck(a: Buffer, b: Buffer, mirrorSecond: boolean): Promise<GeometricResult & { align: AlignResult }> {
  const r = await alignMatch(a, b, { mirror: mirrorSecond });
  return {
    same: r.same, keypoints: [0, 0], matches: r.regions, inliers: r.agree,
    inlierRatio: r.regions ? Math.round((r.agree / r.regions) * 1000) / 1000 : 0, align: r,
  };
}
