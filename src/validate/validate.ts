import { join } from 'node:path';
import { fromPixels, openImage } from '../image/open.js';
import { errorMessage } from '../errors.js';
import type { Reporter } from '../exec/reporter.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';
import { analyzeMask, type MaskGeometry } from './mask.js';
import { overlayJpeg, type Rgb } from './overlay.js';
import { findShards, readShard, type ShardSample } from './shards.js';

/**
 * Check WebDataset shards the way seed 000's validate.py does, and more: every sample has the
 * members the others have, keys are unique, every image decodes; masks (`*.mask.png`, any member
 * whose extension has a part containing "mask") are measured — coverage, connected components
 * (8-connectivity), distance to the border — and flagged when empty, full, touching the border
 * or of another size than their input. With `output`, writes for each mask a JPEG of the input
 * beside the input with the mask tinted red.
 */

export interface ValidateOptions {
  /** Folder for overlay images (created); none are written without it. */
  output?: string;
  /** Stop after this many samples (across shards, in order). */
  maxSamples?: number;
  /** A mask within this many pixels of the border counts as touching it (default 0: on the edge). */
  borderMargin?: number;
  /** Masks closer to the border than this fraction of the shorter side get an edge warning (default 0.05). */
  edgeWarning?: number;
  /** Coverage (percent) at or above which a mask counts as full (default 99). */
  fullCoverage?: number;
  reporter?: Reporter;
  signal?: AbortSignal;
}

export type ProblemKind =
  | 'missing_member'
  | 'duplicate_key'
  | 'repeated_member'
  | 'undecodable'
  | 'empty_mask'
  | 'full_mask'
  | 'mask_touches_border'
  | 'mask_size_mismatch'
  | 'mask_without_input';

export interface Problem {
  shard: string;
  key: string;
  kind: ProblemKind;
  detail: string;
}

/** Mean, median, min and max of a list of numbers. */
export interface Distribution {
  mean: number;
  median: number;
  min: number;
  max: number;
}

export interface MaskSummary {
  masks: number;
  /** Percent of pixels on. */
  coverage: Distribution;
  components: Distribution;
  /** Pixels between the mask and the nearest border, over non-empty masks (null when all are empty). */
  borderDistance: Distribution | null;
  empty: number;
  full: number;
  touchingBorder: number;
  /** Not touching, but closer than `edgeWarning` of the shorter side. */
  nearEdge: number;
  /** Masks with pixels other than 0 and 255. */
  nonBinary: number;
}

export interface MaskRecord extends MaskGeometry {
  shard: string;
  key: string;
  /** The mask's member extension, e.g. 'mask.png'. */
  member: string;
}

export interface ValidationReport {
  path: string;
  shards: Array<{ name: string; kind: 'tar' | 'dir'; samples: number }>;
  samples: number;
  /** True when --max-samples stopped the run before the end of the shards. */
  truncated: boolean;
  /** Samples carrying each member extension. */
  members: Record<string, number>;
  /** Sizes of each sample's main image (the input of its masks, else its first image). */
  images: { count: number; width: Distribution; height: Distribution; sizes: Array<{ size: string; count: number }> } | null;
  masks: MaskSummary | null;
  maskRecords: MaskRecord[];
  problems: Problem[];
  /** Samples with at least one problem. */
  samplesWithProblems: number;
  /** Masks near (not on) the border: worth a look in the overlays, not a problem. */
  edgeWarnings: Array<{ shard: string; key: string; member: string; borderDistance: number }>;
  overlays: { dir: string; written: number } | null;
}

