/**
 * The 1/8-scale image of a progressive JPEG from its DC scans.
 *
 * libjpeg's 1/8 scaled decode keeps one pixel per 8x8 block, made from the block's DC coefficient
 * alone (jpeg_idct_1x1: DESCALE(DC * Q0, 3) + 128). libjpeg-turbo still entropy-decodes every AC
 * scan of a progressive file to get there, which is most of the file and most of the CPU. In a
 * progressive file the DC coefficients have scans of their own (Ss = Se = 0: a first scan with
 * point transform Al, then refinement scans adding one bit each), so this decodes only those and
 * skips the AC scans' entropy data to the next marker (0xFF00 stuffing and RSTn stay inside).
 *
 * Pixels, against libjpeg-turbo's scale 1/8 (djpeg -scale 1/8, sharp's shrink-on-load):
 *  - grey and every component that libjpeg also reduces with the 1x1 IDCT and upsamples by
 *    replication (luma always; chroma of 4:4:4, 4:2:2, 4:4:0, 4:1:1): exact.
 *  - chroma that libjpeg reduces with a larger IDCT (4:2:0 chroma: libjpeg picks the 2x2 IDCT,
 *    which uses AC coefficients): here it is upsampled bilinearly (centred, like libjpeg's fancy
 *    upsampling) from its own DC plane, so RGB differs slightly; luma is unaffected.
 *  - YCbCr -> RGB with libjpeg's fixed-point tables (JFIF full range, rounded, clamped to 0..255).
 *
 * Checks: the whole file is walked marker by marker to EOI (a truncated file is refused), every
 * table and scan header is checked as libjpeg checks it (an error there is an error in libjpeg),
 * the DC scans are fully decoded. Anything this cannot do exactly, or that libjpeg would even warn
 * about in what is read here, is refused with a reason, and the caller decodes with libvips as
 * before: baseline files (libjpeg's 1/8 is cheap there), arithmetic/lossless/hierarchical frames,
 * RGB (Adobe transform 0 or R,G,B component ids), CMYK/YCCK, 12-bit, DNL, and an ICC profile
 * unless allowed. What it cannot check is the AC entropy data itself (a bad Huffman code there
 * is only a warning in libjpeg); callers that fail on warnings must not use it.
 */

export interface DcImage {
  /** ceil(W / 8) x ceil(H / 8), in the stored (not EXIF-rotated) orientation. */
  width: number;
  height: number;
  /** 1 for a greyscale JPEG, 3 (RGB) for YCbCr. */
  channels: 1 | 3;
  /** Interleaved 8-bit samples, row-major. */
  data: Buffer;
}

export type DcDecode = { ok: true; image: DcImage } | { ok: false; reason: string };

export interface DcOptions {
  /** Accept files carrying an ICC profile (the pixels are returned without colour management). Default false. */
  allowIcc?: boolean;
  /** Luma only, one channel (libjpeg's out_color_space JCS_GRAYSCALE, djpeg -grayscale). Default false. */
  grey?: boolean;
}

/** A refusal: the file is not one this decoder handles exactly (the caller falls back). */
class Refused extends Error {}

function refuse(reason: string): never {
  throw new Refused(reason);
}

/** The DC-only 1/8 image, or null when the file is refused (see decodeProgressiveDc for why). */
export function progressiveDcImage(buf: Buffer, options: DcOptions = {}): DcImage | null {
  const r = decodeProgressiveDc(buf, options);
  return r.ok ? r.image : null;
}

export function decodeProgressiveDc(buf: Buffer, options: DcOptions = {}): DcDecode {
  try {
    return { ok: true, image: decode(buf, options) };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: err.message };
    throw err;
  }
}

