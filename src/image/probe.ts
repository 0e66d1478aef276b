/**
 * The probe: what an image file is, read from its bytes, and whether it fully decodes.
 *
 * Issue types it records (IssueRecord.type; score 1 whenever recorded):
 *  - `corrupt`            flagged. Does not decode: truncated, corrupt data, zero bytes, not an image
 *                         (text, HTML), or a format this build cannot decode. evidence: { reason, stage }.
 *  - `decompression_bomb` flagged. One page has more pixels than `maxPixels`, read from the header; the
 *                         image is NOT decoded (decodes: false), and is not also reported as corrupt.
 *                         evidence: { width, height, pixels, max_pixels }.
 *  - `cmyk`               flagged. CMYK colour space (most training loaders mis-convert it).
 *  - `wrong_extension`    flagged. The name's extension says one format, the content is another.
 *                         Only judged when the extension is a known image extension.
 *                         evidence: { extension, detected, expected }.
 *  - `animated`           flagged. More than one page: animated GIF/WebP (kind 'animation') or a
 *                         multi-page TIFF/HEIF/PDF (kind 'pages'). evidence: { pages, kind }.
 *  - `high_bit_depth`     informational (flagged: false): 16-bit or float samples. Legitimate data, but
 *                         8-bit pipelines will quantise it. evidence: { bit_depth, depth }.
 *  - `exif_rotated`       informational (flagged: false): EXIF orientation != 1, so the stored pixels
 *                         are not upright; display_width/height give the upright size.
 *                         evidence: { orientation }.
 *
 * The full decode is what makes `decodes` trustworthy: libvips reads lazily, so a header read says
 * nothing about the rest of the file. We decode every pixel at full resolution with failOn 'warning'
 * (by default), because JPEG shrink-on-load (DCT scaling) silently skips corrupt-data warnings that a
 * full decode reports. To keep memory bounded the decoded pixels stream into a tiny (<= 32px) resize
 * instead of a full-size buffer; the `extract` of the whole page in front of the resize is what stops
 * sharp from choosing shrink-on-load.
 */
import type { Metadata } from 'sharp';
import { extname } from 'node:path';
import { UsageError, errorMessage } from '../errors.js';
import { sha256Hex } from '../util/hash.js';
import type { IssueRecord } from '../steps/types.js';
import { decodeBmp, isBmp, readBmpHeader } from './bmp.js';
import { DEFAULT_MAX_PIXELS, openImage, pixelLimit, readMetadata } from './open.js';

export const PROBE_ISSUES = [
  'corrupt',
  'decompression_bomb',
  'cmyk',
  'wrong_extension',
  'animated',
  'high_bit_depth',
  'exif_rotated',
] as const;
export type ProbeIssueType = (typeof PROBE_ISSUES)[number];

/** Issue types that only inform (recorded with flagged: false). */
export const INFORMATIONAL_PROBE_ISSUES: readonly ProbeIssueType[] = ['high_bit_depth', 'exif_rotated'];

/** The default pixel limit per page lives with the one opener (src/image/open.ts), which every decode obeys. */
export { DEFAULT_MAX_PIXELS };

/** How strict the decoder is, from sharp's `failOn`: 'warning' rejects any decoder warning. */
export type FailOn = 'warning' | 'error' | 'truncated';
export const FAIL_ON_LEVELS: readonly FailOn[] = ['warning', 'error', 'truncated'];

export interface ProbeOptions {
  /** Largest width x height of one page that will be decoded (default: the thread's pixel limit, see open.ts). */
  maxPixels?: number;
  /** Decoder strictness (default 'warning'). */
  failOn?: FailOn;
}

/** Where a file failed: reading its bytes, parsing its header, or decoding its pixels. */
export type FailStage = 'read' | 'header' | 'decode';

/**
 * What the probe learnt about one file. JSON-safe (it is stored as a step result). Fields read from
 * the header are null when the header could not be parsed.
 */
