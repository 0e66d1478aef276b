/**
 * Prompt / caption normalisation before near-duplicate detection (seed 004's preprocessing):
 * Unicode compatibility folding, lowercase, punctuation and symbols to spaces, runs of whitespace
 * to one space. Two prompts that differ only in case, spacing or punctuation normalise to the same
 * string ("A  cat." and "a cat" → "a cat"), so they compare as exact duplicates.
 */

export interface NormalizeOptions {
  /** Lowercase (locale-independent). Default true. */
  lowercase?: boolean;
  /**
   * Unicode normalisation form. NFKC (default) folds full-width letters, ligatures and compatibility
   * forms ("ｃａｔ" → "cat", "ﬁ" → "fi"); Hangul syllables stay composed.
   */
  unicode?: 'NFKC' | 'NFC' | 'none';
  /**
   * 'remove' (default): apostrophes are deleted ("cat's" → "cats") and every other punctuation mark
   * or symbol (Unicode P and S categories: `,.!?;:"()[]{}|/\-_+=*&^%$#@~<>`, emoji, ...) becomes a
   * space. 'keep': left as written.
   */
  punctuation?: 'remove' | 'keep';
  /** Collapse runs of whitespace (and control characters) to one space and trim. Default true. */
  whitespace?: boolean;
}

export const DEFAULT_NORMALIZE: Readonly<Required<NormalizeOptions>> = Object.freeze({
  lowercase: true,
  unicode: 'NFKC',
  punctuation: 'remove',
  whitespace: true,
});

const APOSTROPHES = /['\u2018\u2019\u02bc\uff07`]/g;
const PUNCT_OR_SYMBOL = /[\p{P}\p{S}]+/gu;
const SPACE_RUN = /[\s\p{Cc}]+/gu;

/** A normalising function for these options (resolved once, applied per row). */
export function makeNormalizer(options: NormalizeOptions = {}): (text: string) => string {
  const o = { ...DEFAULT_NORMALIZE, ...definedOnly(options) };
  return (text: string): string => {
    let s = text;
    if (o.unicode !== 'none') s = s.normalize(o.unicode);
    if (o.lowercase) s = s.toLowerCase();
    if (o.punctuation === 'remove') s = s.replace(APOSTROPHES, '').replace(PUNCT_OR_SYMBOL, ' ');
    if (o.whitespace) s = s.replace(SPACE_RUN, ' ').trim();
    return s;
  };
}

/** Normalise one string (see NormalizeOptions for what each option does). */
export function normalizeText(text: string, options: NormalizeOptions = {}): string {
  return makeNormalizer(options)(text);
}

/** Options with their defaults filled in (undefined entries do not override defaults). */
export function resolveNormalize(options: NormalizeOptions = {}): Required<NormalizeOptions> {
  return { ...DEFAULT_NORMALIZE, ...definedOnly(options) };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