interface Component {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** Size in blocks (the component's own, without MCU padding). */
  bw: number;
  bh: number;
  /** DC coefficients, bw x bh, as libjpeg stores them (int16, with the point transform applied). */
  dc: Int16Array;
  /** Point transform of the DC bits decoded so far (-1: no DC scan yet). */
  al: number;
  /** Whether an AC scan has been seen (libjpeg warns when that happens before the DC scan). */
  seenAc: boolean;
  /** DC quantiser, latched at the component's first scan as libjpeg does (-1: not yet). */
  q0: number;
}

interface Frame {
  width: number;
  height: number;
  hmax: number;
  vmax: number;
  comps: Component[];
}

interface HuffTable {
  /** 16-bit lookahead: (code length << 8) | symbol, 0 for no code. */
  lut: Uint16Array;
}

const MARKER_SOF2 = 0xc2;

function decode(buf: Buffer, options: DcOptions): DcImage {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) refuse('not a JPEG (no SOI)');
  let frame: Frame | null = null;
  const q0: number[] = [-1, -1, -1, -1];
  const dcTables: Array<HuffTable | null> = [null, null, null, null];
  const acDefined = [false, false, false, false];
  let restartInterval = 0;
  let jfif = false;
  let adobe: number | null = null; // Adobe APP14 transform
  let icc = false;
  let scans = 0;
  let p = 2;
  for (;;) {
    if (p >= buf.length) refuse('truncated: the file ends before its EOI marker');
    if (buf[p] !== 0xff) refuse(`unexpected byte 0x${buf[p].toString(16)} between segments at offset ${p}`);
    while (p + 1 < buf.length && buf[p + 1] === 0xff) p++; // fill bytes
    if (p + 1 >= buf.length) refuse('truncated: the file ends inside a marker');
    const m = buf[p + 1];
    p += 2;
    if (m === 0xd9) break; // EOI
    if (m === 0x00 || m === 0x01 || m === 0xd8 || (m >= 0xd0 && m <= 0xd7)) {
      refuse(`marker 0x${m.toString(16)} out of place at offset ${p - 2}`);
    }
    if (p + 2 > buf.length) refuse('truncated: the file ends inside a segment length');
    const len = buf.readUInt16BE(p);
    const end = p + len;
    if (len < 2) refuse(`bad segment length ${len} at offset ${p}`);
    if (end > buf.length) refuse('truncated: a segment runs past the end of the file');
    const seg = buf.subarray(p + 2, end);
    if (m === MARKER_SOF2) {
      if (frame) refuse('second frame header');
      frame = parseSof2(seg);
    } else if (m === 0xc0 || m === 0xc1) {
      refuse('baseline (sequential) JPEG');
    } else if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      refuse(`frame type 0x${m.toString(16)} (lossless, hierarchical or arithmetic) is not handled`);
    } else if (m === 0xc4) {
      parseDht(seg, dcTables, acDefined);
    } else if (m === 0xdb) {
      parseDqt(seg, q0);
    } else if (m === 0xdd) {
      if (seg.length !== 2) refuse('bad DRI length');
      restartInterval = seg.readUInt16BE(0);
    } else if (m === 0xda) {
      if (!frame) refuse('scan before the frame header');
      scans++;
      p = scan(buf, end, seg, frame, q0, dcTables, acDefined, restartInterval);
      continue;
    } else if (m >= 0xe0 && m <= 0xef) {
      // libjpeg decides the colour space from the markers read before the first scan.
      if (scans === 0 && m === 0xe0 && seg.length >= 14 && seg.toString('latin1', 0, 5) === 'JFIF\0') jfif = true;
      if (scans === 0 && m === 0xee && seg.length >= 12 && seg.toString('latin1', 0, 5) === 'Adobe') adobe = seg[11];
      if (m === 0xe2 && seg.length >= 12 && seg.toString('latin1', 0, 12) === 'ICC_PROFILE\0') icc = true;
    } else if (m !== 0xfe) {
      refuse(`marker 0x${m.toString(16)} is not handled`);
    }
    p = end;
  }
  if (!frame) refuse('no frame header');
  if (scans === 0) refuse('no scan');
  if (icc && !options.allowIcc) refuse('ICC profile');
  for (const c of frame.comps) if (c.al < 0) refuse(`component ${c.id} has no DC scan`);
  if (frame.comps.length === 3) {
    if (adobe !== null && !jfif && adobe !== 1) refuse(`Adobe transform ${adobe} (not YCbCr)`);
    const ids = frame.comps.map((c) => c.id).join(',');
    if (!jfif && adobe === null && ids === '82,71,66') refuse('RGB components (ids R,G,B)');
  }
  return toPixels(frame, options.grey === true);
}

