import { open, readFile, stat } from 'node:fs/promises';

/**
 * Where a sample's bytes live. Plain absolute paths are files; a member of a tar is written
 * `tar:<absolute tar path>#<offset>+<size>` (byte offset of the member's data and its length);
 * http(s) URLs are fetched by the download step, not read here.
 */
export interface TarMemberRef {
  tar: string;
  offset: number;
  size: number;
}

export function tarMemberUri(tar: string, offset: number, size: number): string {
  return `tar:${tar}#${offset}+${size}`;
}

export function parseTarMemberUri(uri: string): TarMemberRef | null {
  if (!uri.startsWith('tar:')) return null;
  const hash = uri.lastIndexOf('#');
  if (hash < 0) return null;
  const m = /^(\d+)\+(\d+)$/.exec(uri.slice(hash + 1));
  if (!m) return null;
  return { tar: uri.slice(4, hash), offset: Number(m[1]), size: Number(m[2]) };
}

export function isRemoteUri(uri: string): boolean {
  return /^(https?|s3):\/\//i.test(uri);
}

/** Size and modification time of what a location names (the containing tar for a member). */
export async function statUri(uri: string): Promise<{ size: number; mtimeMs: number }> {
  const member = parseTarMemberUri(uri);
  if (member) {
    const st = await stat(member.tar);
    return { size: member.size, mtimeMs: st.mtimeMs };
  }
  if (isRemoteUri(uri)) throw new Error(`remote location ${uri} must be downloaded first`);
  const st = await stat(uri);
  if (!st.isFile()) throw new Error(`not a regular file: ${uri}`);
  return { size: st.size, mtimeMs: st.mtimeMs };
}

/** The bytes a location names. */
export async function readUri(uri: string): Promise<Buffer> {
  const member = parseTarMemberUri(uri);
  if (member) {
    const fh = await open(member.tar, 'r');
    try {
      const buf = Buffer.alloc(member.size);
      const { bytesRead } = await fh.read(buf, 0, member.size, member.offset);
      if (bytesRead !== member.size) throw new Error(`tar member truncated: ${uri}`);
      return buf;
    } finally {
      await fh.close();
    }
  }
  if (isRemoteUri(uri)) throw new Error(`remote location ${uri} must be downloaded first`);
  return readFile(uri);
}

/** The file name part of a location, for extension checks and messages. */
export function uriBasename(uri: string): string {
  const member = parseTarMemberUri(uri);
  const p = member ? member.tar : uri;
  return p.slice(p.lastIndexOf('/') + 1);
}
