import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { UsageError } from '../errors.js';

/**
 * Finding and reading WebDataset shards for validation: tar files (`.tar`, `.tar.gz`, `.tgz`) or
 * extracted shard folders (`dev_extracted/<split>/shard-000000/<key>.<ext>`). A sample is the run
 * of members sharing a key — the member name up to the first dot of its base name, folders
 * included (the webdataset grouping rule).
 */

export interface ShardRef {
  /** Absolute path of the tar file or folder. */
  path: string;
  /** For messages: the path relative to what the user named (or its base name). */
  name: string;
  kind: 'tar' | 'dir';
}

export interface ShardSample {
  key: string;
  /** Member extension (everything after the key's dot, e.g. 'input.jpg') → bytes. */
  members: Map<string, Buffer>;
  /** Extensions that occurred more than once in this sample. */
  repeated: string[];
}

const TAR = /\.(tar|tar\.gz|tgz)$/i;

/** Files that sit beside shards and are not samples (wids indexes, hidden and temporary files). */
function ignored(name: string): boolean {
  return name.startsWith('.') || name.endsWith('.index.json') || name.startsWith('_');
}

/**
 * The shards under `path`: the tar itself, or every tar below a folder (sorted); when a folder
 * holds no tars, every folder below it that directly holds member files is an extracted shard.
 * (Given both, the tars win: dev_extracted/ beside the tars is a copy of them.)
 */
export async function findShards(path: string): Promise<ShardRef[]> {
  const root = resolve(path);
  const st = await stat(root).catch(() => null);
  if (!st) throw new UsageError(`validate: ${path} does not exist`);
  if (st.isFile()) {
    if (!TAR.test(root)) throw new UsageError(`validate: ${path} is not a .tar shard or a folder of shards`);
    return [{ path: root, name: path, kind: 'tar' }];
  }
  if (!st.isDirectory()) throw new UsageError(`validate: ${path} is neither a file nor a folder`);
  const tars: ShardRef[] = [];
  const dirs: ShardRef[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let hasMembers = false;
    for (const e of entries) {
      if (ignored(e.name)) continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile() && TAR.test(e.name)) tars.push({ path: full, name: relative(root, full) || e.name, kind: 'tar' });
      else if (e.isFile() && e.name.includes('.')) hasMembers = true;
    }
    if (hasMembers) dirs.push({ path: dir, name: relative(root, dir) || path, kind: 'dir' });
  };
  await walk(root);
  const found = tars.length ? tars : dirs;
  if (found.length === 0) throw new UsageError(`validate: no shards under ${path} (expected .tar files or folders of <key>.<ext> files)`);
  return found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Key and extension of a member name: `a/b/key.input.jpg` → `a/b/key`, `input.jpg`. */
export function splitMemberName(name: string): { key: string; ext: string } | null {
  const slash = name.lastIndexOf('/');
  const base = name.slice(slash + 1);
  const dot = base.indexOf('.');
  if (dot <= 0 || dot === base.length - 1) return null;
  return { key: name.slice(0, slash + 1) + base.slice(0, dot), ext: base.slice(dot + 1) };
}

/** The samples of one shard, in order. Members without a key (no dot) are skipped. */
export function readShard(shard: ShardRef): AsyncGenerator<ShardSample> {
  return shard.kind === 'tar' ? readTar(shard.path) : readDir(shard.path);
}

async function* group(members: AsyncIterable<{ name: string; data: Buffer }>): AsyncGenerator<ShardSample> {
  let current: ShardSample | null = null;
  for await (const m of members) {
    const parts = splitMemberName(m.name);
    if (!parts) continue;
    if (current && current.key !== parts.key) {
      yield current;
      current = null;
    }
    current ??= { key: parts.key, members: new Map(), repeated: [] };
    if (current.members.has(parts.ext)) current.repeated.push(parts.ext);
    current.members.set(parts.ext, m.data);
  }
  if (current) yield current;
}

async function* tarMembers(path: string): AsyncGenerator<{ name: string; data: Buffer }> {
  const ex = extract();
  const input = createReadStream(path);
  const source = /\.(tar\.gz|tgz)$/i.test(path) ? input.pipe(createGunzip()) : input;
  source.on('error', (err: Error) => ex.destroy(err));
  source.pipe(ex as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      if (entry.header.type === 'file') yield { name: entry.header.name, data: Buffer.concat(chunks) };
    }
  } finally {
    input.destroy(); // stopped early (--max-samples): release the file
  }
}

function readTar(path: string): AsyncGenerator<ShardSample> {
  return group(tarMembers(path));
}

async function* dirMembers(dir: string): AsyncGenerator<{ name: string; data: Buffer }> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && !ignored(e.name))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) yield { name, data: await readFile(join(dir, name)) };
}

/** Sorted by name, a key's members are consecutive: names sharing the prefix `<key>.` sort together. */
function readDir(dir: string): AsyncGenerator<ShardSample> {
  return group(dirMembers(dir));
}