function parseSof2(seg: Buffer): Frame {
  if (seg.length < 6) refuse('short frame header');
  const precision = seg[0];
  const height = seg.readUInt16BE(1);
  const width = seg.readUInt16BE(3);
  const n = seg[5];
  if (precision !== 8) refuse(`${precision}-bit samples`);
  if (height === 0) refuse('height 0 (DNL) is not handled');
  if (width === 0) refuse('width 0');
  if (n !== 1 && n !== 3) refuse(`${n} components (only grey and YCbCr are handled)`);
  if (seg.length !== 6 + 3 * n) refuse('bad frame header length');
  const raw = [];
  for (let i = 0; i < n; i++) {
    const o = 6 + 3 * i;
    const h = seg[o + 1] >> 4;
    const v = seg[o + 1] & 15;
    if (h < 1 || h > 4 || v < 1 || v > 4) refuse('bad sampling factors');
    if (seg[o + 2] > 3) refuse('bad quantisation table number');
    raw.push({ id: seg[o], h, v, tq: seg[o + 2] });
  }
  if (new Set(raw.map((c) => c.id)).size !== n) refuse('duplicate component ids');
  const hmax = Math.max(...raw.map((c) => c.h));
  const vmax = Math.max(...raw.map((c) => c.v));
  const comps = raw.map((c): Component => {
    // libjpeg only upsamples by integral ratios (else JERR_FRACT_SAMPLE_NOTIMPL).
    if (hmax % c.h !== 0 || vmax % c.v !== 0) refuse('fractional sampling ratio');
    const bw = Math.ceil(Math.ceil((width * c.h) / hmax) / 8);
    const bh = Math.ceil(Math.ceil((height * c.v) / vmax) / 8);
    return { ...c, bw, bh, dc: new Int16Array(bw * bh), al: -1, seenAc: false, q0: -1 };
  });
  return { width, height, hmax, vmax, comps };
}

function parseDqt(seg: Buffer, q0: number[]): void {
  let o = 0;
  while (o < seg.length) {
    const pq = seg[o] >> 4;
    const tq = seg[o] & 15;
    if (pq > 1 || tq > 3) refuse('bad DQT table');
    const size = pq ? 128 : 64;
    if (o + 1 + size > seg.length) refuse('short DQT segment');
    // Only the DC quantiser (zigzag 0 is natural 0) matters at 1/8.
    q0[tq] = pq ? seg.readUInt16BE(o + 1) : seg[o + 1];
    o += 1 + size;
  }
}

function parseDht(seg: Buffer, dcTables: Array<HuffTable | null>, acDefined: boolean[]): void {
  let o = 0;
  while (o < seg.length) {
    if (o + 17 > seg.length) refuse('short DHT segment');
    const tc = seg[o] >> 4;
    const th = seg[o] & 15;
    if (tc > 1 || th > 3) refuse('bad DHT table');
    const counts = seg.subarray(o + 1, o + 17);
    let total = 0;
    for (const c of counts) total += c;
    if (total > 256 || o + 17 + total > seg.length) refuse('bad DHT counts');
    const values = seg.subarray(o + 17, o + 17 + total);
    const lut = buildLut(counts, values, tc === 0);
    if (tc === 0) dcTables[th] = { lut };
    else acDefined[th] = true;
    o += 17 + total;
  }
}

