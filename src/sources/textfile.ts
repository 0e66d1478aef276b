import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { InputError } from '../errors.js';

/**
 * 64 KiB chunks: measured faster and leaner than 1 MiB ones on a million-row manifest (each chunk
 * becomes one batch of records, and small batches stay in the young GC generation).
 */
const CHUNK_BYTES = 64 * 1024;

/**
 * A manifest file as a stream of UTF-8 text chunks, gunzipped when the name ends in `.gz`.
 * The decoder keeps multi-byte characters that straddle chunks intact.
 */
export function openText(file: string): Readable {
  const raw = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  if (!file.toLowerCase().endsWith('.gz')) {
    raw.setEncoding('utf8');
    return raw;
  }
  const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
  // pipe() does not forward errors; a missing file must surface from the stream we return.
  raw.on('error', (err) => gunzip.destroy(err));
  raw.pipe(gunzip);
  gunzip.setEncoding('utf8');
  return gunzip;
}

export interface TextLine {
  text: string;
  /** 1-based line number in the file. */
  line: number;
}

/** Longest line a reader accepts unless told otherwise (recipe `max_line_bytes`). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface LineReadOptions {
  /** Longest line accepted, in UTF-8 bytes without its ending (default DEFAULT_MAX_LINE_BYTES). */
  maxLineBytes?: number;
  /**
   * Called for a line over the limit, which is then skipped (its text is never held whole).
   * Without it, such a line ends the read with an InputError at file:line.
   */
  onTooLong?: (error: InputError) => void;
  /** Checked at every chunk, so a read stops promptly even inside one huge line. */
  signal?: AbortSignal;
}

/**
 * The lines of a text file, without their `\n` / `\r\n` endings and without a leading BOM, a
 * chunk's worth at a time. Memory holds one chunk plus one partial line (at most maxLineBytes).
 *
 * Linear in the file size however long a line is: the partial line is kept as a list of pieces and
 * joined once, when its end arrives; only the new chunk is searched for line breaks.
 */
export async function* readLineBatches(file: string, options: LineReadOptions = {}): AsyncGenerator<TextLine[]> {
  const maxBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const stream = openText(file);
  /** The start of the current line, from earlier chunks. */
  let pieces: string[] = [];
  let pendingBytes = 0;
  /** The current line went over the limit: drop its text up to the next line break. */
  let skipping = false;
  let line = 0;
  let first = true;
  /** Report (or throw for) the current line, and drop it up to its line break. */
  const tooLong = (bytes: number): void => {
    const err = new InputError(
      { file, line: line + 1 },
      `line longer than max_line_bytes (${maxBytes} bytes; ${bytes} read): raise the source's max_line_bytes if such rows are real`,
    );
    if (!options.onTooLong) throw err;
    options.onTooLong(err);
    skipping = true;
    pieces = [];
    pendingBytes = 0;
  };
  /** The finished line: the pieces plus `last`, without a trailing CR; undefined when over the limit. */
  const finish = (last: string): string | undefined => {
    let text = pieces.length > 0 ? (pieces.push(last), pieces.join('')) : last;
    pieces = [];
    if (text.charCodeAt(text.length - 1) === 13) text = text.slice(0, -1);
    // UTF-8 takes at most 3 bytes per UTF-16 unit: count exactly only lines that might be too long.
    const bytes = text.length * 3 <= maxBytes ? 0 : Buffer.byteLength(text);
    pendingBytes = 0;
    if (bytes > maxBytes) {
      tooLong(bytes);
      return undefined;
    }
    return text;
  };
  try {
    for await (let chunk of stream as AsyncIterable<string>) {
      options.signal?.throwIfAborted();
      if (first) {
        if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
        first = false;
      }
      let start = 0;
      const batch: TextLine[] = [];
      for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
        const text = skipping ? undefined : finish(chunk.slice(start, nl));
        skipping = false;
        line++;
        if (text !== undefined) batch.push({ text, line });
        start = nl + 1;
      }
      if (start < chunk.length && !skipping) {
        const piece = chunk.slice(start);
        pieces.push(piece);
        pendingBytes += piece.length * 3 <= maxBytes ? piece.length : Buffer.byteLength(piece);
        // +1: a CR before the line break is not part of the line.
        if (pendingBytes > maxBytes + 1) tooLong(pendingBytes);
      }
      if (batch.length) yield batch;
    }
    if (pieces.length > 0 && !skipping) {
      const text = finish('');
      line++;
      if (text !== undefined) yield [{ text, line }];
    }
  } finally {
    stream.destroy();
  }
}
