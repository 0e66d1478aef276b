/**
 * A deterministic USTAR writer: every header carries the same mtime, owner and mode, so the same
 * entries in the same order always give the same bytes (the layout tar-stream's `pack` writes). Names must
 * fit plain USTAR (ASCII; ≤ 100 bytes, or split at a '/' into a ≤ 155-byte prefix and a ≤ 100-byte
 * name) — tar-stream would otherwise fall back to a PAX header, which we refuse rather than emit.
 */

/** The mtime of every entry: the Unix epoch, so output does not depend on when it was written. */
export const TAR_MTIME = new Date(0);
export const TAR_MODE = 0o644;

const BLOCK = 512;

/** Bytes of the end-of-archive marker (two zero blocks). */
export const TAR_END_BYTES = 2 * BLOCK;

const SIMPLE_NAME = /^[\w.-]+$/;

/** Why `name` cannot be a USTAR member name, or null when it can. */
export function ustarNameProblem(name: string): string | null {
  // The common case (a webdataset member `<key>.<ext>`): one short path segment of safe characters.
  if (name.length <= 100 && SIMPLE_NAME.test(name) && name !== '..') return null;
  if (name.length === 0) return 'tar member name is empty';
  if (!/^[\x20-\x7e]+$/.test(name)) return `tar member name ${JSON.stringify(name)} must be printable ASCII`;
  if (name.startsWith('/') || name.split('/').includes('..')) {
    return `tar member name ${JSON.stringify(name)} must be relative and not contain '..'`;
  }
  if (name.length > 255) return `tar member name ${JSON.stringify(name)} is ${name.length} bytes; USTAR allows at most 255`;
  if (name.length <= 100) return null;
  // Same split rule as tar-stream: move leading directories into the prefix until the rest fits.
  let rest = name;
  let prefix = '';
  while (rest.length > 100) {
    const i = rest.indexOf('/');
    if (i < 0) break;
    prefix += (prefix ? '/' : '') + rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  if (rest.length > 100 || prefix.length > 155) {
    return `tar member name ${JSON.stringify(name)} cannot be split into a USTAR prefix (≤ 155 bytes) and name (≤ 100 bytes) at a '/'`;
  }
  return null;
}

/** Bytes a member of `size` bytes takes in the archive: one header block plus padded data. */
export function tarEntryBytes(size: number): number {
  return BLOCK + Math.ceil(size / BLOCK) * BLOCK;
}


/**
 * Our fixed header fields (mode, owner, mtime, type, magic, device numbers; name, size and
 * checksum vary), and their checksum with the checksum field counted as eight spaces.
 */
export interface UstarTemplate {
  bytes: Uint8Array;
  sum: number;
}

export const USTAR_TEMPLATE: UstarTemplate = (() => {
  const h = new Uint8Array(BLOCK);
  const octal = (at: number, value: number, digits: number) => {
    for (const [i, c] of [...value.toString(8).padStart(digits, '0'), ' '].entries()) h[at + i] = c.charCodeAt(0);
  };
  octal(100, TAR_MODE, 6);
  octal(108, 0, 6); // uid
  octal(116, 0, 6); // gid
  octal(136, Math.floor(TAR_MTIME.getTime() / 1000), 11);
  h[156] = 0x30; // '0': regular file
  h.set(Buffer.from('ustar\x0000', 'latin1'), 257); // magic "ustar\0", version "00"
  octal(329, 0, 6); // devmajor
  octal(337, 0, 6); // devminor
  return { bytes: h, sum: h.reduce((s, b, i) => (i >= 148 && i < 156 ? s : s + b), 8 * 0x20) };
})();

/**
 * The 512-byte USTAR header of a regular file member with our fixed fields (mode 0644, uid/gid 0,
 * mtime 0, no owner names), byte for byte what tar-stream writes for them (test/export/tar.test.ts
 * compares the two). Throws when the member does not fit USTAR.
 */
export function ustarHeader(name: string, size: number): Buffer {
  checkUstarMember(name, size);
  const h = Buffer.allocUnsafe(BLOCK);
  fillUstarHeader(h, 0, USTAR_TEMPLATE, name, size);
  return h;
}

/** Largest member size USTAR's 11 octal digits hold (8 GiB - 1). */
const MAX_USTAR_SIZE = 8 ** 11 - 1;

/** Throws when a member `name` of `size` bytes cannot have a plain USTAR header. */
export function checkUstarMember(name: string, size: number): void {
  const problem = ustarNameProblem(name);
  if (problem) throw new Error(problem);
  if (size > MAX_USTAR_SIZE) throw new Error(`tar member ${JSON.stringify(name)} is ${size} bytes; USTAR allows at most ${MAX_USTAR_SIZE}`);
}

/**
 * Write the header of a member already checked (checkUstarMember) into `buf` at `at`: the
 * template, then name (split at a '/' into prefix and name when longer than 100 bytes), size and
 * checksum. Self-contained — the tar packing workers run its source (tar-pack-lane.ts) — and
 * byte by byte: names are ASCII, and a native Buffer#write per field costs more than the loop.
 */
export function fillUstarHeader(buf: Uint8Array, at: number, template: UstarTemplate, name: string, size: number): void {
  /** `value` in octal, zero-padded to `digits`, then a space (tar-stream's and GNU tar's layout); the sum of the bytes. */
  const octal = (offset: number, value: number, digits: number) => {
    let sum = 0x20;
    for (let i = digits - 1; i >= 0; i--) {
      const b = 0x30 + (value % 8);
      buf[offset + i] = b;
      sum += b;
      value = Math.floor(value / 8);
    }
    buf[offset + digits] = 0x20;
    return sum;
  };
  let rest = name;
  let prefix = '';
  while (rest.length > 100) {
    const i = rest.indexOf('/');
    prefix += (prefix ? '/' : '') + rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  buf.set(template.bytes, at);
  let sum = template.sum;
  for (let i = 0; i < rest.length; i++) sum += buf[at + i] = rest.charCodeAt(i);
  for (let i = 0; i < prefix.length; i++) sum += buf[at + 345 + i] = prefix.charCodeAt(i);
  sum += octal(at + 124, size, 11); // the template's size field is zeros: it adds nothing
  octal(at + 148, sum, 6);
}

/** Zeros for padding a member to a whole block, and for the end-of-archive marker. */
const ZEROS = Buffer.alloc(TAR_END_BYTES);

/** The pieces of one member in the archive: header, data, zero padding to a whole block. */
export function tarMemberPieces(name: string, data: Uint8Array): Uint8Array[] {
  const pad = (BLOCK - (data.byteLength % BLOCK)) % BLOCK;
  return pad ? [ustarHeader(name, data.byteLength), data, ZEROS.subarray(0, pad)] : [ustarHeader(name, data.byteLength), data];
}

/** The end-of-archive marker. */
export function tarEnd(): Uint8Array {
  return ZEROS;
}

export interface TarEntry {
  name: string;
  data: Uint8Array;
}

/** A whole archive in memory (small archives and tests). */
export async function tarBuffer(entries: Iterable<TarEntry>): Promise<Buffer> {
  const pieces: Uint8Array[] = [];
  for (const e of entries) pieces.push(...tarMemberPieces(e.name, e.data));
  pieces.push(tarEnd());
  return Buffer.concat(pieces);
}
