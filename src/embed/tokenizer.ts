import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImgsiftError } from '../errors.js';
import type { TextTokenizer } from './manifest.js';

/**
 * Text → fixed-length token ids for a text tower. Pluggable by the manifest's `tokenizer.kind`:
 * - 'bytes': UTF-8 bytes (+ byte_offset) — the tiny test models' tokenizer, not a real model's.
 * - 'clip-bpe': CLIP's byte-level BPE (lower-cased, whitespace-collapsed; no ftfy repair) from the
 *   vocab.json and merges.txt the user puts next to the model.
 * Sequences are [bos] tokens [eos], truncated to context_length (eos kept) and padded with `pad`.
 */
export interface Tokenizer {
  readonly contextLength: number;
  /** ids: context_length token ids; mask: 1 for real tokens, 0 for padding. */
  encode(text: string): { ids: BigInt64Array; mask: BigInt64Array };
}

export function createTokenizer(spec: TextTokenizer, modelDir: string): Tokenizer {
  const pieces: (text: string) => number[] =
    spec.kind === 'bytes' ? (t) => [...Buffer.from(t, 'utf8')].map((b) => b + spec.byte_offset) : clipBpe(spec, modelDir);
  return {
    contextLength: spec.context_length,
    encode(text: string) {
      const room = spec.context_length - (spec.bos !== undefined ? 1 : 0) - (spec.eos !== undefined ? 1 : 0);
      const body = pieces(text).slice(0, Math.max(0, room));
      const seq = [...(spec.bos !== undefined ? [spec.bos] : []), ...body, ...(spec.eos !== undefined ? [spec.eos] : [])];
      const ids = new BigInt64Array(spec.context_length).fill(BigInt(spec.pad));
      const mask = new BigInt64Array(spec.context_length);
      seq.forEach((id, i) => {
        ids[i] = BigInt(id);
        mask[i] = 1n;
      });
      return { ids, mask };
    },
  };
}

/** GPT-2 / CLIP's reversible map from bytes to printable characters. */
function byteEncoder(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = new Array(256);
  bs.forEach((b, i) => (table[b] = String.fromCharCode(cs[i])));
  return table;
}

const CLIP_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

function readCompanion(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new ImgsiftError(`the clip-bpe tokenizer needs its ${what} at ${path} (from the model's Hugging Face repository)`);
  }
}

function clipBpe(spec: TextTokenizer, modelDir: string): (text: string) => number[] {
  const ids = loadClipBpe(join(modelDir, spec.vocab!), join(modelDir, spec.merges!));
  return (text: string) => {
    const clean = text.replace(/\s+/g, ' ').trim().toLowerCase();
    const out: number[] = [];
    for (const m of clean.matchAll(CLIP_PATTERN)) out.push(...ids(m[0]));
    return out;
  };
}

/** CLIP's BPE from vocab.json and merges.txt: one lower-cased pre-token (a CLIP_PATTERN match) → its ids. */
function loadClipBpe(vocabPath: string, mergesPath: string): (word: string) => number[] {
  const vocabText = readCompanion(vocabPath, 'vocabulary (vocab.json)');
  let vocab: Record<string, number>;
  try {
    vocab = JSON.parse(vocabText) as Record<string, number>;
  } catch (err) {
    throw new ImgsiftError(`${vocabPath} is not valid JSON: ${(err as Error).message}`);
  }
  const ranks = new Map<string, number>();
  readCompanion(mergesPath, 'merge list (merges.txt)')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#version'))
    .forEach((l, i) => ranks.set(l.trim(), i));
  const enc = byteEncoder();
  const cache = new Map<string, string[]>();

  const bpe = (token: string): string[] => {
    const hit = cache.get(token);
    if (hit) return hit;
    let word = [...token.slice(0, -1), token.slice(-1) + '</w>'];
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = [word[best], word[best + 1]];
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i < word.length - 1 && word[i] === a && word[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else merged.push(word[i]);
      }
      word = merged;
    }
    cache.set(token, word);
    return word;
  };

  return (word: string) => {
    const token = [...Buffer.from(word, 'utf8')].map((b) => enc[b]).join('');
    return bpe(token).map((piece) => {
      const id = vocab[piece];
      if (id === undefined) throw new ImgsiftError(`clip-bpe: '${piece}' is not in ${vocabPath}; is it the vocabulary that goes with ${mergesPath}?`);
      return id;
    });
  };
}

/** One pre-token of a text as CLIP's BPE splits it: where it is in the text, and its token ids. */
export interface ClipWord {
  start: number;
  end: number;
  ids: number[];
}

/**
 * CLIP's BPE over a text, word by word (the pre-tokens CLIP splits on), with each word's place in
 * the text as given, so a text can be cut at a token boundary. The tokens are the ones `encode`
 * gives between BOS and EOS.
 */
export function clipWords(vocabPath: string, mergesPath: string): (text: string) => ClipWord[] {
  const ids = loadClipBpe(vocabPath, mergesPath);
  return (text: string) => {
    const out: ClipWord[] = [];
    for (const m of text.matchAll(CLIP_PATTERN)) out.push({ start: m.index!, end: m.index! + m[0].length, ids: ids(m[0].toLowerCase()) });
    return out;
  };
}
