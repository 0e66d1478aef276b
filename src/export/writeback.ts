import { open, type FileHandle } from 'node:fs/promises';

/**
 * Keeps a file's writeback to disk going while the file is still being written. A local export
 * syncs each file before renaming it into place; left to that sync, the disk idles while a shard
 * is packed and then writes the whole shard at once, and the export ends waiting on the last
 * shards' syncs. Told how many bytes were written, this calls fdatasync (on a libuv thread,
 * through its own descriptor) once `min` bytes are written, and again as soon as one ends with
 * `min` more written since it began: the disk takes the file in as it grows, in writes as large
 * as it falls behind, and the final sync has only the tail left. (Every 32 MB instead left the
 * disk idle for the first 0.15 s of an export whose first shards were smaller.)
 *
 * A failed writeback fails the file: Linux reports a write error to a sync only once, so the
 * final sync (on a descriptor opened later) might not see it. `close` rethrows it.
 */
export class Writeback {
  /** Bytes written before a writeback starts: a long write for the disk, a small fraction of a shard. */
  static readonly MIN = 4 << 20;

  private fh: Promise<FileHandle> | null = null;
  private running: Promise<void> | null = null;
  private since = 0;
  private error: unknown = null;
  private closed = false;
  /** Writebacks finished. */
  done = 0;

  constructor(
    private readonly file: string,
    private readonly min = Writeback.MIN,
  ) {}

  /** `bytes` more of the file are written. */
  wrote(bytes: number): void {
    this.since += bytes;
    this.next();
  }

  /** Start a writeback when none is under way and enough was written since the last began. */
  private next(): void {
    if (this.since < this.min || this.running || this.error || this.closed) return;
    this.since = 0;
    this.running = this.sync().finally(() => {
      this.running = null;
      this.next();
    });
  }

  private async sync(): Promise<void> {
    try {
      this.fh ??= open(this.file, 'r');
      await (await this.fh).datasync();
      this.done++;
    } catch (err) {
      this.error = err;
    }
  }

  /** Wait for a writeback under way and let go of the file; throws what a writeback met. */
  async close(): Promise<void> {
    this.closed = true;
    await this.running;
    const fh = await this.fh?.catch(() => null);
    await fh?.close();
    if (this.error) throw this.error;
  }
}