/** Canonical Huffman codes as a 16-bit lookahead table, checked as libjpeg's jpeg_make_d_derived_tbl. */
function buildLut(counts: Uint8Array, values: Uint8Array, isDc: boolean): Uint16Array {
  const lut = new Uint16Array(65536);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < counts[len - 1]; i++) {
      const sym = values[k++];
      if (isDc && sym > 15) refuse('DC Huffman symbol over 15');
      const shift = 16 - len;
      const start = code << shift;
      lut.fill((len << 8) | sym, start, start + (1 << shift));
      code++;
    }
    // A code that does not fit its length (over-subscribed table): libjpeg's JERR_BAD_HUFF_TABLE.
    if (code > 1 << len) refuse('bad Huffman table');
    code <<= 1;
  }
  return lut;
}

/** One scan: its header checked, its DC data decoded or its AC data skipped. Returns the offset of the next marker. */
function scan(
  buf: Buffer, dataStart: number, seg: Buffer, frame: Frame, q0: number[],
  dcTables: Array<HuffTable | null>, acDefined: boolean[], restartInterval: number,
): number {
  const ns = seg[0];
  if (ns < 1 || ns > 4 || seg.length !== 1 + 2 * ns + 3) refuse('bad scan header length');
  const comps: Component[] = [];
  const tds: number[] = [];
  const tas: number[] = [];
  for (let i = 0; i < ns; i++) {
    const c = frame.comps.find((x) => x.id === seg[1 + 2 * i]);
    if (!c || comps.includes(c)) refuse('bad component in scan header');
    comps.push(c);
    tds.push(seg[2 + 2 * i] >> 4);
    tas.push(seg[2 + 2 * i] & 15);
  }
  const ss = seg[1 + 2 * ns];
  const se = seg[2 + 2 * ns];
  const ah = seg[3 + 2 * ns] >> 4;
  const al = seg[3 + 2 * ns] & 15;
  // libjpeg's JERR_BAD_PROGRESSION checks (jdphuff.c start_pass_phuff_decoder).
  let bad = ss === 0 ? se !== 0 : se < ss || se > 63 || ns !== 1;
  if (ah !== 0 && al !== ah - 1) bad = true;
  if (al > 13) bad = true;
  if (bad) refuse(`bad progression parameters Ss=${ss} Se=${se} Ah=${ah} Al=${al}`);
  if (ns > 1 && comps.reduce((s, c) => s + c.h * c.v, 0) > 10) refuse('too many blocks in an MCU');
  for (let i = 0; i < ns; i++) {
    const c = comps[i];
    if (c.q0 < 0) {
      // libjpeg latches a component's quantisation table at its first scan (JERR_NO_QUANT_TABLE if missing).
      if (q0[c.tq] < 0) refuse(`quantisation table ${c.tq} not defined`);
      if (q0[c.tq] > 32767) refuse('DC quantiser over 32767'); // libjpeg multiplies it as a short
      c.q0 = q0[c.tq];
    }
    if (ss === 0) {
      // DC: a first scan for a component without DC yet, a refinement continuing where the last stopped.
      if (ah === 0 ? c.al >= 0 : c.al !== ah) refuse(`component ${c.id}: DC scan out of order`);
      if (ah === 0 && (tds[i] > 3 || !dcTables[tds[i]])) refuse(`DC Huffman table ${tds[i]} not defined`);
    } else {
      if (c.al < 0) refuse(`component ${c.id}: AC scan before its DC scan`);
      if (tas[i] > 3 || !acDefined[tas[i]]) refuse(`AC Huffman table ${tas[i]} not defined`);
      c.seenAc = true;
    }
  }
  if (ss !== 0) return skipEntropyData(buf, dataStart);
  const reader = new BitReader(buf, dataStart);
  decodeDcScan(reader, frame, comps, tds.map((t) => dcTables[t]), ah, al, restartInterval);
  for (const c of comps) c.al = al;
  return reader.finish();
}

