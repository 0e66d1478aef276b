import { readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { InputError } from '../errors.js';
import { compareNames } from './listing.js';
import type { Skip } from './types.js';

/** What a walk passed over, so a run can say why a folder gave fewer images than files. */
export interface WalkCounts {
  /** Files whose extension is not an image extension. */
  notImages: number;
  /** Hidden files and folders (`.name`) and `__MACOSX` folders. */
  hidden: number;
  /** Symbolic links that lead out of the root, are broken, or loop. */
  linksRefused: number;
}

export function emptyCounts(): WalkCounts {
  return { notImages: 0, hidden: 0, linksRefused: 0 };
}

export interface WalkOptions {
  /** Lower-case extensions without the dot. */
  extensions: readonly string[];
  recursive: boolean;
  /** Names (files or folders) directly under the root to pass over silently, e.g. metadata files. */
  skipAtTop?: ReadonlySet<string>;
}

export interface WalkedFile {
  /** Absolute path through the root (links are not replaced by their targets). */
  full: string;
  /** Path relative to the root, with forward slashes. */
  rel: string;
}

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** Whether a real path lies inside (or is) the real root. */
export function isInside(realRoot: string, real: string): boolean {
  const rel = relative(realRoot, real);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
}

/** Throws an InputError unless `dir` is an existing folder. */
export async function requireFolder(dir: string): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch {
    throw new InputError({ file: dir }, 'source folder does not exist');
  }
  if (!st.isDirectory()) throw new InputError({ file: dir }, 'expected a folder, found a file');
}

/**
 * The image files under `root`, depth first, entries of each folder in byte-wise name order, so
 * the same tree always gives the same sequence. Symbolic links are followed only while they stay
 * inside the root (and a folder reached twice is walked once).
 */
export async function* walkImages(root: string, opts: WalkOptions, counts: WalkCounts, onSkip?: (s: Skip) => void): AsyncGenerator<WalkedFile> {
  await requireFolder(root);
  const realRoot = await realpath(root);
  const exts = new Set(opts.extensions);
  const visited = new Set<string>([realRoot]);

  async function* walk(dir: string, relDir: string): AsyncGenerator<WalkedFile> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => compareNames(a.name, b.name));
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name === '__MACOSX') {
        counts.hidden++;
        onSkip?.({ path: join(dir, e.name), reason: 'hidden file or folder' });
        continue;
      }
      if (relDir === '' && opts.skipAtTop?.has(e.name)) continue;
      const full = join(dir, e.name);
      const rel = relDir === '' ? e.name : `${relDir}/${e.name}`;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      let real: string | null = null;
      if (e.isSymbolicLink()) {
        try {
          real = await realpath(full);
          const st = await stat(real);
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch (err) {
          counts.linksRefused++;
          const code = (err as NodeJS.ErrnoException).code;
          onSkip?.({ path: full, reason: code === 'ELOOP' ? 'symbolic link loop' : 'broken symbolic link' });
          continue;
        }
        if (!isInside(realRoot, real)) {
          counts.linksRefused++;
          onSkip?.({ path: full, reason: 'symbolic link out of the dataset root' });
          continue;
        }
      }
      if (isDir) {
        if (!opts.recursive) continue;
        real ??= await realpath(full);
        if (visited.has(real)) {
          counts.linksRefused++;
          onSkip?.({ path: full, reason: 'folder reached twice (symbolic link loop)' });
          continue;
        }
        visited.add(real);
        yield* walk(full, rel);
      } else if (isFile) {
        if (exts.has(extensionOf(e.name))) yield { full, rel };
        else {
          counts.notImages++;
          onSkip?.({ path: full, reason: extensionOf(e.name) === 'svg' ? 'SVG (vector image, not supported)' : 'not an image extension' });
        }
      } else {
        onSkip?.({ path: full, reason: e.isFIFO() ? 'FIFO (named pipe)' : e.isSocket() ? 'socket' : 'not a regular file' });
      }
    }
  }

  yield* walk(root, '');
}
