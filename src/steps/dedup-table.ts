/**
 * The per-image state of duplicate matching, packed in typed arrays: a few hundred bytes per image
 * instead of a JS object graph with hex strings (~2.9 KB), so 10M images fit in one process. Ids,
 * paths and file locations are not here: the caller fetches them for the few images that matter.
 */
import type { ExtraCode, VariantCodes } from './dedup-match.js';

/** Variant names in the order judgePair visits them (ties between equal distances depend on it). */
export const VARIANT_NAMES = ['plain', 'mirror', 'trimmed', 'trimmed_mirror', 'centre'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

/** n images; image i's variants are rows variantStart[i]..variantStart[i+1]-1, extras likewise. */
export interface SignalTable {
  readonly size: number;
  /** Ingest order (keep: first). */
  readonly ord: Float64Array;
  readonly width: Int32Array;
  readonly height: Int32Array;
  readonly bytes: Float64Array;
  /** Equal keys ⇔ equal file sha256. */
  readonly shaKey: Int32Array;
  /** Equal keys ⇔ equal decoded-pixel sha256; -1 without one. */
  readonly pixelKey: Int32Array;
  readonly variantStart: Uint32Array;
  /** Index into VARIANT_NAMES. */
  readonly variantName: Uint8Array;
  readonly pHi: Uint32Array;
  readonly pLo: Uint32Array;
  readonly dHi: Uint32Array;
  readonly dLo: Uint32Array;
  readonly extraStart: Uint32Array;
  readonly eHi: Uint32Array;
  readonly eLo: Uint32Array;
}

type Typed = Uint8Array | Int32Array | Uint32Array | Float64Array;

/** A typed array that doubles when full; `view()` is the filled part. */
class Grow<T extends Typed> {
  length = 0;
  constructor(private data: T) {}
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new (this.data.constructor as new (n: number) => T)(Math.max(16, this.data.length * 2));
      next.set(this.data as never);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** The filled part, copied into an exact-size array (releases the slack). */
  view(): T {
    return this.data.length === this.length ? this.data : (this.data.slice(0, this.length) as T);
  }
}

export interface TableImage {
  ord: number;
  width: number;
  height: number;
  bytes: number;
  shaKey: number;
  pixelKey: number;
}

/** Fills a SignalTable one image at a time: add(), then its variant()s and extra()s. */
export class SignalTableBuilder {
  private n = 0;
  private readonly ord: Grow<Float64Array>;
  private readonly width: Grow<Int32Array>;
  private readonly height: Grow<Int32Array>;
  private readonly bytes: Grow<Float64Array>;
  private readonly shaKey: Grow<Int32Array>;
  private readonly pixelKey: Grow<Int32Array>;
  private readonly variantStart: Grow<Uint32Array>;
  private readonly variantName: Grow<Uint8Array>;
  private readonly pHi: Grow<Uint32Array>;
  private readonly pLo: Grow<Uint32Array>;
  private readonly dHi: Grow<Uint32Array>;
  private readonly dLo: Grow<Uint32Array>;
  private readonly extraStart: Grow<Uint32Array>;
  private readonly eHi: Grow<Uint32Array>;
  private readonly eLo: Grow<Uint32Array>;

  /** `expected`: images, variants and extras per image to reserve room for (growth doubles otherwise). */
  constructor(expected = { images: 1024, variants: 3, extras: 13 }) {
    const n = Math.max(16, expected.images);
    const v = n * Math.max(1, expected.variants);
    const e = n * Math.max(1, expected.extras);
    this.ord = new Grow(new Float64Array(n));
    this.width = new Grow(new Int32Array(n));
    this.height = new Grow(new Int32Array(n));
    this.bytes = new Grow(new Float64Array(n));
    this.shaKey = new Grow(new Int32Array(n));
    this.pixelKey = new Grow(new Int32Array(n));
    this.variantStart = new Grow(new Uint32Array(n + 1));
    this.variantName = new Grow(new Uint8Array(v));
    this.pHi = new Grow(new Uint32Array(v));
    this.pLo = new Grow(new Uint32Array(v));
    this.dHi = new Grow(new Uint32Array(v));
    this.dLo = new Grow(new Uint32Array(v));
    this.extraStart = new Grow(new Uint32Array(n + 1));
    this.eHi = new Grow(new Uint32Array(e));
    this.eLo = new Grow(new Uint32Array(e));
  }

  get size(): number {
    return this.n;
  }

  add(img: TableImage): number {
    this.ord.push(img.ord);
    this.width.push(img.width);
    this.height.push(img.height);
    this.bytes.push(img.bytes);
    this.shaKey.push(img.shaKey);
    this.pixelKey.push(img.pixelKey);
    this.variantStart.push(this.pHi.length);
    this.extraStart.push(this.eHi.length);
    return this.n++;
  }

  /** A variant of the image added last; call in VARIANT_NAMES order. */
  variant(name: number, pHi: number, pLo: number, dHi: number, dLo: number): void {
    this.variantName.push(name);
    this.pHi.push(pHi);
    this.pLo.push(pLo);
    this.dHi.push(dHi);
    this.dLo.push(dLo);
  }

  /** The image's next extra view pHash (EXTRA_VIEWS order). */
  extra(hi: number, lo: number): void {
    this.eHi.push(hi);
    this.eLo.push(lo);
  }

  finish(): SignalTable {
    this.variantStart.push(this.pHi.length);
    this.extraStart.push(this.eHi.length);
    return {
      size: this.n, ord: this.ord.view(), width: this.width.view(), height: this.height.view(), bytes: this.bytes.view(),
      shaKey: this.shaKey.view(), pixelKey: this.pixelKey.view(), variantStart: this.variantStart.view(), variantName: this.variantName.view(),
      pHi: this.pHi.view(), pLo: this.pLo.view(), dHi: this.dHi.view(), dLo: this.dLo.view(),
      extraStart: this.extraStart.view(), eHi: this.eHi.view(), eLo: this.eLo.view(),
    };
  }
}

/** Image i's variant codes, as parseVariantCodes gives them from its signals. */
export function variantCodesAt(t: SignalTable, i: number): VariantCodes[] {
  const out: VariantCodes[] = [];
  for (let r = t.variantStart[i]; r < t.variantStart[i + 1]; r++) {
    out.push({ name: VARIANT_NAMES[t.variantName[r]], pHi: t.pHi[r], pLo: t.pLo[r], dHi: t.dHi[r], dLo: t.dLo[r] });
  }
  return out;
}

/** Image i's extra view codes, as parseExtraCodes gives them. */
export function extraCodesAt(t: SignalTable, i: number): ExtraCode[] {
  const out: ExtraCode[] = [];
  const s = t.extraStart[i];
  for (let r = s; r < t.extraStart[i + 1]; r++) out.push({ hi: t.eHi[r], lo: t.eLo[r], k: r - s });
  return out;
}
