import { md5Hex } from '../util/hash.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalSink, type Sink } from './sink.js';

/**
 * An export's own record of the files it wrote into a destination folder, so several exports can
 * share one folder: a rerun removes only files that this export wrote before and no longer
 * produces, never another export's files. Kept in the folder itself, at `.imgsift/<key>.json`,
 * with each file's content hash (content-hash.ts): a file that has changed since (another export or a person wrote it)
 * is left alone.
 */

export const OWNED_DIR = '.imgsift';

export interface OwnedFile {
  path: string;
  xxh128: string;
  /** The sample the file was written for (absent for per-split files). */
  sample?: string;
}

export interface OwnedIndex {
  kind: 'imgsift-owned-files-v1';
  key: string;
  /** What the export says of itself (format, role, template, run), for checks and lookups. */
  about: Record<string, unknown>;
  files: OwnedFile[];
}

/** A key usable as a file name, readable, made from an export's identity (format, role, template). */
export function ownedKey(...parts: string[]): string {
  const raw = parts.join('-');
  const clean = raw.replace(/[{}]/g, '').replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._]+/, '').slice(0, 80);
  return clean === raw ? clean : `${clean}-${md5Hex(raw).slice(0, 8)}`;
}

export function ownedIndexPath(key: string): string {
  return `${OWNED_DIR}/${key}.json`;
}

/** The index the export under `key` wrote last time (undefined when none or unreadable). */
export async function readOwned(sink: Sink, key: string): Promise<OwnedIndex | undefined> {
  return readIndexAt(sink, ownedIndexPath(key));
}

async function readIndexAt(sink: Sink, path: string): Promise<OwnedIndex | undefined> {
  let raw: Buffer | undefined;
  try {
    raw = await sink.get(path);
    if (!raw) return undefined;
    const doc = JSON.parse(raw.toString('utf8')) as Partial<OwnedIndex>;
    if (doc.kind !== 'imgsift-owned-files-v1' || typeof doc.key !== 'string') return undefined;
    const files = Array.isArray(doc.files)
      // Records imgsift wrote before it hashed with xxh128 carry an md5 or a sha256 instead: their
      // files cannot be checked, so they are not counted as owned (a rerun leaves them where they are).
      ? doc.files.filter((f): f is OwnedFile => !!f && typeof f.path === 'string' && typeof f.xxh128 === 'string')
      : [];
    const about = doc.about && typeof doc.about === 'object' ? doc.about : {};
    return { kind: doc.kind, key: doc.key, about, files };
  } catch {
    return undefined;
  }
}

/** Every export index in the folder (to find, say, where a files export put a role). */
export async function listOwned(sink: Sink): Promise<OwnedIndex[]> {
  const out: OwnedIndex[] = [];
  for (const p of await indexPaths(sink)) {
    if (!p.endsWith('.json') || p.indexOf('/', OWNED_DIR.length + 1) >= 0) continue;
    const doc = await readIndexAt(sink, p);
    if (doc) out.push(doc);
  }
  return out;
}

/**
 * Record `files` as what the export under `key` owns now, and remove what it owned before and
 * did not write this time (when still unchanged). Returns how many files were removed.
 */
export async function commitOwned(
  sink: Sink,
  key: string,
  files: OwnedFile[],
  about: Record<string, unknown> = {},
): Promise<number> {
  const previous = (await readOwned(sink, key))?.files ?? [];
  const now = new Set(files.map((f) => f.path));
  let removed = 0;
  for (const old of previous) {
    if (now.has(old.path)) continue;
    if (old.path.startsWith('/') || old.path.split('/').some((s) => s === '..' || s === '') || old.path.startsWith(`${OWNED_DIR}/`)) continue;
    const st = await sink.stat(old.path).catch(() => undefined);
    if (!st || (st.xxh128 !== undefined && st.xxh128 !== old.xxh128)) continue; // gone, or no longer ours
    await sink.remove(old.path);
    removed++;
  }
  // Byte order of UTF-8 (file-export's compareIds, not imported: that module imports this one).
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const doc: OwnedIndex = { kind: 'imgsift-owned-files-v1', key, about, files: sorted };
  await sink.put(ownedIndexPath(key), JSON.stringify(doc, null, 1) + '\n');
  return removed;
}

/** Paths of the records; a local folder reads `.imgsift/` alone rather than walking everything. */
async function indexPaths(sink: Sink): Promise<string[]> {
  if (!(sink instanceof LocalSink)) return sink.list(`${OWNED_DIR}/`);
  const names = await readdir(join(sink.root, OWNED_DIR)).catch(() => [] as string[]);
  return names.sort().map((n) => `${OWNED_DIR}/${n}`);
}