export type ProbeInfo = {
  /** File size in bytes. */
  bytes: number;
  sha256: string;
  /** Format detected from the content (jpeg, png, webp, gif, tiff, avif, heif, svg, ...; bmp is decoded by src/image/bmp.ts; ico, psd when recognised but not decodable). */
  format: string | null;
  /** Lower-case extension of the name, without the dot ('' when the name has none). */
  extension: string;
  /** Stored size of one page, before EXIF orientation. */
  width: number | null;
  height: number | null;
  /** Upright size, after EXIF orientation (what a viewer shows). */
  display_width: number | null;
  display_height: number | null;
  channels: number | null;
  /** Bits per sample of the decoded pixels: 8, 16, 32 (int or float) or 64. */
  bit_depth: number | null;
  /** libvips band format: uchar, ushort, float, ... */
  depth: string | null;
  /** libvips interpretation: srgb, b-w, cmyk, rgb16, grey16, lab, multiband, ... */
  color_space: string | null;
  has_alpha: boolean | null;
  /** EXIF orientation 1..8 (1 when absent). */
  orientation: number | null;
  /** Pages or frames (1 for a still image). */
  pages: number | null;
  /** Pages the full decode covered (all, unless all pages together exceed maxPixels). */
  decoded_pages: number;
  decodes: boolean;
  /** Why it does not decode (null when it does). */
  error: string | null;
};

export type ProbeResult = ProbeInfo & { issues: IssueRecord[] };

/** Image extensions → the format sharp reports for such content. Aliases share one format. */
export const EXTENSION_FORMATS: Readonly<Record<string, string>> = {
  jpg: 'jpeg', jpeg: 'jpeg', jpe: 'jpeg', jfif: 'jpeg', jif: 'jpeg', pjpeg: 'jpeg', pjp: 'jpeg',
  png: 'png', apng: 'png',
  webp: 'webp',
  gif: 'gif',
  tif: 'tiff', tiff: 'tiff',
  avif: 'avif',
  heic: 'heif', heif: 'heif', hif: 'heif',
  svg: 'svg', svgz: 'svg',
  jp2: 'jp2', j2k: 'jp2', j2c: 'jp2', jpf: 'jp2', jpx: 'jp2', jpm: 'jp2',
  jxl: 'jxl',
  pdf: 'pdf',
  ppm: 'ppm', pgm: 'ppm', pbm: 'ppm', pnm: 'ppm', pam: 'ppm', pfm: 'ppm',
  exr: 'exr',
  hdr: 'rad',
  fits: 'fits', fit: 'fits', fts: 'fits',
  bmp: 'bmp', dib: 'bmp',
  ico: 'ico', cur: 'ico',
  psd: 'psd',
};

/** The format an extension (lower case, no dot) stands for; undefined when it is not an image extension. */
export function formatOfExtension(ext: string): string | undefined {
  return Object.hasOwn(EXTENSION_FORMATS, ext) ? EXTENSION_FORMATS[ext] : undefined;
}

/** Canonical format name for a format or extension name ('JPG' → 'jpeg'); undefined when unknown. */
export function canonicalFormat(name: string): string | undefined {
  const n = name.trim().toLowerCase().replace(/^\./, '');
  return formatOfExtension(n) ?? (Object.values(EXTENSION_FORMATS).includes(n) ? n : undefined);
}

/**
 * Probe one file. Never throws for bad content: a file that cannot be read as an image comes back
 * with `decodes: false`, `error` and a `corrupt` (or `decompression_bomb`) issue. Throws UsageError
 * only for invalid options.
 */
