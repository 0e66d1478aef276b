import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.js';

/** Byte-wise order (not locale order), so every machine lists files the same way. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Expand webdataset-style brace patterns: `{000..099}` (zero padding kept) and `{a,b}`.
 * Several braces multiply out, in order.
 */
export function expandBraces(pattern: string): string[] {
  const m = /\{([^{}]*)\}/.exec(pattern);
  if (!m) return [pattern];
  const head = pattern.slice(0, m.index);
  const tail = pattern.slice(m.index + m[0].length);
  let parts: string[];
  const range = /^(\d+)\.\.(\d+)$/.exec(m[1]);
  if (range) {
    const [a, b] = [range[1], range[2]];
    const from = Number(a), to = Number(b);
    const width = a.startsWith('0') || b.startsWith('0') ? Math.max(a.length, b.length) : 0;
    parts = [];
    const step = from <= to ? 1 : -1;
    for (let i = from; step > 0 ? i <= to : i >= to; i += step) parts.push(String(i).padStart(width, '0'));
  } else {
    parts = m[1].split(',');
  }
  return parts.flatMap((p) => expandBraces(head + p + tail));
}

function wildcardRegex(name: string): RegExp {
  const body = name.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

async function kindOf(path: string): Promise<'file' | 'dir' | null> {
  try {
    const st = await stat(path);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : null;
  } catch {
    return null;
  }
}

/**
 * The files a source `path` names: the file itself; the files of a folder whose names end with one
 * of `suffixes` (not recursive, hidden files skipped); or, for a pattern (`{000..009}` braces, `*`
 * and `?` in the last segment), every match. Sorted byte-wise; throws when nothing is found.
 */
export async function listInputFiles(path: string, suffixes: readonly string[]): Promise<string[]> {
  const matches = (name: string) => !name.startsWith('.') && suffixes.some((s) => name.toLowerCase().endsWith(s));
  const isPattern = /[{*?]/.test(path);
  if (!isPattern) {
    const kind = await kindOf(path);
    if (kind === 'file') return [path];
    if (kind === null) throw new InputError({ file: path }, 'source path does not exist');
    const names = (await readdir(path)).filter(matches).sort(compareNames);
    if (names.length === 0) throw new InputError({ file: path }, `folder holds no ${suffixes.join(' / ')} files`);
    return names.map((n) => join(path, n));
  }
  const out = new Set<string>();
  for (const candidate of expandBraces(path)) {
    const name = basename(candidate);
    if (!/[*?]/.test(name)) {
      if ((await kindOf(candidate)) !== 'file') throw new InputError({ file: candidate }, `no such file (from pattern ${path})`);
      out.add(candidate);
      continue;
    }
    const dir = dirname(candidate);
    if ((await kindOf(dir)) !== 'dir') throw new InputError({ file: dir }, `folder does not exist (from pattern ${path})`);
    const re = wildcardRegex(name);
    for (const n of await readdir(dir)) if (re.test(n) && !n.startsWith('.')) out.add(join(dir, n));
  }
  if (out.size === 0) throw new InputError({ file: path }, 'pattern matches no files');
  return [...out].sort(compareNames);
}
