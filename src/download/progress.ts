import { fmtRate, fmtSecs, type Reporter } from '../exec/reporter.js';
import type { DownloadStatus } from './types.js';

/**
 * The download progress line: samples done of total, successes and failures, samples/s, MB/s and
 * ETA. It follows the reporter's mode: a bar redrawn in place on a TTY, a line every few seconds
 * in logs, JSON objects with --json, nothing with --quiet.
 */
export class DownloadProgress {
  private readonly counts: Record<DownloadStatus, number> = { success: 0, failed_to_download: 0, failed_to_decode: 0, skipped: 0 };
  private done = 0;
  private bytes = 0;
  private readonly started = Date.now();
  private lastDraw = Date.now();
  private finished = false;

  constructor(
    private readonly reporter: Reporter,
    private readonly total: number,
    private readonly label = 'download',
  ) {}

  /** One sample finished with `status`, after receiving `bytes`. */
  tick(status: DownloadStatus, bytes: number): void {
    this.done++;
    this.counts[status]++;
    this.bytes += bytes;
    this.draw();
  }

  get received(): number {
    return this.bytes;
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const r = this.reporter;
    if (r.mode === 'quiet') return;
    if (r.mode === 'tty') {
      r.write('\r\x1b[2K');
      r.setBarShown(false);
    }
    const s = this.figures();
    r.emit('info', `${this.label}: ${this.done} samples in ${fmtSecs(s.secs)}: ${this.countText()} (${fmtRate(s.rate)}/s, ${s.mbps.toFixed(1)} MB/s)`, {
      event: 'progress_done', label: this.label, done: this.done, ...this.counts, bytes: this.bytes, seconds: round(s.secs),
    });
  }

  private figures() {
    const secs = (Date.now() - this.started) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const mbps = secs > 0 ? this.bytes / 1e6 / secs : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : undefined;
    return { secs, rate, mbps, eta };
  }

  private countText(): string {
    const failed = this.counts.failed_to_download + this.counts.failed_to_decode;
    return `${this.counts.success} ok, ${failed} failed` + (this.counts.skipped ? `, ${this.counts.skipped} skipped` : '');
  }

  private draw(): void {
    const r = this.reporter;
    if (r.mode === 'quiet' || this.finished) return;
    const now = Date.now();
    const gap = r.mode === 'tty' ? 100 : r.interval * 1000;
    if (now - this.lastDraw < gap && this.done < this.total) return;
    this.lastDraw = now;
    const s = this.figures();
    if (r.mode === 'json') {
      r.emit('info', 'progress', {
        event: 'progress', label: this.label, done: this.done, total: this.total, ...this.counts, bytes: this.bytes,
        rate: round(s.rate), mb_per_s: round(s.mbps), eta_s: s.eta === undefined ? null : round(s.eta),
      });
      return;
    }
    const tail =
      ` ${this.done}/${this.total} ${this.countText()} ${fmtRate(s.rate)}/s ${s.mbps.toFixed(1)} MB/s` +
      (s.eta !== undefined ? ` ETA ${fmtSecs(s.eta)}` : '');
    if (r.mode === 'plain') {
      r.write(`${this.label}:${tail}\n`);
      return;
    }
    const width = Math.max(10, Math.min(40, r.columns - this.label.length - tail.length - 4));
    const filled = this.total ? Math.round((Math.min(this.done, this.total) / this.total) * width) : 0;
    r.write(`\r\x1b[2K${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${tail}`);
    r.setBarShown(true);
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