export async function probeImage(input: Uint8Array, name: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const { maxPixels, failOn } = validateOptions(options);
  // Bytes that crossed a worker boundary arrive as a plain Uint8Array; view them as a Buffer (no copy).
  const bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const info: ProbeInfo = {
    bytes: bytes.length,
    sha256: sha256Hex(bytes),
    format: null,
    extension: extname(name).slice(1).toLowerCase(),
    width: null,
    height: null,
    display_width: null,
    display_height: null,
    channels: null,
    bit_depth: null,
    depth: null,
    color_space: null,
    has_alpha: null,
    orientation: null,
    pages: null,
    decoded_pages: 0,
    decodes: false,
    error: null,
  };
  const issues: IssueRecord[] = [];
  const fail = (stage: FailStage, reason: string): ProbeResult => {
    info.decodes = false;
    info.error = reason;
    issues.unshift({ type: 'corrupt', score: 1, flagged: true, evidence: { reason, stage } });
    return { ...info, issues };
  };

  if (bytes.length === 0) return fail('read', 'empty file (0 bytes)');
  if (isBmp(bytes)) return probeBmp(bytes, maxPixels, info, issues, fail);

  // 1. Header: format, size, layout. Header-only; no pixel is decoded here.
  let meta: Metadata;
  try {
    meta = await readMetadata(bytes);
  } catch (err) {
    const sniffed = sniff(bytes);
    if (sniffed.format) info.format = sniffed.format;
    addWrongExtension(info, issues);
    return fail('header', sniffed.reason(cleanMessage(err)));
  }
  readHeader(info, meta);
  addWrongExtension(info, issues);

  // 2. The bomb guard, before any decoding.
  const pageHeight = meta.pageHeight ?? meta.height;
  const pagePixels = meta.width * pageHeight;
  if (pagePixels > maxPixels) {
    info.error =
      `image is ${meta.width}x${pageHeight} (${pagePixels} pixels), over the decompression-bomb limit ` +
      `of ${maxPixels} pixels; not decoded`;
    issues.unshift({
      type: 'decompression_bomb', score: 1, flagged: true,
      evidence: { width: meta.width, height: pageHeight, pixels: pagePixels, max_pixels: maxPixels },
    });
    addHeaderIssues(info, issues);
    return { ...info, issues };
  }

  // 3. Full decode of every page whose pixels fit the budget together (else the first page only).
  const pages = info.pages ?? 1;
  const decodePages = pages > 1 && pagePixels * pages <= maxPixels ? pages : 1;
  try {
    await openImage(bytes, { failOn, limitInputPixels: maxPixels, pages: decodePages })
      .extract({ left: 0, top: 0, width: meta.width, height: pageHeight })
      .resize(32, 32, { fit: 'inside', kernel: 'linear', withoutEnlargement: true })
      .raw()
      .toBuffer();
  } catch (err) {
    addHeaderIssues(info, issues);
    const truncated = looksTruncated(info.format, bytes);
    return fail('decode', cleanMessage(err) + (truncated ? ' (file is truncated: its end marker is missing)' : ''));
  }
  info.decodes = true;
  info.decoded_pages = decodePages;
  addHeaderIssues(info, issues);
  return { ...info, issues };
}

/** BMP, which libvips cannot read: the same header → bomb guard → full decode, with our decoder. */
function probeBmp(
  bytes: Buffer, maxPixels: number, info: ProbeInfo, issues: IssueRecord[],
  fail: (stage: FailStage, reason: string) => ProbeResult,
): ProbeResult {
  info.format = 'bmp';
  addWrongExtension(info, issues);
  let header;
  try {
    header = readBmpHeader(bytes);
  } catch (err) {
    return fail('header', errorMessage(err));
  }
  Object.assign(info, {
    width: header.width, height: header.height, display_width: header.width, display_height: header.height,
    channels: header.channels, bit_depth: 8, depth: 'uchar', color_space: 'srgb',
    has_alpha: header.channels === 4, orientation: 1, pages: 1,
  });
  const pixels = header.width * header.height;
  if (pixels > maxPixels) {
    info.error =
      `image is ${header.width}x${header.height} (${pixels} pixels), over the decompression-bomb limit ` +
      `of ${maxPixels} pixels; not decoded`;
    issues.unshift({
      type: 'decompression_bomb', score: 1, flagged: true,
      evidence: { width: header.width, height: header.height, pixels, max_pixels: maxPixels },
    });
    return { ...info, issues };
  }
  try {
    decodeBmp(bytes, { maxPixels });
  } catch (err) {
    return fail('decode', errorMessage(err));
  }
  info.decodes = true;
  info.decoded_pages = 1;
  return { ...info, issues };
}

