/**
 * Captions for LoRA / fine-tuning datasets (seed 003): a template per dataset filled from a sample's
 * caption file, columns, label, tags and fields, and the checks a trainer would otherwise trip on —
 * empty, trigger word missing, longer than CLIP's 75 tokens, not UTF-8, several lines (sd-scripts
 * trains on the first line only), the same caption on several images. Pure functions: the caller
 * reads the files and stores the issues.
 */
import { basename, dirname, extname, relative } from 'node:path';
import { createTokenizer } from '../embed/tokenizer.js';
import type { IssueRecord, Json } from '../steps/types.js';

/** Seed 003's structured format, as written in the seed. */
export const STRUCTURED_FORMAT = '[trigger], [subject_type], [key_features], [action/pose], [environment], [style], [quality]';
/** The simple template of the issue. */
export const SIMPLE_TEMPLATE = '{trigger}, {class}, {caption}';

/** CLIP's text window minus BOS/EOS: what sd-scripts keeps by default (max_token_length 75). */
export const CLIP_MAX_TOKENS = 75;

/** A value a placeholder can take: lists are joined with ", "; null/empty means "absent". */
export type FieldValue = string | number | boolean | null | undefined | FieldValue[] | { [k: string]: FieldValue };
export type CaptionFields = Record<string, FieldValue>;

/** Turns the seed's `[name]` notation into a template (`{name}`); `{...}` templates pass unchanged. */
export function templateFromFormat(format: string): string {
  return format.replace(/\[([A-Za-z_][A-Za-z0-9_./-]*)\]/g, '{$1}');
}

/** Placeholder names of a template, in order. */
export function templateFields(template: string): string[] {
  return [...template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1].trim());
}

/** A field by name, or by dotted path into nested objects (`meta.colour`). */
function lookup(fields: CaptionFields, name: string): FieldValue {
  if (name in fields) return fields[name];
  let v: FieldValue = fields;
  for (const part of name.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, FieldValue>)[part];
  }
  return v;
}

function render(v: FieldValue): string {
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) return v.map(render).filter((s) => s !== '').join(', ');
  if (typeof v === 'object') return '';
  return String(v).trim();
}

const SEPARATOR = /^[\s,;|]*$/;

/**
 * Fills `{name}` placeholders from `fields`. An absent or empty field is dropped together with one
 * adjacent separator, so "{trigger}, {class}, {caption}" without a class reads "trigger, caption".
 */
export function fillTemplate(template: string, fields: CaptionFields): { text: string; missing: string[] } {
  type Seg = { lit: string } | { name: string; value: string };
  const segs: Seg[] = [];
  let last = 0;
  for (const m of template.matchAll(/\{([^{}]+)\}/g)) {
    segs.push({ lit: template.slice(last, m.index) });
    segs.push({ name: m[1].trim(), value: render(lookup(fields, m[1].trim())) });
    last = m.index! + m[0].length;
  }
  segs.push({ lit: template.slice(last) });
  const missing: string[] = [];
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (!('name' in s) || s.value !== '') continue;
    missing.push(s.name);
    // Remove the separator before the empty field, or after it when it leads.
    const before = segs[i - 1] as { lit: string } | undefined;
    const after = segs[i + 1] as { lit: string } | undefined;
    const hasValueBefore = segs.slice(0, i).some((x) => 'name' in x && x.value !== '');
    if (before && hasValueBefore && SEPARATOR.test(before.lit)) before.lit = '';
    else if (after && SEPARATOR.test(after.lit)) after.lit = '';
  }
  const text = segs.map((s) => ('name' in s ? s.value : s.lit)).join('').trim();
  return { text, missing };
}

/** What a sample offers a template: its caption, class, tags and fields under their usual names. */
export function captionFields(sample: {
  caption?: string | null;
  label?: string | null;
  tags?: string[];
  meta?: Record<string, Json> | null;
  trigger?: string | null;
  className?: string | null;
}): CaptionFields {
  return {
    ...((sample.meta ?? {}) as CaptionFields),
    meta: (sample.meta ?? {}) as CaptionFields,
    trigger: sample.trigger ?? (sample.meta?.trigger as string | undefined),
    class: sample.className ?? sample.label,
    label: sample.label,
    caption: sample.caption,
    tags: sample.tags ?? [],
  };
}

// ---- caption files ----

/** Extensions trainers read beside an image, in the order they are tried. */
export const CAPTION_EXTENSIONS = ['.txt', '.caption'] as const;

/** Where a caption for `imagePath` may lie: the image's path with its extension replaced. */
export function captionCandidates(imagePath: string, extensions: readonly string[] = CAPTION_EXTENSIONS): string[] {
  const base = imagePath.slice(0, imagePath.length - extname(imagePath).length);
  return extensions.map((e) => base + (e.startsWith('.') ? e : `.${e}`));
}

export interface CaptionFile {
  /** What sd-scripts trains on: the first line, trimmed (UTF-8 errors replaced by U+FFFD). */
  text: string;
  /** Every non-empty line. */
  lines: string[];
  issues: IssueRecord[];
}

/** Decodes a caption file's bytes as a trainer does, with `caption_not_utf8` and `caption_multiline` issues. */
export function readCaption(bytes: Uint8Array, path: string): CaptionFile {
  const issues: IssueRecord[] = [];
  let raw: string;
  try {
    raw = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    raw = new TextDecoder('utf-8').decode(bytes);
    const at = firstInvalidUtf8(bytes);
    issues.push({ type: 'caption_not_utf8', score: 1, flagged: true, evidence: { file: path, byte_offset: at } });
  }
  raw = raw.replace(/^\uFEFF/, '');
  const all = raw.split(/\r\n|\n|\r/);
  const lines = all.map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length > 1) {
    issues.push({ type: 'caption_multiline', score: 0.5, flagged: true, evidence: { file: path, lines: lines.length, note: 'sd-scripts reads the first line only' } });
  }
  return { text: (all[0] ?? '').trim(), lines, issues };
}