/** Offset of the first marker after entropy-coded data (not a stuffed 0xFF00, not RSTn). */
function skipEntropyData(buf: Buffer, p: number): number {
  for (;;) {
    const i = buf.indexOf(0xff, p);
    if (i < 0 || i + 1 >= buf.length) refuse('truncated: the file ends inside a scan');
    const next = buf[i + 1];
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) p = i + 2;
    else if (next === 0xff) p = i + 1; // fill bytes before a marker
    else return i;
  }
}

/**
 * Bits of one scan's entropy-coded data. Past the end of the data (a marker) it reads zeros, as
 * libjpeg does, but counts them, and refuses if a code actually needs them: that is libjpeg's
 * "premature end of data segment" warning.
 */
class BitReader {
  private acc = 0;
  private n = 0;
  /** Zero bits appended past the data's end (the last ones in acc). */
  private pad = 0;
  private pos: number;
  private atMarker = false;

  constructor(private readonly buf: Buffer, start: number) {
    this.pos = start;
  }

  private fill(): void {
    const buf = this.buf;
    while (this.n <= 16) {
      let b = 0;
      if (!this.atMarker && this.pos < buf.length) {
        b = buf[this.pos];
        if (b === 0xff) {
          if (this.pos + 1 < buf.length && buf[this.pos + 1] === 0x00) this.pos += 2;
          else {
            this.atMarker = true;
            b = 0;
          }
        } else this.pos++;
      } else if (!this.atMarker) this.atMarker = true;
      if (this.atMarker) this.pad += 8;
      this.acc = ((this.acc << 8) | b) & 0xffffff;
      this.n += 8;
    }
  }

  private consume(k: number): void {
    this.n -= k;
    if (this.n < this.pad) refuse('a DC scan ends before all its blocks are decoded');
  }

  /** One Huffman-coded symbol. */
  decode(lut: Uint16Array): number {
    if (this.n < 16) this.fill();
    const e = lut[(this.acc >>> (this.n - 16)) & 0xffff];
    if (e === 0) refuse('bad Huffman code in a DC scan');
    this.consume(e >> 8);
    return e & 0xff;
  }

  bits(k: number): number {
    if (k === 0) return 0;
    if (this.n < k) this.fill();
    const v = (this.acc >>> (this.n - k)) & ((1 << k) - 1);
    this.consume(k);
    return v;
  }

  /** At a restart interval's end: drop the partial byte, read RSTn (n = expected). */
  restart(expected: number): void {
    // Whole bytes read ahead go back (they were real data, not padding).
    this.rewindToByte();
    const buf = this.buf;
    let p = this.pos;
    while (p < buf.length && buf[p] === 0xff && buf[p + 1] === 0xff) p++;
    if (p + 1 >= buf.length || buf[p] !== 0xff || buf[p + 1] !== 0xd0 + expected) refuse('missing or out-of-sequence restart marker in a DC scan');
    this.pos = p + 2;
    this.acc = 0;
    this.n = 0;
    this.pad = 0;
    this.atMarker = false;
  }

  /** After the scan's last block: only the last byte's padding may remain before the marker. Returns the marker's offset. */
  finish(): number {
    this.rewindToByte();
    const buf = this.buf;
    if (this.pos >= buf.length) refuse('truncated: the file ends inside a scan');
    if (buf[this.pos] !== 0xff || buf[this.pos + 1] === 0x00 || (buf[this.pos + 1] >= 0xd0 && buf[this.pos + 1] <= 0xd7)) {
      refuse('extra data after the last block of a DC scan');
    }
    return this.pos;
  }

