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
 *
 * The checks are synchronous system calls: one lstat per file (folders are resolved once), a few
 * microseconds, where a promise per file through libuv's thread pool cost ~100 µs a row.
 */
import { lstatSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isRemoteUri } from '../util/uri.js';
import type { Skip, SourceRecord } from './types.js';
import { isInside } from './walk.js';

/** A path's real path, or null when it cannot be resolved. */
function realOrNull(path: string): string | null {
  try {
    return realpathSync.native(path);
  } catch {
    return null;
  }
}

export class RootGuard {
  private realRoot: string | null | undefined;
  private readonly dirs = new Map<string, string | null>();

  constructor(readonly root: string) {}

  /** Why the local file at `path` may not be read, or null when it may. */
  refuse(path: string): Skip | null {
    if (this.realRoot === undefined) this.realRoot = realOrNull(this.root);
    const realRoot = this.realRoot;
    if (realRoot === null) return null; // no root on disk: every file is missing, and said so later
    const linked = lstatSync(path, { throwIfNoEntry: false });
    if (!linked) return null; // missing: the map phase says so
    let st: Stats = linked;
    let real: string;
    if (linked.isSymbolicLink()) {
      try {
        real = realpathSync.native(path);
        st = statSync(real);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return { path, reason: code === 'ELOOP' ? 'symbolic link loop' : 'broken symbolic link' };
      }
    } else {
      const dir = dirname(path);
      let d = this.dirs.get(dir);
      if (d === undefined) this.dirs.set(dir, (d = realOrNull(dir)));
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
  filter(records: SourceRecord[], onSkip: ((s: Skip) => void) | undefined): SourceRecord[] {
    const kept: SourceRecord[] = [];
    for (const r of records) {
      const v = this.refuseRecord(r);
      if (v) onSkip?.(v);
      else kept.push(r);
    }
    return kept;
  }

  /** The first refusal among a record's local files (a sample with one bad role is not taken). */
  refuseRecord(record: SourceRecord): Skip | null {
    for (const uri of Object.values(record.files)) {
      if (isRemoteUri(uri)) continue;
      const v = this.refuse(uri);
      if (v) return { ...v, detail: [v.detail, `listed at ${record.ref}`].filter(Boolean).join('; ') };
    }
    return null;
  }
}
