/**
 * Progress and log output for long work. Three modes:
 *  - 'tty':   a live bar on stderr with count, rate and ETA, redrawn in place;
 *  - 'plain': a line every few seconds (CI logs, pipes);
 *  - 'json':  one JSON object per line on stderr, for machines;
 *  - 'quiet': nothing but warnings and errors.
 */
export type ReporterMode = 'tty' | 'plain' | 'json' | 'quiet';

export interface ReporterOptions {
  mode?: ReporterMode;
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Seconds between plain progress lines. */
  interval?: number;
}

export class Reporter {
  readonly mode: ReporterMode;
  private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly interval: number;

  constructor(options: ReporterOptions = {}) {
    this.out = options.stream ?? process.stderr;
    this.mode = options.mode ?? (this.out.isTTY ? 'tty' : 'plain');
    this.interval = options.interval ?? 5;
  }

  info(message: string, fields: Record<string, unknown> = {}): void {
    if (this.mode === 'quiet') return;
    this.emit('info', message, fields);
  }

  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.emit('warn', message, fields);
  }

  /** Start a progress counter. `total` may be unknown (streaming sources). */
  progress(label: string, total?: number): Progress {
    return new Progress(this, label, total);
  }

  /** @internal */
  emit(level: string, message: string, fields: Record<string, unknown>): void {
    if (this.mode === 'json') {
      this.out.write(JSON.stringify({ t: new Date().toISOString(), level, msg: message, ...fields }) + '\n');
      return;
    }
    this.clearLine();
    const prefix = level === 'warn' ? 'warning: ' : '';
    this.out.write(prefix + message + '\n');
  }

  /** @internal */
  write(text: string): void {
    this.out.write(text);
  }

  /** @internal */
  get columns(): number {
    return this.out.columns ?? 100;
  }

  private barShown = false;
  /** @internal */
  setBarShown(shown: boolean): void {
    this.barShown = shown;
  }
  private clearLine(): void {
    if (this.mode === 'tty' && this.barShown) {
      this.out.write('\r\x1b[2K');
      this.barShown = false;
    }
  }
}

export class Progress {
  private done = 0;
  private failed = 0;
  private readonly started = Date.now();
  /** Plain and JSON lines start one interval after the start; the TTY bar draws at once. */
  private lastDraw = Date.now();
  private finished = false;

  constructor(
    private readonly reporter: Reporter,
    readonly label: string,
    private total?: number,
  ) {
    this.draw(true);
  }

  setTotal(total: number): void {
    this.total = total;
  }

  /** Count `n` finished items (`failed` of them failed). */
  tick(n = 1, failed = 0): void {
    this.done += n;
    this.failed += failed;
    this.draw(false);
  }

  get count(): number {
    return this.done;
  }

  finish(extra: Record<string, unknown> = {}): void {
    if (this.finished) return;
    this.finished = true;
    const secs = (Date.now() - this.started) / 1000;
    const r = this.reporter;
    if (r.mode === 'quiet') return;
    if (r.mode === 'tty') {
      r.write('\r\x1b[2K');
      r.setBarShown(false);
    }
    const rate = secs > 0 ? this.done / secs : 0;
    const failedText = this.failed ? `, ${this.failed} failed` : '';
    r.emit('info', `${this.label}: ${this.done}${failedText} in ${fmtSecs(secs)} (${fmtRate(rate)}/s)`, {
      event: 'progress_done', label: this.label, done: this.done, failed: this.failed, seconds: round(secs), ...extra,
    });
  }

  private draw(force: boolean): void {
    const r = this.reporter;
    if (r.mode === 'quiet' || this.finished) return;
    const now = Date.now();
    const minGap = r.mode === 'tty' ? 100 : r.interval * 1000;
    if (force ? r.mode !== 'tty' : now - this.lastDraw < minGap) return;
    this.lastDraw = now;
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const eta = this.total && rate > 0 ? (this.total - this.done) / rate : undefined;
    if (r.mode === 'json') {
      r.emit('info', 'progress', {
        event: 'progress', label: this.label, done: this.done, total: this.total ?? null, failed: this.failed,
        rate: round(rate), eta_s: eta === undefined ? null : round(eta),
      });
      return;
    }
    const count = this.total !== undefined ? `${this.done}/${this.total}` : `${this.done}`;
    const failedText = this.failed ? ` ${this.failed} failed` : '';
    const tail = ` ${count}${failedText} ${fmtRate(rate)}/s${eta !== undefined ? ` ETA ${fmtSecs(eta)}` : ''}`;
    if (r.mode === 'plain') {
      r.write(`${this.label}:${tail}\n`);
      return;
    }
    const width = Math.max(10, Math.min(40, r.columns - this.label.length - tail.length - 4));
    let bar = '';
    if (this.total) {
      const filled = Math.round((Math.min(this.done, this.total) / this.total) * width);
      bar = ' [' + '#'.repeat(filled) + '-'.repeat(width - filled) + ']';
    }
    r.write(`\r\x1b[2K${this.label}${bar}${tail}`);
    r.setBarShown(true);
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

export function fmtRate(rate: number): string {
  return rate >= 100 ? rate.toFixed(0) : rate.toFixed(1);
}

export function fmtSecs(secs: number): string {
  if (!Number.isFinite(secs)) return '?';
  if (secs < 60) return `${secs.toFixed(1)}s`;
  const m = Math.floor(secs / 60);
  const s = Math.round(secs % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
