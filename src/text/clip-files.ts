import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.js';
import { sha256Hex } from '../util/hash.js';

/** CLIP's BPE tokenizer files on disk, and a hash of both (so a cache keyed on it sees a new vocabulary). */
export interface ClipTokenizerFiles {
  vocab: string;
  merges: string;
  sha256: string;
}

/**
 * Where a recipe's `tokenizer:` points: a directory holding CLIP's `vocab.json` and `merges.txt`
 * (a Hugging Face CLIP repository or an imgsift model directory, whose `manifest.json` may name
 * them), or a vocab.json file with `merges.txt` beside it. Offline only: nothing is downloaded.
 * `field` names the recipe field in errors.
 */
export function findClipTokenizer(path: string, field: string): ClipTokenizerFiles {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new InputError({ file: path, field }, `no tokenizer at ${path}: give a directory holding CLIP's vocab.json and merges.txt, or the vocab.json file`);
  }
  const dir = isDir ? path : dirname(path);
  let vocab = isDir ? join(dir, 'vocab.json') : path;
  let merges = join(dir, 'merges.txt');
  if (isDir) {
    // An imgsift model directory: its manifest names the files (text models with kind clip-bpe).
    const named = manifestTokenizer(join(dir, 'manifest.json'));
    if (named) {
      vocab = join(dir, named.vocab);
      merges = join(dir, named.merges);
    }
  }
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      throw new InputError({ file, field }, `the CLIP tokenizer needs its ${what} at ${file} (copy it from the model's Hugging Face repository)`);
    }
  };
  const hash = sha256Hex(read(vocab, 'vocabulary (vocab.json)') + '\0' + read(merges, 'merge list (merges.txt)'));
  return { vocab, merges, sha256: hash };
}

function manifestTokenizer(file: string): { vocab: string; merges: string } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  const t = (json as { tokenizer?: { kind?: string; vocab?: string; merges?: string } }).tokenizer;
  return t?.kind === 'clip-bpe' && t.vocab && t.merges ? { vocab: t.vocab, merges: t.merges } : undefined;
}