  /** Give back the whole unread bytes still in the buffer (keeping the partly read one consumed). */
  private rewindToByte(): void {
    let spare = Math.floor((this.n - this.pad) / 8);
    this.n = 0;
    this.pad = 0;
    this.acc = 0;
    this.atMarker = false;
    // Step back over whole bytes (a stuffed 0xFF00 counts as one data byte, two in the file).
    while (spare-- > 0) {
      this.pos--;
      if (this.buf[this.pos] === 0x00 && this.buf[this.pos - 1] === 0xff) this.pos--;
    }
  }
}

function decodeDcScan(
  r: BitReader, frame: Frame, comps: Component[], tables: Array<HuffTable | null>, ah: number, al: number, restartInterval: number,
): void {
  const bit = 1 << al;
  // Blocks in MCU order: interleaved scans go by MCU (padding blocks are decoded and dropped), a
  // single-component scan goes block by block over the component's own size.
  const single = comps.length === 1;
  const mcusX = single ? comps[0].bw : Math.ceil(frame.width / (8 * frame.hmax));
  const mcusY = single ? comps[0].bh : Math.ceil(frame.height / (8 * frame.vmax));
  const uComp: number[] = [];
  const uRow: number[] = [];
  const uCol: number[] = [];
  comps.forEach((c, i) => {
    const h = single ? 1 : c.h;
    const v = single ? 1 : c.v;
    for (let y = 0; y < v; y++) for (let x = 0; x < h; x++) uComp.push(i), uRow.push(y), uCol.push(x);
  });
  const nu = uComp.length;
  const preds = new Int32Array(comps.length);
  const luts = tables.map((t) => t?.lut ?? new Uint16Array(0));
  let left = restartInterval;
  let nextRst = 0;
  for (let my = 0; my < mcusY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      if (restartInterval) {
        if (left === 0) {
          r.restart(nextRst);
          nextRst = (nextRst + 1) & 7;
          preds.fill(0);
          left = restartInterval;
        }
        left--;
      }
      for (let u = 0; u < nu; u++) {
        const ci = uComp[u];
        const c = comps[ci];
        const col = single ? mx : mx * c.h + uCol[u];
        const row = single ? my : my * c.v + uRow[u];
        const inside = col < c.bw && row < c.bh;
        if (ah === 0) {
          const s = r.decode(luts[ci]);
          let diff = 0;
          if (s) {
            diff = r.bits(s);
            if (diff < 1 << (s - 1)) diff -= (1 << s) - 1; // JPEG's EXTEND
          }
          const pred = (preds[ci] += diff);
          const coef = pred * bit;
          // libjpeg keeps coefficients in 16 bits; a wrapped value would not be its image.
          if (coef < -32768 || coef > 32767) refuse('DC coefficient out of range');
          if (inside) c.dc[row * c.bw + col] = coef;
        } else if (r.bits(1) && inside) {
          c.dc[row * c.bw + col] |= bit;
        }
      }
    }
  }
}

/** libjpeg's post-IDCT range limit: (x & 1023) through its wrap-around table, + 128. */
function idctLimit(x: number): number {
  const v = x & 1023;
  return v < 128 ? v + 128 : v < 512 ? 255 : v < 896 ? 0 : v - 896;
}

/** Each block's 1x1 IDCT output: DESCALE(DC * Q0, 3) + 128, range-limited. */
function blockMeans(c: Component): Uint8Array {
  const out = new Uint8Array(c.bw * c.bh);
  for (let i = 0; i < out.length; i++) out[i] = idctLimit((c.dc[i] * c.q0 + 4) >> 3);
  return out;
}

/**
 * libjpeg's choice of IDCT size per component at 1/8 (jdmaster.c): chroma is scaled up by the IDCT
 * when its subsampling ratio is a power of two on both axes; 1 means the 1x1 IDCT.
 */
function idctSize(frame: Frame, c: Component): number {
  let s = 1;
  while (s < 8 && frame.hmax % (c.h * s * 2) === 0 && frame.vmax % (c.v * s * 2) === 0) s *= 2;
  return s;
}

