import { basename, relative, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { boundedBatches } from './bounded.js';
import { listInputFiles } from './listing.js';
import { readLineBatches } from './textfile.js';
import type { ReadOptions, Source, SourceRecord } from './types.js';
import { sha256Hex } from '../util/hash.js';

/**
 * Prompt lists: a `.txt` (or `.txt.gz`) file with one prompt per line, or a folder of them, read as
 * a stream (seed 004 dedups a 10-million-line open_prompts list against its train set). A sample
 * has no file, only its `text`. Ids are `line-<n>` (1-based line number), prefixed with the file's
 * path below the folder (`more/a.txt/line-3`) when a folder is read; or, with `id: hash`, the first
 * 16 hex digits of the sha256 of the prompt, so identical prompts share an id (set
 * `on_duplicate_id: first` to keep the first). Blank lines are skipped and counted (`skipped`).
 */

export const PROMPT_SUFFIXES = ['.txt', '.txt.gz'];

export interface PromptsSourceOptions {
  path: string;
  id: 'line' | 'hash';
  /** Split of every prompt; or `file`: the file's name without .txt(.gz) (`validation.txt` → validation). */
  split?: string;
}

export class PromptsSource implements Source {
  readonly description: string;
  /** Blank lines skipped by the last read. */
  skipped = 0;

  constructor(private readonly opts: PromptsSourceOptions) {
    this.description = `prompt list ${opts.path}`;
  }

  read(options: ReadOptions): AsyncIterable<SourceRecord> {
    return boundedBatches(this.batches(), options);
  }

  private async *batches(): AsyncGenerator<SourceRecord[]> {
    this.skipped = 0;
    const files = await listInputFiles(this.opts.path, PROMPT_SUFFIXES);
    const isDir = (await stat(this.opts.path)).isDirectory();
    for (const file of files) {
      const prefix = isDir ? `${relative(resolve(this.opts.path), resolve(file)).split('\\').join('/')}/` : '';
      const split = this.opts.split === 'file' ? splitOfFile(file) : this.opts.split;
      for await (const batch of readLineBatches(file)) {
        const out: SourceRecord[] = [];
        for (const { text, line } of batch) {
          const prompt = text.trim();
          if (prompt === '') {
            this.skipped++;
            continue;
          }
          const id = this.opts.id === 'hash' ? sha256Hex(prompt).slice(0, 16) : `${prefix}line-${line}`;
          const rec: SourceRecord = { id, files: {}, text: prompt, ref: `${file}:${line}` };
          if (split !== undefined) rec.split = split;
          out.push(rec);
        }
        if (out.length) yield out;
      }
    }
  }
}

function splitOfFile(file: string): string {
  return basename(file).replace(/\.txt(\.gz)?$/i, '').toLowerCase();
}