/** Offset of the first byte that is not valid UTF-8 (-1 when none), for the issue's evidence. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    if (n === 0 || i + n >= b.length) return i;
    for (let k = 1; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    const d = b[i + 1];
    if ((c === 0xe0 && d < 0xa0) || (c === 0xed && d > 0x9f) || (c === 0xf0 && d < 0x90) || (c === 0xf4 && d > 0x8f)) return i;
    i += n + 1;
  }
  return -1;
}

// ---- token counts ----

export interface TokenCounter {
  /** Tokens between BOS and EOS. */
  count(text: string): number;
  /** True only for CLIP's own BPE from its vocab.json/merges.txt. */
  exact: boolean;
  method: string;
}

/** CLIP's BPE from the model's vocab.json and merges.txt: exact counts. */
export function clipTokenCounter(vocabPath: string, mergesPath: string): TokenCounter {
  const dir = dirname(vocabPath);
  const tok = createTokenizer(
    { kind: 'clip-bpe', context_length: 4096, pad: 0, byte_offset: 0, vocab: basename(vocabPath), merges: relative(dir, mergesPath) },
    dir,
  );
  return {
    exact: true,
    method: 'clip-bpe',
    count: (text) => tok.encode(text).mask.reduce((s, m) => s + Number(m), 0),
  };
}

// CLIP's pre-tokenizer split (words, single digits, punctuation runs), without its vocabulary.
const CLIP_WORDS = /'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/**
 * An approximation of CLIP's count without its vocabulary: CLIP's own pre-token split, one token per
 * word of up to 7 letters and one more per further 7 (common English words are single tokens, rare
 * and long ones split). Stated as approximate wherever it is used.
 */
export const approxTokenCounter: TokenCounter = {
  exact: false,
  method: 'approximate (CLIP word split, ~7 letters per token; give vocab.json/merges.txt for exact counts)',
  count(text) {
    let n = 0;
    for (const m of text.replace(/\s+/g, ' ').trim().toLowerCase().matchAll(CLIP_WORDS)) {
      n += /^\p{L}+$/u.test(m[0]) ? Math.ceil([...m[0]].length / 7) : 1;
    }
    return n;
  },
};

/** The exact counter when both CLIP files are given, else the approximation. */
export function tokenCounter(clip?: { vocab?: string; merges?: string }): TokenCounter {
  return clip?.vocab && clip.merges ? clipTokenCounter(clip.vocab, clip.merges) : approxTokenCounter;
}

// ---- checks ----

export interface CaptionCheckOptions {
  /** The dataset's trigger word; when given, captions without it get `caption_missing_trigger`. */
  trigger?: string;
  counter?: TokenCounter;
  /** Tokens allowed (CLIP: 75; sd-scripts' --max_token_length may raise it to 150 or 225). */
  maxTokens?: number;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether `trigger` appears in `text` as a whole word (case-insensitive, as CLIP lower-cases). */
export function hasTrigger(text: string, trigger: string): boolean {
  return new RegExp(`(^|[^\\p{L}\\p{N}_])${escapeRe(trigger.trim())}($|[^\\p{L}\\p{N}_])`, 'iu').test(text);
}

/** Issues of one caption: caption_empty, caption_missing_trigger, caption_too_long (with its count and method). */
export function checkCaption(text: string, opts: CaptionCheckOptions = {}): IssueRecord[] {
  const issues: IssueRecord[] = [];
  if (text.trim() === '') {
    issues.push({ type: 'caption_empty', score: 1, flagged: true });
    return issues;
  }
  if (opts.trigger && !hasTrigger(text, opts.trigger)) {
    issues.push({ type: 'caption_missing_trigger', score: 1, flagged: true, evidence: { trigger: opts.trigger } });
  }
  const counter = opts.counter ?? approxTokenCounter;
  const max = opts.maxTokens ?? CLIP_MAX_TOKENS;
  const tokens = counter.count(text);
  if (tokens > max) {
    issues.push({
      type: 'caption_too_long',
      score: Math.min(1, (tokens - max) / max),
      flagged: true,
      evidence: { tokens, max_tokens: max, exact: counter.exact, method: counter.method },
    });
  }
  return issues;
}

/** Normal form for duplicate detection: case, spacing and spaces around commas do not matter. */
export function captionKey(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s*,\s*/g, ',').replace(/\s+/g, ' ').trim();
}

/**
 * `caption_duplicate` for every caption shared with another image (empty captions are left to
 * `caption_empty`). Evidence names the other ids (up to 20) and the group size.
 */
export function findDuplicateCaptions(captions: Array<{ id: string; text: string }>): Map<string, IssueRecord> {
  const groups = new Map<string, string[]>();
  for (const c of captions) {
    const k = captionKey(c.text);
    if (k === '') continue;
    const g = groups.get(k);
    if (g) g.push(c.id);
    else groups.set(k, [c.id]);
  }
  const out = new Map<string, IssueRecord>();
  for (const ids of groups.values()) {
    if (ids.length < 2) continue;
    for (const id of ids) {
      const others = ids.filter((x) => x !== id);
      out.set(id, {
        type: 'caption_duplicate',
        score: 1 - 1 / ids.length,
        flagged: true,
        evidence: { same_as: others.slice(0, 20), group_size: ids.length },
      });
    }
  }
  return out;
}
