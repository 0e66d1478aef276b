import { Agent, request, type Dispatcher } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import { RequestLimiter } from './limiter.js';
import { robotsOptOut } from './robots.js';

/**
 * The downloader's HTTP client: keep-alive pools (undici Agent), a global and a per-host limit,
 * timeouts, a body size limit, redirects followed by hand (so loops are named), and retries with
 * exponential backoff and jitter on what may pass: timeouts, connection errors, 408, 429 and 5xx
 * (honouring Retry-After). Other 4xx are final. Never throws for a bad URL or a bad server; only
 * an abort of the caller's signal ends a fetch with an exception.
 */

export interface HttpOptions {
  concurrency: number;
  perHost: number;
  connectTimeoutMs: number;
  /** Headers wait, and the longest pause between body chunks. */
  readTimeoutMs: number;
  /** One attempt from request to last byte. */
  totalTimeoutMs: number;
  maxBytes: number;
  maxRedirects: number;
  retries: number;
  retryBaseMs: number;
  retryMaxWaitMs: number;
  userAgent: string;
  userAgentToken: string;
  /** X-Robots-Tag directives that make a file `skipped`; empty to ignore the header. */
  disallowedDirectives: readonly string[];
}

interface Common {
  /** Attempts made (1 + retries used). */
  attempts: number;
  /** Status of the last response, when one came. */
  httpStatus: number | null;
  /** URL of the last response after redirects. */
  finalUrl: string | null;
  /** Duration of the last attempt. */
  fetchMs: number;
}
export type FetchOutcome =
  | (Common & { kind: 'ok'; body: Buffer; contentType: string | null })
  | (Common & { kind: 'failed'; error: string })
  | (Common & { kind: 'skipped'; error: string });

/** One attempt's result; `retry` carries what the next attempt should wait for. */
type Attempt =
  | { kind: 'ok'; body: Buffer; contentType: string | null; httpStatus: number; finalUrl: string }
  | { kind: 'failed' | 'skipped'; error: string; httpStatus: number | null; finalUrl: string | null }
  | { kind: 'retry'; error: string; httpStatus: number | null; finalUrl: string | null; retryAfterMs?: number };

/** Thrown when the caller's signal aborts a fetch; the file has no outcome and must not be recorded. */
export class FetchAborted extends Error {
  constructor() {
    super('download interrupted');
    this.name = 'FetchAborted';
  }
}

/** Connection-level error codes worth another attempt (DNS "not found" is not: it will not heal in seconds). */
const RETRYABLE_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN',
  'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_ABORTED',
]);

export class HttpFetcher {
  private readonly agent: Agent;
  private readonly limiter: RequestLimiter;

