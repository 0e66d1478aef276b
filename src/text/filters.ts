/**
 * Named rules that reject a prompt (seed 004's filter_before_generate_image / filter_by_preproc):
 * each rule has a name, which is the reason recorded when a sample is dropped, so removals are
 * counted per rule. Rules are checked in a fixed order and the first failing one is reported.
 */

export interface TextFilterRules {
  /** Reject text that is empty or only spaces (after any transform). */
  empty?: boolean;
  /** Word-count bounds (words: runs of letters or digits). */
  words?: { min?: number; max?: number };
  /** Reject when more than `max_share` of the letters are not Latin script. */
  non_latin?: { max_share: number };
  /** Reject text holding a URL (http://, https://, www.). */
  urls?: boolean;
  /** Reject text holding HTML/XML tags or entities, or markdown links/images. */
  markup?: boolean;
  /**
   * Reject one token (or a phrase of up to 3 words) repeated back to back `times` times or more
   * ("a cat a cat a cat", "very very very very"), or one word making up more than `max_share` of
   * a text of at least 4 words.
   */
  repeated?: { times?: number; max_share?: number };
}

/** Rule names in the order they are checked. */
export const FILTER_RULES = ['empty', 'words', 'non_latin', 'urls', 'markup', 'repeated'] as const;
export type FilterRuleName = (typeof FILTER_RULES)[number];

const WORD = /[\p{L}\p{N}][\p{L}\p{N}\p{M}'’_-]*/gu;
const LETTER = /^\p{L}$/u;
const LATIN = /\p{Script=Latin}/u;
const URL = /\b(?:https?:\/\/|ftp:\/\/|www\.)\S+/iu;
const MARKUP = /<\/?[a-z][a-z0-9-]*(?:\s[^<>]*)?\/?>|&(?:[a-z]+|#\d+|#x[0-9a-f]+);|!?\[[^\]]*\]\([^)]*\)/iu;

export const DEFAULT_REPEAT_TIMES = 3;
export const MAX_REPEAT_PHRASE = 3;

export function words(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/** Share of the letters of `text` that are not Latin script (0 when it has no letters). */
export function nonLatinShare(text: string): number {
  let letters = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 128) {
      if ((c | 32) >= 97 && (c | 32) <= 122) letters++;
      continue;
    }
    const ch = String.fromCodePoint(text.codePointAt(i)!);
    if (ch.length === 2) i++;
    if (!LETTER.test(ch)) continue;
    letters++;
    if (!LATIN.test(ch)) other++;
  }
  return letters === 0 ? 0 : other / letters;
}

/** The longest back-to-back repetition of a phrase of 1..MAX_REPEAT_PHRASE words, in repeats. */
export function longestRepeat(ws: readonly string[]): number {
  let best = ws.length > 0 ? 1 : 0;
  for (let n = 1; n <= MAX_REPEAT_PHRASE; n++) {
    for (let start = 0; start + 2 * n <= ws.length; start++) {
      let reps = 1;
      while (start + (reps + 1) * n <= ws.length && samePhrase(ws, start, start + reps * n, n)) reps++;
      if (reps > best) best = reps;
    }
  }
  return best;
}

function samePhrase(ws: readonly string[], a: number, b: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (ws[a + k] !== ws[b + k]) return false;
  return true;
}

function topShare(ws: readonly string[]): number {
  const counts = new Map<string, number>();
  let top = 0;
  for (const w of ws) {
    const c = (counts.get(w) ?? 0) + 1;
    counts.set(w, c);
    if (c > top) top = c;
  }
  return ws.length === 0 ? 0 : top / ws.length;
}

/** A function returning the name of the first rule `text` fails, or null when it passes. */
export function makeTextFilter(rules: TextFilterRules): (text: string | null | undefined) => FilterRuleName | null {
  const times = rules.repeated?.times ?? DEFAULT_REPEAT_TIMES;
  const share = rules.repeated?.max_share;
  return (raw) => {
    const text = raw ?? '';
    if (rules.empty && text.trim() === '') return 'empty';
    const ws = rules.words || rules.repeated ? words(text) : [];
    if (rules.words) {
      if (rules.words.min !== undefined && ws.length < rules.words.min) return 'words';
      if (rules.words.max !== undefined && ws.length > rules.words.max) return 'words';
    }
    if (rules.non_latin && nonLatinShare(text) > rules.non_latin.max_share) return 'non_latin';
    if (rules.urls && URL.test(text)) return 'urls';
    if (rules.markup && MARKUP.test(text)) return 'markup';
    if (rules.repeated) {
      if (longestRepeat(ws) >= times) return 'repeated';
      if (share !== undefined && ws.length >= 4 && topShare(ws) > share) return 'repeated';
    }
    return null;
  };
}
