import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A tiny CLIP-format tokenizer (vocab.json + merges.txt) written to `dir`: every printable ASCII
 * character alone and word-final (`x</w>`), plus merges making `cat`, `dog` and `red` one token
 * each, so a word of n other letters is n tokens. Byte-level BPE maps printable ASCII to itself,
 * so no byte table is needed for ASCII texts.
 */
export async function writeTinyClipVocab(dir: string): Promise<{ vocab: string; merges: string }> {
  const vocab: Record<string, number> = {};
  let id = 0;
  for (let c = 33; c <= 126; c++) {
    const ch = String.fromCharCode(c);
    vocab[ch] = id++;
    vocab[`${ch}</w>`] = id++;
  }
  const merges = ['#version: 0.2'];
  for (const word of ['cat', 'dog', 'red']) {
    const [a, b, c] = word;
    merges.push(`${a} ${b}`, `${a + b} ${c}</w>`);
    vocab[a + b] ??= id++;
    vocab[`${word}</w>`] ??= id++;
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'vocab.json'), JSON.stringify(vocab));
  await writeFile(join(dir, 'merges.txt'), merges.join('\n') + '\n');
  return { vocab: join(dir, 'vocab.json'), merges: join(dir, 'merges.txt') };
}
