/**
 * Prompt preprocessing (seed 004's `preproc`): an ordered list of rules rewriting a text. Rules are
 * pure string functions; the whole list is applied again until the text stops changing, so the
 * result is a fixed point and a second application changes nothing (seed 004 reran its filter
 * until nothing was removed; here that loop is inside the transform). A rule list that never
 * settles (a replacement that re-creates its own pattern) is a recipe error, reported with the text.
 */

import { clipWords, type ClipWord } from '../embed/tokenizer.js';

export type TransformRule =
  | { unicode: 'NFKC' | 'NFC' }
  | { whitespace: true }
  | { case: 'lower' | 'upper' }
  | { replace: { pattern: string; with: string; flags?: string } }
  | { remove_words: { words: string[] } }
  | { trim_modifiers: { dangling?: string[]; duplicates?: boolean } }
  | { max_length: { chars?: number; words?: number; tokens?: number; tokenizer?: { vocab: string; merges: string } } };

/** How many times the rule list may run before a text must have settled. */
export const MAX_PASSES = 8;

/** Words left dangling at the end once what followed them was removed ("… by", "… in the style of"). */
export const DEFAULT_DANGLING = [
  'a', 'an', 'and', 'as', 'at', 'by', 'featuring', 'for', 'from', 'in', 'into', 'like', 'of', 'on',
  'or', 'style', 'the', 'to', 'with',
];

export class TransformError extends Error {}

type Fn = (s: string) => string;