/** One component at output resolution (ceil(W/8) x ceil(H/8)). */
function componentPlane(frame: Frame, c: Component, ow: number, oh: number): Uint8Array {
  const means = blockMeans(c);
  const fx = frame.hmax / c.h;
  const fy = frame.vmax / c.v;
  if (fx === 1 && fy === 1 && c.bw === ow && c.bh === oh) return means;
  const out = new Uint8Array(ow * oh);
  if (idctSize(frame, c) === 1) {
    // libjpeg: 1x1 IDCT, then plain replication (its fancy upsampling is off at 1/8).
    for (let y = 0; y < oh; y++) {
      const row = Math.min(Math.floor(y / fy), c.bh - 1) * c.bw;
      for (let x = 0; x < ow; x++) out[y * ow + x] = means[row + Math.min(Math.floor(x / fx), c.bw - 1)];
    }
    return out;
  }
  // libjpeg uses a larger IDCT here (with AC coefficients); the DC plane, upsampled bilinearly
  // with centred samples, is the closest this can get without the AC scans.
  const xs = axis(ow, fx, c.bw);
  const ys = axis(oh, fy, c.bh);
  for (let y = 0; y < oh; y++) {
    const r0 = ys.i0[y] * c.bw;
    const r1 = ys.i1[y] * c.bw;
    const ty = ys.t[y];
    for (let x = 0; x < ow; x++) {
      const tx = xs.t[x];
      const a = means[r0 + xs.i0[x]] * (1 - tx) + means[r0 + xs.i1[x]] * tx;
      const b = means[r1 + xs.i0[x]] * (1 - tx) + means[r1 + xs.i1[x]] * tx;
      out[y * ow + x] = Math.round(a * (1 - ty) + b * ty);
    }
  }
  return out;
}

/** Source indices and weight for centred linear interpolation by factor f from n samples. */
function axis(size: number, f: number, n: number): { i0: Int32Array; i1: Int32Array; t: Float64Array } {
  const i0 = new Int32Array(size);
  const i1 = new Int32Array(size);
  const t = new Float64Array(size);
  for (let x = 0; x < size; x++) {
    const u = Math.min(Math.max((x + 0.5) / f - 0.5, 0), n - 1);
    i0[x] = Math.floor(u);
    i1[x] = Math.min(i0[x] + 1, n - 1);
    t[x] = u - i0[x];
  }
  return { i0, i1, t };
}

/** libjpeg's YCbCr -> RGB tables (jdcolor.c, 16-bit fixed point, rounded). */
const SCALE = 16;
const HALF = 1 << (SCALE - 1);
const fix = (x: number) => Math.floor(x * (1 << SCALE) + 0.5);
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (fix(1.402) * x + HALF) >> SCALE;
  CB_B[i] = (fix(1.772) * x + HALF) >> SCALE;
  CR_G[i] = -fix(0.71414) * x;
  CB_G[i] = -fix(0.34414) * x + HALF;
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

function toPixels(frame: Frame, grey: boolean): DcImage {
  const width = Math.ceil(frame.width / 8);
  const height = Math.ceil(frame.height / 8);
  if (frame.comps.length === 1 || grey) {
    return { width, height, channels: 1, data: Buffer.from(componentPlane(frame, frame.comps[0], width, height)) };
  }
  const [yp, cbp, crp] = frame.comps.map((c) => componentPlane(frame, c, width, height));
  const data = Buffer.allocUnsafe(width * height * 3);
  for (let i = 0, o = 0; i < yp.length; i++, o += 3) {
    const y = yp[i];
    const cb = cbp[i];
    const cr = crp[i];
    data[o] = clamp(y + CR_R[cr]);
    data[o + 1] = clamp(y + ((CB_G[cb] + CR_G[cr]) >> SCALE));
    data[o + 2] = clamp(y + CB_B[cb]);
  }
  return { width, height, channels: 3, data };
}