function validateOptions(options: ProbeOptions): Required<ProbeOptions> {
  const asked = options.maxPixels ?? pixelLimit();
  if (!Number.isSafeInteger(asked) || asked < 1) {
    throw new UsageError(`probe: maxPixels must be a positive integer, got ${String(options.maxPixels)}`);
  }
  // Never above the thread's limit: what the probe lets through, every decoder must accept.
  const maxPixels = Math.min(asked, pixelLimit());
  const failOn = options.failOn ?? 'warning';
  if (!FAIL_ON_LEVELS.includes(failOn)) {
    throw new UsageError(`probe: failOn must be one of ${FAIL_ON_LEVELS.join(', ')}, got ${String(options.failOn)}`);
  }
  return { maxPixels, failOn };
}

const DEPTH_BITS: Record<string, number> = {
  uchar: 8, char: 8, ushort: 16, short: 16, uint: 32, int: 32, float: 32, complex: 64, double: 64, dpcomplex: 128,
};

function readHeader(info: ProbeInfo, meta: Metadata): void {
  // libheif reports AVIF as 'heif' with AV1 compression; name it as users (and extensions) do.
  info.format = meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : String(meta.format);
  info.width = meta.width;
  info.height = meta.pageHeight ?? meta.height;
  const rotated = (meta.orientation ?? 1) >= 5;
  info.display_width = rotated ? info.height : info.width;
  info.display_height = rotated ? info.width : info.height;
  info.channels = meta.channels;
  info.depth = meta.depth;
  info.bit_depth = DEPTH_BITS[meta.depth] ?? null;
  info.color_space = meta.space;
  info.has_alpha = meta.hasAlpha;
  info.orientation = meta.orientation ?? 1;
  info.pages = meta.pages ?? 1;
}

function addWrongExtension(info: ProbeInfo, issues: IssueRecord[]): void {
  const expected = formatOfExtension(info.extension);
  if (!expected || !info.format || expected === info.format) return;
  issues.push({
    type: 'wrong_extension', score: 1, flagged: true,
    evidence: { extension: info.extension, detected: info.format, expected },
  });
}

/** Issues read from the header alone (recorded whether or not the pixels decode). */
function addHeaderIssues(info: ProbeInfo, issues: IssueRecord[]): void {
  if (info.color_space === 'cmyk') {
    issues.push({ type: 'cmyk', score: 1, flagged: true, evidence: { color_space: 'cmyk', channels: info.channels } });
  }
  if ((info.pages ?? 1) > 1) {
    const kind = info.format === 'gif' || info.format === 'webp' ? 'animation' : 'pages';
    issues.push({ type: 'animated', score: 1, flagged: true, evidence: { pages: info.pages, kind } });
  }
  if ((info.bit_depth ?? 8) > 8) {
    issues.push({ type: 'high_bit_depth', score: 1, flagged: false, evidence: { bit_depth: info.bit_depth, depth: info.depth } });
  }
  if ((info.orientation ?? 1) !== 1) {
    issues.push({ type: 'exif_rotated', score: 1, flagged: false, evidence: { orientation: info.orientation } });
  }
}