const SPACE_RUN = /[\s\p{Cc}]+/gu;
const WORD = /[\p{L}\p{N}\p{M}'’_-]+/gu;
const ASCII = /^[\x00-\x7f]*$/;

function collapseSpaces(s: string): string {
  return s.replace(SPACE_RUN, ' ').trim();
}

/**
 * Tidy what a removal leaves behind: runs of spaces, a space before a comma, empty list items
 * (", ,"), separators at either end.
 */
export function tidy(s: string): string {
  return collapseSpaces(s)
    .replace(/\s+([,;:.!?])/g, '$1')
    .replace(/([,;])(?:\s*[,;])+/g, '$1')
    .replace(/\(\s*\)|\[\s*\]|\{\s*\}/g, '')
    .replace(/^[\s,;:|/.-]+/, '')
    .replace(/[\s,;:|/-]+$/, '')
    .replace(SPACE_RUN, ' ')
    .trim();
}

/**
 * Remove listed words or phrases, whole words only, case-insensitively (after NFKC), longest first:
 * a name list holding "greg rutkowski" removes both words together. Matching is by word tokens
 * looked up in a set, so a list of 100,000 names costs no more per text than a list of ten.
 */
function removeWords(words: readonly string[]): Fn {
  const phrases = new Set<string>();
  /** First words of the phrases: a text none of whose words is here is left as it is, quickly. */
  const firsts = new Set<string>();
  let longest = 0;
  for (const w of words) {
    const key = phraseKey(w);
    if (!key) continue;
    phrases.add(key);
    const parts = key.split(' ');
    firsts.add(parts[0]);
    longest = Math.max(longest, parts.length);
  }
  if (phrases.size === 0) return (s) => s;
  return (s) => {
    // For ASCII text, lower-casing keeps offsets, so one lower-cased copy gives every token's key.
    const low = ASCII.test(s) ? s.toLowerCase() : null;
    const tokens: Array<{ start: number; end: number; key: string }> = [];
    let any = false;
    for (const m of s.matchAll(WORD)) {
      const start = m.index!;
      const end = start + m[0].length;
      const key = low !== null ? low.slice(start, end) : m[0].normalize('NFKC').toLowerCase();
      if (!any && firsts.has(key)) any = true;
      tokens.push({ start, end, key });
    }
    if (!any) return s;
    const cuts: Array<[number, number]> = [];
    for (let i = 0; i < tokens.length; ) {
      let matched = 0;
      if (firsts.has(tokens[i].key)) {
        for (let n = Math.min(longest, tokens.length - i); n >= 1; n--) {
          // A phrase is matched only across plain spaces between its words.
          let key = tokens[i].key;
          let ok = true;
          for (let k = 1; k < n && ok; k++) {
            ok = /^\s+$/.test(s.slice(tokens[i + k - 1].end, tokens[i + k].start));
            key += ' ' + tokens[i + k].key;
          }
          if (ok && phrases.has(key)) {
            matched = n;
            break;
          }
        }
      }
      if (matched) {
        cuts.push([tokens[i].start, tokens[i + matched - 1].end]);
        i += matched;
      } else i++;
    }
    if (cuts.length === 0) return s;
    let out = '';
    let at = 0;
    for (const [a, b] of cuts) {
      out += s.slice(at, a) + ' ';
      at = b;
    }
    return tidy(out + s.slice(at));
  };
}

/** A word list entry as matched: NFKC, lower case, words joined by one space. */
export function phraseKey(w: string): string {
  return [...w.normalize('NFKC').toLowerCase().matchAll(WORD)].map((m) => m[0]).join(' ');
}

/**
 * Trailing modifier clean-up, per comma-separated modifier: strip dangling connector words and
 * separators from its end ("a hero by" → "a hero", ", in the style of," → gone), drop empty ones
 * and repeats (the first stays).
 */
function trimModifiers(dangling: readonly string[], duplicates: boolean): Fn {
  const hang = new Set(dangling.map((w) => w.toLowerCase()));
  /** Strip dangling words from the end of one segment; the first word of the text stays. */
  const trimEnd = (seg: string, first: boolean): string => {
    let out = seg.trim();
    for (;;) {
      let end = out.length;
      while (end > 0 && (isBoundary(out.charCodeAt(end - 1)) || out.charCodeAt(end - 1) === 45)) end--;
      let start = end;
      while (start > 0 && !isBoundary(out.charCodeAt(start - 1))) start--;
      if (!hang.has(out.slice(start, end).toLowerCase()) || (first && start === 0)) return out.slice(0, end);
      out = out.slice(0, start);
    }
  };
  return (s) => {
    const seen = new Set<string>();
    const parts: string[] = [];
    for (const part of s.split(',')) {
      const seg = trimEnd(part, parts.length === 0);
      const key = collapseSpaces(seg).toLowerCase();
      if (key === '' || (duplicates && seen.has(key))) continue;
      seen.add(key);
      parts.push(seg);
    }
    return parts.join(', ');
  };
}

/** Space, tab, line breaks and the separators ; : | / between modifiers. */
function isBoundary(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 59 || c === 58 || c === 124 || c === 47 || c === 160;
}

/**
 * Cut to at most `limit` CLIP BPE tokens (not counting start and end markers: CLIP's 77 are 75 of
 * text), at the end of the last whole word that fits, so no word is split into a token fragment;
 * a first word longer than the limit alone is cut to its longest prefix that fits.
 */
function maxTokens(limit: number, words: (text: string) => ClipWord[]): Fn {
  const count = (t: string) => words(t).reduce((n, w) => n + w.ids.length, 0);
  return (s) => {
    const ws = words(s);
    let n = 0;
    let cut = -1;
    for (let i = 0; i < ws.length; i++) {
      n += ws[i].ids.length;
      if (n > limit) {
        cut = i;
        break;
      }
    }
    if (cut < 0) return s;
    let out: string;
    if (cut > 0) out = s.slice(0, ws[cut].start);
    else {
      // One word over the limit: the longest prefix of it (in code points) that fits.
      const cps = Array.from(s.slice(0, ws[0].end));
      let lo = 0;
      let hi = cps.length;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (count(cps.slice(0, mid).join('')) <= limit) lo = mid;
        else hi = mid - 1;
      }
      out = cps.slice(0, lo).join('');
    }
    return out.replace(/[\s,;:|/-]+$/u, '');
  };
}