const IMAGE_EXT = new Set(['jpg', 'jpeg', 'png', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif']);

function lastPart(ext: string): string {
  return ext.slice(ext.lastIndexOf('.') + 1).toLowerCase();
}

export function isImageMember(ext: string): boolean {
  return IMAGE_EXT.has(lastPart(ext));
}

export function isMaskMember(ext: string): boolean {
  return isImageMember(ext) && ext.toLowerCase().split('.').slice(0, -1).some((p) => p.includes('mask'));
}

/** The image a sample's masks belong to: `input.*` if there is one, else the first other image. */
function mainImage(exts: string[]): string | undefined {
  const images = exts.filter((e) => isImageMember(e) && !isMaskMember(e)).sort();
  return images.find((e) => e.toLowerCase().startsWith('input.')) ?? images[0];
}

export function distribution(values: number[]): Distribution {
  if (values.length === 0) return { mean: 0, median: 0, min: 0, max: 0 };
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return {
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2,
    min: s[0],
    max: s[s.length - 1],
  };
}

/** A key as a file name for its overlay ('/' in tar member paths becomes '__'). */
function overlayName(key: string, member: string): string {
  return `${key.replace(/\//g, '__')}.${member.slice(0, member.lastIndexOf('.'))}.jpg`;
}

interface SampleOutcome {
  size?: { width: number; height: number };
  masks: MaskRecord[];
  problems: Problem[];
  overlays: number;
}

async function checkSample(shard: string, s: ShardSample, o: Required<Pick<ValidateOptions, 'borderMargin' | 'fullCoverage'>> & { output?: string }): Promise<SampleOutcome> {
  const out: SampleOutcome = { masks: [], problems: [], overlays: 0 };
  const problem = (kind: ProblemKind, detail: string) => out.problems.push({ shard, key: s.key, kind, detail });
  for (const ext of [...new Set(s.repeated)].sort()) problem('repeated_member', `member ${ext} occurs more than once`);

  const exts = [...s.members.keys()].sort();
  const maskExts = exts.filter(isMaskMember);
  const main = mainImage(exts);
  let input: Rgb | undefined;

  // Every image decodes; the main one to RGB when there are masks to draw on it.
  for (const ext of exts.filter((e) => isImageMember(e) && !isMaskMember(e))) {
    try {
      if (ext === main && maskExts.length) {
        const { data, info } = await openImage(s.members.get(ext)!).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
        input = { data, width: info.width, height: info.height };
        out.size = { width: info.width, height: info.height };
      } else {
        const { info } = await openImage(s.members.get(ext)!).raw().toBuffer({ resolveWithObject: true });
        if (ext === main) out.size = { width: info.width, height: info.height };
      }
    } catch (err) {
      problem('undecodable', `${ext} does not decode: ${errorMessage(err)}`);
    }
  }

  for (const ext of maskExts) {
    let pixels: { data: Buffer; width: number; height: number };
    try {
      let img = openImage(s.members.get(ext)!).removeAlpha().toColourspace('b-w');
      const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== 1) {
        img = fromPixels(data, { width: info.width, height: info.height, channels: info.channels }).extractChannel(0);
        pixels = { data: await img.raw().toBuffer(), width: info.width, height: info.height };
      } else {
        pixels = { data, width: info.width, height: info.height };
      }
    } catch (err) {
      problem('undecodable', `${ext} does not decode: ${errorMessage(err)}`);
      continue;
    }
    const g = analyzeMask(pixels.data, pixels.width, pixels.height);
    out.masks.push({ ...g, shard, key: s.key, member: ext });
    if (g.area === 0) problem('empty_mask', `${ext} is empty (no pixel on)`);
    else if (g.coverage >= o.fullCoverage) problem('full_mask', `${ext} covers ${g.coverage.toFixed(1)}% of the image`);
    if (g.borderDistance !== null && g.borderDistance <= o.borderMargin && g.coverage < o.fullCoverage) {
      problem('mask_touches_border', o.borderMargin ? `${ext} comes within ${g.borderDistance} px of the border` : `${ext} touches the image border`);
    }
    if (!main) {
      problem('mask_without_input', `${ext} has no image beside it`);
    } else if (out.size && (out.size.width !== g.width || out.size.height !== g.height)) {
      problem('mask_size_mismatch', `${ext} is ${g.width}×${g.height}, ${main} is ${out.size.width}×${out.size.height}`);
    }
    if (o.output && input) {
      await writeFileAtomic(join(o.output, overlayName(s.key, ext)), await overlayJpeg(input, pixels));
      out.overlays++;
    }
  }
  return out;
}

/** Validate the shards under `path` (a tar, a folder of tars, or extracted shard folders). */
export async function validateShards(path: string, options: ValidateOptions = {}): Promise<ValidationReport> {
  const shards = await findShards(path);
  const o = {
    borderMargin: options.borderMargin ?? 0,
    fullCoverage: options.fullCoverage ?? 99,
    output: options.output,
  };
  const edgeWarning = options.edgeWarning ?? 0.05;
  if (o.output) await ensureDir(o.output);

  const report: ValidationReport = {
    path, shards: [], samples: 0, truncated: false, members: {}, images: null, masks: null, maskRecords: [],
    problems: [], samplesWithProblems: 0, edgeWarnings: [], overlays: o.output ? { dir: o.output, written: 0 } : null,
  };
  const firstSeen = new Map<string, string>();
  const seen: Array<{ shard: string; key: string; exts: string[]; problems: Problem[] }> = [];
  const sizes: Array<{ width: number; height: number }> = [];
  const progress = options.reporter?.progress('validate');
  try {
    outer: for (const shard of shards) {
      const entry = { name: shard.name, kind: shard.kind, samples: 0 };
      report.shards.push(entry);
      for await (const s of readShard(shard)) {
        if (options.maxSamples !== undefined && report.samples >= options.maxSamples) {
          report.truncated = true;
          break outer;
        }
        if (options.signal?.aborted) break outer;
        report.samples++;
        entry.samples++;
        const outcome = await checkSample(shard.name, s, o);
        const other = firstSeen.get(s.key);
        if (other !== undefined) {
          outcome.problems.unshift({ shard: shard.name, key: s.key, kind: 'duplicate_key', detail: `key also used in ${other}` });
        } else {
          firstSeen.set(s.key, shard.name);
        }
        const exts = [...s.members.keys()].sort();
        for (const e of exts) report.members[e] = (report.members[e] ?? 0) + 1;
        seen.push({ shard: shard.name, key: s.key, exts, problems: outcome.problems });
        if (outcome.size) sizes.push(outcome.size);
        report.maskRecords.push(...outcome.masks);
        if (report.overlays) report.overlays.written += outcome.overlays;
        progress?.tick(1, outcome.problems.length ? 1 : 0);
      }
    }
  } finally {
    progress?.finish();
  }

  // Members the majority of samples have are expected of every sample.
  const expected = Object.entries(report.members).filter(([, n]) => n * 2 > report.samples).map(([e]) => e).sort();
  for (const s of seen) {
    for (const e of expected) {
      if (!s.exts.includes(e)) {
        s.problems.push({ shard: s.shard, key: s.key, kind: 'missing_member', detail: `no ${e} member (${report.members[e]} of ${report.samples} samples have one)` });
      }
    }
    report.problems.push(...s.problems);
    if (s.problems.length) report.samplesWithProblems++;
  }
  report.members = Object.fromEntries(Object.entries(report.members).sort(([a], [b]) => (a < b ? -1 : 1)));

  if (sizes.length) {
    const counts = new Map<string, number>();
    for (const z of sizes) counts.set(`${z.width}x${z.height}`, (counts.get(`${z.width}x${z.height}`) ?? 0) + 1);
    report.images = {
      count: sizes.length,
      width: distribution(sizes.map((z) => z.width)),
      height: distribution(sizes.map((z) => z.height)),
      sizes: [...counts].map(([size, count]) => ({ size, count })).sort((a, b) => b.count - a.count || (a.size < b.size ? -1 : 1)).slice(0, 10),
    };
  }

  const masks = report.maskRecords;
  if (masks.length) {
    const nonEmpty = masks.filter((m) => m.borderDistance !== null);
    for (const m of nonEmpty) {
      const limit = edgeWarning * Math.min(m.width, m.height);
      if (m.borderDistance! > o.borderMargin && m.borderDistance! < limit) {
        report.edgeWarnings.push({ shard: m.shard, key: m.key, member: m.member, borderDistance: m.borderDistance! });
      }
    }
    report.masks = {
      masks: masks.length,
      coverage: distribution(masks.map((m) => m.coverage)),
      components: distribution(masks.map((m) => m.components)),
      borderDistance: nonEmpty.length ? distribution(nonEmpty.map((m) => m.borderDistance!)) : null,
      empty: masks.filter((m) => m.area === 0).length,
      full: masks.filter((m) => m.coverage >= o.fullCoverage).length,
      touchingBorder: masks.filter((m) => m.borderDistance !== null && m.borderDistance <= o.borderMargin).length,
      nearEdge: report.edgeWarnings.length,
      nonBinary: masks.filter((m) => m.nonBinary > 0).length,
    };
  }
  return report;
}