/** Whether a file of `format` lacks the marker its encoder writes last (a cut-off download or copy). */
function looksTruncated(format: string | null, b: Buffer): boolean {
  switch (format) {
    case 'jpeg':
      // Some writers pad after EOI, so look for it near the end rather than at the last two bytes.
      return b.subarray(-64).indexOf(Buffer.from([0xff, 0xd9])) < 0;
    case 'png':
      return b.subarray(-64).indexOf('IEND', 0, 'latin1') < 0;
    case 'gif':
      return !b.subarray(-16).includes(0x3b);
    case 'webp':
      return b.length >= 12 && b.readUInt32LE(4) + 8 > b.length;
    default:
      return false;
  }
}

/** sharp errors are multi-line and prefixed; keep the decoder's own words. */
function cleanMessage(err: unknown): string {
  return errorMessage(err).split('\n').map((s) => s.trim()).filter(Boolean).join('; ');
}

interface Sniffed {
  /** An image format recognised by its magic number (sharp may still be unable to decode it). */
  format?: string;
  reason(decoderMessage: string): string;
}

/** Recognise content sharp could not parse, to say what it is rather than just "unsupported". */
function sniff(b: Buffer): Sniffed {
  const magic = (sig: number[], at = 0) => sig.every((v, i) => b[at + i] === v);
  const ascii = (s: string, at = 0) => b.subarray(at, at + s.length).toString('latin1') === s;
  const decodable: Array<[string, boolean]> = [
    ['jpeg', magic([0xff, 0xd8, 0xff])],
    ['png', magic([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
    ['gif', ascii('GIF87a') || ascii('GIF89a')],
    ['webp', ascii('RIFF') && ascii('WEBP', 8)],
    ['tiff', magic([0x49, 0x49, 0x2a, 0x00]) || magic([0x4d, 0x4d, 0x00, 0x2a])],
    ['avif', ascii('ftyp', 4) && (ascii('avif', 8) || ascii('avis', 8))],
    ['heif', ascii('ftyp', 4) && /^(heic|heix|mif1|msf1|hevc)$/.test(b.subarray(8, 12).toString('latin1'))],
  ];
  for (const [format, hit] of decodable) {
    if (hit) return { format, reason: (m) => `corrupt ${format} header: ${m}` };
  }
  const unsupported: Array<[string, boolean]> = [
    ['bmp', ascii('BM') && b.length >= 26 && b.readUInt32LE(2) > 0],
    ['ico', magic([0x00, 0x00, 0x01, 0x00]) || magic([0x00, 0x00, 0x02, 0x00])],
    ['psd', ascii('8BPS')],
  ];
  for (const [format, hit] of unsupported) {
    if (hit) return { format, reason: () => `unsupported image format: ${format} (this build of libvips cannot decode it)` };
  }
  const head = b.subarray(0, 1024).toString('utf8').replace(/^\uFEFF/, '');
  if (/^\s*(<!doctype\s+html|<html|<head|<body|<!--)/i.test(head)) return { reason: () => 'not an image: HTML document' };
  if (/^\s*(<\?xml|<svg)/i.test(head)) return { reason: (m) => `not a decodable image: XML/SVG text (${m})` };
  if (/^\s*[{[]/.test(head) && isText(b)) return { reason: () => 'not an image: JSON text' };
  if (ascii('%PDF')) return { reason: (m) => `not a decodable image: PDF (${m})` };
  if (isText(b)) return { reason: () => 'not an image: text' };
  return { reason: (m) => `not an image: unrecognised content (${m})` };
}

/** Mostly printable UTF-8 in the first kilobyte. */
function isText(b: Buffer): boolean {
  const head = b.subarray(0, 1024);
  let printable = 0;
  for (const c of head) if (c === 9 || c === 10 || c === 13 || (c >= 32 && c !== 127)) printable++;
  return head.length > 0 && printable / head.length > 0.95 && !head.includes(0);
}

/** The JSON-safe part of a result (everything but the issues), as a step result. */
export function probeInfo(result: ProbeResult): ProbeInfo {
  const { issues: _issues, ...info } = result;
  return info;
}