  constructor(private readonly o: HttpOptions) {
    this.agent = new Agent({
      connections: o.perHost,
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: o.connectTimeoutMs },
      headersTimeout: o.readTimeoutMs,
      bodyTimeout: o.readTimeoutMs,
      autoSelectFamily: true,
    });
    this.limiter = new RequestLimiter(o.concurrency, o.perHost);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Fetch one URL with retries. Throws FetchAborted only when `signal` aborts. */
  async fetch(url: string, signal?: AbortSignal): Promise<FetchOutcome> {
    let attempts = 0;
    for (;;) {
      attempts++;
      const t0 = performance.now();
      const a = await this.attempt(url, signal);
      const fetchMs = performance.now() - t0;
      if (a.kind !== 'retry') return { ...a, attempts, fetchMs } as FetchOutcome;
      const common = { attempts, httpStatus: a.httpStatus, finalUrl: a.finalUrl, fetchMs };
      if (attempts > this.o.retries) {
        const tries = attempts === 1 ? '' : ` (after ${attempts} attempts)`;
        return { kind: 'failed', error: a.error + tries, ...common };
      }
      let wait = this.backoffMs(attempts);
      if (a.retryAfterMs !== undefined) {
        if (a.retryAfterMs > this.o.retryMaxWaitMs) {
          return {
            kind: 'failed', ...common,
            error: `${a.error}: Retry-After of ${Math.ceil(a.retryAfterMs / 1000)} s exceeds the ${this.o.retryMaxWaitMs / 1000} s limit`,
          };
        }
        wait = a.retryAfterMs;
      }
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        throw new FetchAborted();
      }
    }
  }

  /** Exponential backoff with jitter: base * 2^(n-1) * [0.5, 1.5), capped. */
  private backoffMs(attempt: number): number {
    const exp = this.o.retryBaseMs * 2 ** (attempt - 1);
    return Math.min(this.o.retryMaxWaitMs, exp * (0.5 + Math.random()));
  }

  /** One attempt: the request and its redirects, under the limits and the total timeout. */
  private async attempt(startUrl: string, signal?: AbortSignal): Promise<Attempt> {
    const seen = new Set<string>();
    let url = startUrl;
    for (let hop = 0; ; hop++) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return { kind: 'failed', error: `invalid URL`, httpStatus: null, finalUrl: null };
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        return { kind: 'failed', error: `unsupported URL scheme '${parsed.protocol.slice(0, -1)}' (http and https only)`, httpStatus: null, finalUrl: null };
      }
      seen.add(parsed.href);
      const release = await this.limiter.acquire(parsed.host);
      let res: Dispatcher.ResponseData | undefined;
      // The total timeout starts once the slots are held: waiting in the queue is not the server's fault.
      const timeout = AbortSignal.timeout(this.o.totalTimeoutMs);
      const both = signal ? AbortSignal.any([signal, timeout]) : timeout;
      try {
        res = await request(parsed, {
          dispatcher: this.agent,
          method: 'GET',
          signal: both,
          headers: { 'user-agent': this.o.userAgent, accept: 'image/*,*/*;q=0.8' },
        });
        const status = res.statusCode;
        const href = parsed.href;
        if (status >= 300 && status < 400 && status !== 304) {
          await discard(res);
          const location = header(res.headers, 'location');
          if (!location) return { kind: 'failed', error: `HTTP ${status} redirect without a Location header`, httpStatus: status, finalUrl: href };
          let next: string;
          try {
            next = new URL(location, parsed).href;
          } catch {
            return { kind: 'failed', error: `HTTP ${status} redirect to an invalid Location`, httpStatus: status, finalUrl: href };
          }
          if (seen.has(next)) return { kind: 'failed', error: `redirect loop (after ${hop + 1} redirect${hop ? 's' : ''})`, httpStatus: status, finalUrl: href };
          if (hop + 1 > this.o.maxRedirects) return { kind: 'failed', error: `too many redirects (more than ${this.o.maxRedirects})`, httpStatus: status, finalUrl: href };
          url = next;
          continue;
        }
        if (status === 408 || status === 429 || status >= 500) {
          await discard(res);
          const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(header(res.headers, 'retry-after')) : undefined;
          return { kind: 'retry', error: `HTTP ${status}`, httpStatus: status, finalUrl: href, retryAfterMs };
        }
        if (status < 200 || status >= 300) {
          await discard(res);
          return { kind: 'failed', error: `HTTP ${status}`, httpStatus: status, finalUrl: href };
        }
        if (this.o.disallowedDirectives.length) {
          const optOut = robotsOptOut(res.headers['x-robots-tag'], this.o.userAgentToken, this.o.disallowedDirectives);
          if (optOut) {
            await discard(res);
            return { kind: 'skipped', error: `X-Robots-Tag: ${optOut}`, httpStatus: status, finalUrl: href };
          }
        }
        const declared = Number(header(res.headers, 'content-length'));
        if (Number.isFinite(declared) && declared > this.o.maxBytes) {
          res.body.destroy();
          return { kind: 'failed', error: `body of ${declared} bytes is over the ${this.o.maxBytes}-byte limit`, httpStatus: status, finalUrl: href };
        }
        const body = await readLimited(res.body, this.o.maxBytes);
        if (body === null) {
          return { kind: 'failed', error: `body is over the ${this.o.maxBytes}-byte limit`, httpStatus: status, finalUrl: href };
        }
        return { kind: 'ok', body, contentType: header(res.headers, 'content-type') ?? null, httpStatus: status, finalUrl: href };
      } catch (err) {
        res?.body.destroy();
        if (signal?.aborted) throw new FetchAborted();
        const what = describeError(err, timeout.aborted, this.o);
        return what.retry
          ? { kind: 'retry', error: what.message, httpStatus: res?.statusCode ?? null, finalUrl: parsed.href }
          : { kind: 'failed', error: what.message, httpStatus: res?.statusCode ?? null, finalUrl: parsed.href };
      } finally {
        release();
      }
    }
  }
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Drain a small body so the connection goes back to the pool; destroy a large one. */
async function discard(res: Dispatcher.ResponseData): Promise<void> {
  try {
    await res.body.dump({ limit: 64 * 1024 });
  } catch {
    res.body.destroy();
  }
}

/** The body, or null when it grows past `max` (the rest is not read). */
async function readLimited(body: Dispatcher.ResponseData['body'], max: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) {
      body.destroy();
      return null;
    }
    chunks.push(chunk);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}

/** Retry-After as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A message without the URL (so errors group in the summary) and whether to try again. */
function describeError(err: unknown, totalTimedOut: boolean, o: HttpOptions): { message: string; retry: boolean } {
  if (totalTimedOut) return { message: `timeout: not complete within ${o.totalTimeoutMs / 1000} s`, retry: true };
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.code ?? e?.cause?.code;
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { message: `timeout: no connection within ${o.connectTimeoutMs / 1000} s`, retry: true };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { message: `timeout: no response headers within ${o.readTimeoutMs / 1000} s`, retry: true };
    case 'UND_ERR_BODY_TIMEOUT':
      return { message: `timeout: body stalled for ${o.readTimeoutMs / 1000} s`, retry: true };
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return { message: 'truncated body: fewer bytes than Content-Length', retry: true };
    case 'UND_ERR_SOCKET':
    case 'UND_ERR_CLOSED':
      return { message: 'connection closed before the response was complete', retry: true };
    case 'ECONNREFUSED':
      return { message: 'connection refused', retry: true };
    case 'ECONNRESET':
      return { message: 'connection reset', retry: true };
    case 'ENOTFOUND':
      return { message: 'host not found (DNS)', retry: false };
    case 'CERT_HAS_EXPIRED':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return { message: `TLS: ${code}`, retry: false };
  }
  const message = (e?.cause?.message ?? e?.message ?? String(err)).split('\n')[0];
  return { message: code ? `${code}: ${message}` : message, retry: code !== undefined && RETRYABLE_CODES.has(code) };
}
