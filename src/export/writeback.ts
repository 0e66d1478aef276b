import { open, type FileHandle } from 'node:fs/promises';

/**
 * Starts a file's writeback to disk while the file is still being written, a step behind the
 * writer. A local export syncs each file before renaming it into place; left to that sync, the
 * disk idles while a shard is packed and then writes the whole shard at once, and the export
 * ends waiting on the last shards' syncs. Told how many bytes were written, this calls fdatasync
 * (on a libuv thread, through its own descriptor) every `every` bytes, one at a time, so the disk
 * works alongside the packing and the final sync has only the tail left.
 *
 * A failed writeback fails the file: Linux reports a write error to a sync only once, so the
 * final sync (on a descriptor opened later) might not see it. `close` rethrows it.
 */
export class Writeback {
  /** Bytes between writebacks by default: a few per shard of the usual size, each a long write for the disk. */
  static readonly EVERY = 32 << 20;

  private fh: Promise<FileHandle> | null = null;
  private running: Promise<void> | null = null;
  private since = 0;
  private error: unknown = null;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly every = Writeback.EVERY,
  ) {}

  /** `bytes` more of the file are written. */
  wrote(bytes: number): void {
    this.since += bytes;
    if (this.since < this.every || this.running || this.error || this.closed) return;
    this.since = 0;
    this.running = this.sync().finally(() => {
      this.running = null;
    });
  }

  private async sync(): Promise<void> {
    try {
      this.fh ??= open(this.file, 'r');
      await (await this.fh).datasync();
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
