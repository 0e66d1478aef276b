/** A counting semaphore: at most `limit` holders at once, waiters served in arrival order. */
export class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(readonly limit: number) {}

  get idle(): boolean {
    return this.active === 0 && this.waiters.length === 0;
  }

  async acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    // The slot passes straight to the next waiter, so `active` stays as it is.
    if (next) next();
    else this.active--;
  }
}

/**
 * The two limits every request passes: one slot of its host (per-host politeness) and then one
 * of the global pool. The host slot is taken first so that requests queued behind a busy host do
 * not sit on global slots other hosts could use.
 */
export class RequestLimiter {
  private readonly global: Semaphore;
  private readonly hosts = new Map<string, Semaphore>();

  constructor(concurrency: number, private readonly perHost: number) {
    this.global = new Semaphore(concurrency);
  }

  /** Wait for both slots; the returned function gives them back (call it exactly once). */
  async acquire(host: string): Promise<() => void> {
    let h = this.hosts.get(host);
    if (!h) {
      h = new Semaphore(this.perHost);
      this.hosts.set(host, h);
    }
    await h.acquire();
    await this.global.acquire();
    const hostSem = h;
    return () => {
      this.global.release();
      hostSem.release();
      // Forget idle hosts so a crawl over millions of hosts does not keep one entry per host.
      if (hostSem.idle) this.hosts.delete(host);
    };
  }
}
