// Plain values of the downloader options (units, choices): apart from params.ts, which needs zod,
// so the CLI can declare its options without loading it.

const UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};

/** `20MB` → 20000000, `512KiB` → 524288, `1000` → 1000; undefined when unreadable. */
export function parseByteSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return undefined;
  const n = Math.round(Number(m[1]) * unit);
  return n > 0 && Number.isSafeInteger(n) ? n : undefined;
}

export const RESIZE_MODES = ['no', 'keep_ratio', 'keep_ratio_largest', 'center_crop', 'border'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];
export const INTERPOLATIONS = ['nearest', 'linear', 'area', 'cubic', 'lanczos'] as const;
export type Interpolation = (typeof INTERPOLATIONS)[number];
export const ENCODE_FORMATS = ['jpeg', 'png', 'webp'] as const;
export type EncodeFormat = (typeof ENCODE_FORMATS)[number];