/** Cut to at most `chars` code points / `words` words, at a word boundary where there is one. */
function maxLength(chars: number | undefined, words: number | undefined): Fn {
  return (s) => {
    let out = s;
    if (words !== undefined) out = cutAtWords(out, words);
    if (chars !== undefined) {
      const cps = Array.from(out);
      if (cps.length > chars) {
        const head = cps.slice(0, chars + 1).join('');
        const space = head.search(/\s\S*$/u);
        // The word straddling the limit goes; a single over-long word is cut inside.
        out = space > 0 ? head.slice(0, space) : cps.slice(0, chars).join('');
      }
    }
    return out === s ? s : out.replace(/[\s,;:|/-]+$/u, '');
  };
}

function cutAtWords(s: string, words: number): string {
  let n = 0;
  const re = /\S+/gu;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    if (++n === words) return s.slice(0, m.index + m[0].length);
  }
  return s;
}

function compileRule(rule: TransformRule): Fn {
  if ('unicode' in rule) return (s) => s.normalize(rule.unicode);
  if ('whitespace' in rule) return collapseSpaces;
  if ('case' in rule) return rule.case === 'lower' ? (s) => s.toLowerCase() : (s) => s.toUpperCase();
  if ('replace' in rule) {
    const { pattern, flags } = rule.replace;
    let re: RegExp;
    try {
      re = new RegExp(pattern, flagsWithGlobal(flags ?? ''));
    } catch (err) {
      throw new TransformError(`replace: invalid pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`);
    }
    return (s) => s.replace(re, rule.replace.with);
  }
  if ('remove_words' in rule) return removeWords(rule.remove_words.words);
  if ('trim_modifiers' in rule) return trimModifiers(rule.trim_modifiers.dangling ?? DEFAULT_DANGLING, rule.trim_modifiers.duplicates ?? true);
  if ('max_length' in rule) {
    const { chars, words, tokens, tokenizer } = rule.max_length;
    if (chars === undefined && words === undefined && tokens === undefined) throw new TransformError('max_length: give chars, words or tokens');
    const byText = chars === undefined && words === undefined ? (s: string) => s : maxLength(chars, words);
    if (tokens === undefined) return byText;
    if (!tokenizer) {
      throw new TransformError(`max_length: tokens needs tokenizer: a directory holding CLIP's vocab.json and merges.txt (or the vocab.json file); nothing is downloaded`);
    }
    const byTokens = maxTokens(tokens, clipWords(tokenizer.vocab, tokenizer.merges));
    return (s) => byTokens(byText(s));
  }
  throw new TransformError(`unknown rule ${JSON.stringify(rule)}`);
}

function flagsWithGlobal(flags: string): string {
  if (!/^[imsuv]*$/.test(flags)) throw new TransformError(`replace: flags may only be i, m, s, u (got ${JSON.stringify(flags)})`);
  return flags.includes('g') ? flags : flags + 'g';
}

/**
 * A function applying `rules` in order, repeatedly, until the text is a fixed point. Throws a
 * TransformError for an invalid rule, or (when called) for a text that has not settled after
 * MAX_PASSES passes.
 */
export function makeTransformer(rules: readonly TransformRule[]): (text: string) => string {
  const fns = rules.map((r, i) => {
    try {
      return compileRule(r);
    } catch (err) {
      throw new TransformError(`rules[${i}]: ${(err as Error).message}`);
    }
  });
  const once = (s: string) => fns.reduce((t, f) => f(t), s);
  return (text) => {
    let cur = text;
    for (let pass = 0; pass < MAX_PASSES; pass++) {
      const next = once(cur);
      if (next === cur) return cur;
      cur = next;
    }
    throw new TransformError(
      `the rules do not settle: text ${JSON.stringify(text.slice(0, 80))} still changes after ${MAX_PASSES} passes (a replacement that re-creates its own pattern?)`,
    );
  };
}
