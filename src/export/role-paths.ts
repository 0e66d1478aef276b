import { isAbsolute, relative, resolve, sep } from 'node:path';
import { listOwned, type OwnedIndex } from './owned-files.js';
import type { RolePath, ViewSample } from './sample-view.js';
import { LocalSink, type Sink } from './sink.js';

/**
 * Where a record (manifest line, grouped_json member) says a sample's file of a role is, as a path
 * relative to the export folder: the path a `files` export wrote it to in this folder (read from
 * that export's `.imgsift/` record, so run the files export first); else, with `relativeTo` (a
 * local folder), the path a files export wrote it to there, or the stored file relative to it;
 * else the stored file relative to the export folder when it lies inside it, else the stored
 * location as it is. Null when the sample has no such file.
 */
export async function rolePaths(sink: Sink, relativeTo?: string): Promise<RolePath> {
  const here = await writtenByFilesExports(sink);
  // Files exported into the `relative_to` folder are named as that export wrote them.
  const there = relativeTo !== undefined ? await writtenByFilesExports(new LocalSink(relativeTo, relativeTo)) : new Map<string, Map<string, string>>();
  const root = sink instanceof LocalSink ? sink.root : null;
  return (s: ViewSample, role: string) => {
    const exported = here.get(role)?.get(s.id) ?? there.get(role)?.get(s.id);
    if (exported !== undefined) return exported;
    const file = s.files.get(role);
    if (!file) return null;
    if (!isAbsolute(file.uri)) return file.uri; // tar members, remote locations
    if (relativeTo !== undefined) return relative(relativeTo, file.uri).split(sep).join('/');
    if (root !== null) {
      const rel = relative(root, resolve(file.uri));
      if (rel && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
    }
    return file.uri;
  };
}

/** Role → sample id → path, from the files exports recorded in a folder. */
async function writtenByFilesExports(sink: Sink): Promise<Map<string, Map<string, string>>> {
  const written = new Map<string, Map<string, string>>();
  // A default-named export (files-<role>) wins over other exports of the same role.
  const indexes = (await listOwned(sink))
    .filter((i) => i.about.format === 'files' && typeof i.about.role === 'string')
    .sort((a, b) => Number(isDefault(b)) - Number(isDefault(a)));
  for (const idx of indexes) {
    const role = idx.about.role as string;
    let m = written.get(role);
    if (!m) written.set(role, (m = new Map()));
    for (const f of idx.files) if (f.sample !== undefined && !m.has(f.sample)) m.set(f.sample, f.path);
  }
  return written;
}

function isDefault(idx: OwnedIndex): boolean {
  return idx.key === `files-${String(idx.about.role)}`;
}
