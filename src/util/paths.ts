import { isAbsolute, resolve, relative, sep } from 'node:path';

/**
 * Resolve a path named inside a dataset (a manifest row, a tar member) against the dataset root,
 * refusing anything that escapes it: absolute paths, `..` segments that climb out, NUL bytes.
 * Returns null when the path is refused.
 */
export function resolveInside(root: string, name: string): string | null {
  if (name.length === 0 || name.includes('\0')) return null;
  if (isAbsolute(name) || /^[a-zA-Z]:[\\/]/.test(name) || name.startsWith('\\')) return null;
  const full = resolve(root, name);
  const rel = relative(resolve(root), full);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return null;
  return full;
}

/** A path relative to `root` with forward slashes, for ids and manifests. */
export function toPosixRelative(root: string, full: string): string {
  return relative(root, full).split(sep).join('/');
}
