import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';

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

/**
 * The lines of a text file, without their `\n` / `\r\n` endings and without a leading BOM, a
 * chunk's worth at a time. Memory holds one chunk plus one partial line.
 */
export async function* readLineBatches(file: string): AsyncGenerator<TextLine[]> {
  const stream = openText(file);
  let rest = '';
  let line = 0;
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      let s = rest + chunk;
      if (first) {
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
        first = false;
      }
      let start = 0;
      const batch: TextLine[] = [];
      for (let nl = s.indexOf('\n', start); nl >= 0; nl = s.indexOf('\n', start)) {
        const end = nl > start && s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        batch.push({ text: s.slice(start, end), line: ++line });
        start = nl + 1;
      }
      rest = s.slice(start);
      if (batch.length) yield batch;
    }
    if (rest.length > 0) {
      yield [{ text: rest.endsWith('\r') ? rest.slice(0, -1) : rest, line: ++line }];
    }
  } finally {
    stream.destroy();
  }
}
