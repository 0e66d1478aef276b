/**
 * Keeps a manifest's local files inside its dataset root by their REAL path, as the folder walk
 * does (src/sources/walk.ts). A relative entry cannot name a place outside the root (manifest.ts
 * refuses `..`), but a symbolic link under the root can point anywhere on the machine: such a file
 * would be read, hashed, served by the review app and embedded in the report. So every local file a
 * record names is resolved (its folder's real path, cached, plus the link itself when it is one), and
 * refused with a reason that goes to the run's skipped.jsonl:
 *
 *   outside_root              the real path is outside the root's real path
 *   broken symbolic link      a link whose target does not exist
 *   symbolic link loop        a link that resolves to itself
 *   FIFO (named pipe), socket, device, is a directory: not a regular file (a FIFO would block the read)
 *
 * A file that does not exist at all is let through: the map phase records it as unreadable, with
 * the sample, as before.
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isRemoteUri } from '../util/uri.js';
import type { Skip, SourceRecord } from './types.js';
import { isInside } from './walk.js';

export class RootGuard {
  private realRoot: Promise<string | null> | undefined;
  private readonly dirs = new Map<string, Promise<string | null>>();

  constructor(readonly root: string) {}

  /** Why the local file at `path` may not be read, or null when it may. */
  async refuse(path: string): Promise<Skip | null> {
    const realRoot = await (this.realRoot ??= realpath(this.root).catch(() => null));
    if (realRoot === null) return null; // no root on disk: every file is missing, and said so later
    let st: Stats;
    try {
      st = await lstat(path);
    } catch {
      return null; // missing or unreadable: the map phase says so
    }
    let real: string;
    if (st.isSymbolicLink()) {
      try {
        real = await realpath(path);
        st = await stat(real);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return { path, reason: code === 'ELOOP' ? 'symbolic link loop' : 'broken symbolic link' };
      }
    } else {
      const dir = dirname(path);
      let realDir = this.dirs.get(dir);
      if (!realDir) this.dirs.set(dir, (realDir = realpath(dir).catch(() => null)));
      const d = await realDir;
      if (d === null) return null;
      real = join(d, basename(path));
    }
    if (!isInside(realRoot, real)) {
      return { path, reason: 'outside_root', detail: `real path ${real} is outside the dataset root ${realRoot}` };
    }
    if (st.isFile()) return null;
    const kind = st.isFIFO() ? 'FIFO (named pipe)' : st.isSocket() ? 'socket' : st.isDirectory() ? 'is a directory' : 'not a regular file';
    return { path, reason: kind };
  }

  /** The records whose every local file may be read; the others are reported through `onSkip`. */
  async filter(records: SourceRecord[], onSkip: ((s: Skip) => void) | undefined): Promise<SourceRecord[]> {
    const verdicts = await Promise.all(records.map((r) => this.refuseRecord(r)));
    const kept: SourceRecord[] = [];
    records.forEach((r, i) => {
      const v = verdicts[i];
      if (v) onSkip?.(v);
      else kept.push(r);
    });
    return kept;
  }

  /** The first refusal among a record's local files (a sample with one bad role is not taken). */
  async refuseRecord(record: SourceRecord): Promise<Skip | null> {
    for (const uri of Object.values(record.files)) {
      if (isRemoteUri(uri)) continue;
      const v = await this.refuse(uri);
      if (v) return { ...v, detail: [v.detail, `listed at ${record.ref}`].filter(Boolean).join('; ') };
    }
    return null;
  }
}
