import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startFaultServer, type FaultServer } from './fault-server.js';
import { HttpFetcher, FetchAborted, parseRetryAfter, type HttpOptions } from '../../src/download/http.js';
import { robotsOptOut } from '../../src/download/robots.js';
import { RequestLimiter } from '../../src/download/limiter.js';
import { parseByteSize } from '../../src/download/params.js';

let server: FaultServer;
before(async () => {
  server = await startFaultServer({ slowMs: 4000 });
});
after(() => server.close());

const OPTIONS: HttpOptions = {
  concurrency: 8, perHost: 8, connectTimeoutMs: 1000, readTimeoutMs: 1000, totalTimeoutMs: 1000, maxBytes: 1_000_000,
  maxRedirects: 3, retries: 0, retryBaseMs: 10, retryMaxWaitMs: 2000, userAgent: 'imgsift-test/1', userAgentToken: 'imgsift',
  disallowedDirectives: ['noai', 'noimageai'],
};

test('a body that trickles in is cut by the total timeout, not kept alive by each byte', async () => {
  const http = new HttpFetcher(OPTIONS);
  const t0 = Date.now();
  const r = await http.fetch(server.url('/trickle/t'));
  await http.close();
  assert.equal(r.kind, 'failed');
  assert.equal(r.kind === 'failed' && r.error, 'timeout: not complete within 1 s');
  assert.ok(Date.now() - t0 < 3000);
});

test('the User-Agent is sent; a Retry-After longer than allowed fails at once', async () => {
  let seenUa = '';
  let hits = 0;
  const s = createServer((req, res) => {
    seenUa = req.headers['user-agent'] ?? '';
    hits++;
    res.writeHead(429, { 'retry-after': '3600' });
    res.end();
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const http = new HttpFetcher({ ...OPTIONS, retries: 3 });
  const r = await http.fetch(`http://127.0.0.1:${(s.address() as { port: number }).port}/x`);
  await http.close();
  s.closeAllConnections();
  await new Promise((resolve) => s.close(resolve));
  assert.equal(seenUa, 'imgsift-test/1');
  assert.equal(hits, 1);
  assert.equal(r.kind === 'failed' && r.error, 'HTTP 429: Retry-After of 3600 s exceeds the 2 s limit');
  assert.equal(r.httpStatus, 429);
});

test('an abort of the caller stops the fetch with FetchAborted, even during a backoff', async () => {
  const http = new HttpFetcher({ ...OPTIONS, retries: 5, retryBaseMs: 5000, retryMaxWaitMs: 10_000 });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 300);
  const t0 = Date.now();
  await assert.rejects(http.fetch(server.url('/status/503'), controller.signal), FetchAborted);
  assert.ok(Date.now() - t0 < 2000);
  await http.close();
});

test('unsupported schemes and bad URLs fail without a request', async () => {
  const http = new HttpFetcher(OPTIONS);
  const ftp = await http.fetch('ftp://127.0.0.1/x.jpg');
  assert.equal(ftp.kind === 'failed' && ftp.error, "unsupported URL scheme 'ftp' (http and https only)");
  const bad = await http.fetch('http://[::1');
  assert.equal(bad.kind === 'failed' && bad.error, 'invalid URL');
  await http.close();
});

test('requests to one host never exceed the per-host limit; other hosts go on', async () => {
  const limiter = new RequestLimiter(4, 2);
  let a = 0, maxA = 0, b = 0;
  const work = async (host: string) => {
    const release = await limiter.acquire(host);
    if (host === 'a') maxA = Math.max(maxA, ++a);
    else b++;
    await new Promise((r) => setTimeout(r, 20));
    if (host === 'a') a--;
    release();
  };
  const jobs = [...Array.from({ length: 10 }, () => work('a')), work('b'), work('b')];
  await Promise.all(jobs);
  assert.equal(maxA, 2);
  assert.equal(b, 2);
});

test('X-Robots-Tag directives, with and without a user agent', () => {
  const d = ['noai', 'noimageai'];
  assert.equal(robotsOptOut('noai', 'imgsift', d), 'noai');
  assert.equal(robotsOptOut('noindex, NoImageAI', 'imgsift', d), 'noimageai');
  assert.equal(robotsOptOut('imgsift: noai', 'imgsift', d), 'noai');
  assert.equal(robotsOptOut('otherbot: noai', 'imgsift', d), undefined);
  assert.equal(robotsOptOut(['otherbot: noai', 'noimageai'], 'imgsift', d), 'noimageai');
  assert.equal(robotsOptOut('noindex, nofollow', 'imgsift', d), undefined);
  assert.equal(robotsOptOut('unavailable_after: 25 Jun 2010 15:00:00 PST', 'imgsift', d), undefined);
  assert.equal(robotsOptOut(undefined, 'imgsift', d), undefined);
});

test('Retry-After and byte sizes parse', () => {
  assert.equal(parseRetryAfter('120'), 120_000);
  assert.equal(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1)), 30_000);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseByteSize('20MB'), 20_000_000);
  assert.equal(parseByteSize('512KiB'), 524_288);
  assert.equal(parseByteSize(1000), 1000);
  assert.equal(parseByteSize('12 parsecs'), undefined);
  assert.equal(parseByteSize('0'), undefined);
});
