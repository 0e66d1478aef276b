import type { FileHandle } from 'node:fs/promises';

/**
 * Listing the members of a tar file from its 512-byte headers alone, seeking past member data, so
 * indexing a shard of large images reads a few kilobytes. Handles POSIX ustar (name prefix), pax
 * extended headers (`path=`, `size=`) and GNU long names (`L`).
 */

export const BLOCK = 512;

/** A regular file inside a tar. */
export interface TarMember {
  name: string;
  /** Byte offset of the member's header in the tar. */
  headerOffset: number;
  /** Byte offset of the member's data. */
  dataOffset: number;
  size: number;
}

/** The tar is damaged at `offset`; members before it were read correctly. */
export class TarFormatError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'TarFormatError';
  }
}

/** Extension headers and long names are small; a huge one means garbage. */
const MAX_EXTENSION_BYTES = 1 << 20;
/**
 * Reads are served from a small window: big enough that the headers and small text members of a
 * sample usually come in one read, small enough that skipping an image does not read it.
 */
const WINDOW = 16 * 1024;

/** Positional reads through a small window of the file. */
export class WindowReader {
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;
  constructor(private readonly fh: FileHandle) {}

  /** Up to `length` bytes at `offset` (fewer at the end of the file). The view stays valid. */
  async read(offset: number, length: number): Promise<Buffer> {
    if (offset >= this.start && offset + length <= this.start + this.buf.length) {
      return this.buf.subarray(offset - this.start, offset - this.start + length);
    }
    const size = Math.max(WINDOW, length);
    const b = Buffer.allocUnsafe(size);
    const { bytesRead } = await this.fh.read(b, 0, size, offset);
    this.buf = b.subarray(0, bytesRead);
    this.start = offset;
    return this.buf.subarray(0, Math.min(length, bytesRead));
  }
}

/** A numeric header field: octal text, or base-256 when the high bit of the first byte is set. */
function numberField(h: Buffer, off: number, len: number): number | null {
  if (h[off] & 0x80) {
    let v = h[off] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + h[off + i];
    return v;
  }
  const s = h.toString('latin1', off, off + len).replace(/\0.*$/s, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return null;
  return parseInt(s, 8);
}

function textField(h: Buffer, off: number, len: number): string {
  const end = h.indexOf(0, off);
  return h.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

function checksumOk(h: Buffer): boolean {
  const stored = numberField(h, 148, 8);
  if (stored === null) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 32 : h[i];
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function isZeroBlock(h: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

/** pax records: `<length> <key>=<value>\n`, the length counting the whole record. */
export function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number(data.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length) break;
    const record = data.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;

/**
 * The regular-file members of a tar, in archive order. Directories, links and extension headers
 * are consumed, not returned. Throws TarFormatError at the first damaged header (bad checksum,
 * bad number) or when the file ends inside a member.
 */
export async function* tarMembers(reader: WindowReader, fileSize: number): AsyncGenerator<TarMember> {
  let offset = 0;
  let longName: string | null = null;
  let pax: Map<string, string> | null = null;

  while (offset < fileSize) {
    const h = await reader.read(offset, BLOCK);
    if (h.length < BLOCK) throw new TarFormatError(`truncated header (${h.length} of ${BLOCK} bytes)`, offset);
    if (isZeroBlock(h)) return; // end-of-archive marker
    if (!checksumOk(h)) throw new TarFormatError('header checksum mismatch (not a tar, or damaged)', offset);
    const headerSize = numberField(h, 124, 12);
    if (headerSize === null) throw new TarFormatError('unreadable size field', offset);
    const type = String.fromCharCode(h[156] || 48); // NUL means a regular file
    const size = type !== 'x' && pax?.has('size') ? Number(pax.get('size')) : headerSize;
    if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`bad member size ${pax?.get('size')}`, offset);
    const dataOffset = offset + BLOCK;
    if (dataOffset + size > fileSize) {
      throw new TarFormatError(`member data runs past the end of the file (${size} bytes at ${dataOffset}, file is ${fileSize})`, offset);
    }
    const next = dataOffset + padded(size);

    if (type === 'x' || type === 'L') {
      if (size > MAX_EXTENSION_BYTES) throw new TarFormatError(`extension header of ${size} bytes`, offset);
      const data = await reader.read(dataOffset, size);
      if (type === 'x') pax = parsePax(data);
      else longName = textField(data, 0, data.length);
      offset = next;
      continue;
    }
    if (type === 'g' || type === 'K') {
      offset = next; // global pax defaults and long link names do not name the next file
      continue;
    }

    let name = textField(h, 0, 100);
    if (h.toString('latin1', 257, 263) === 'ustar\0') {
      const prefix = textField(h, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    if (longName !== null) name = longName;
    if (pax?.has('path')) name = pax.get('path')!;
    longName = null;
    pax = null;

    if (type === '0' || type === '7') yield { name, headerOffset: offset, dataOffset, size };
    offset = next;
  }
}
