/**
 * A fault-injecting HTTP server on 127.0.0.1 for the downloader's tests. It serves generated
 * JPEGs and, by path, every way a real server lets a crawler down. Request counts per path are
 * kept so tests can assert attempts, retries and that resumed runs fetch nothing twice.
 *
 *   const server = await startFaultServer();
 *   server.url('/img/3')          // http://127.0.0.1:PORT/img/3
 *   server.hits('/img/3')         // requests so far
 *   await server.close();
 *
 * Paths (`:n` picks an image seed, `:key` makes a separate counter):
 *   /img/:n                 a JPEG (image/jpeg)
 *   /big/:n                 a 1024x768 JPEG
 *   /slow/:key              headers only after `slowMs` (past the client's timeout), every time
 *   /slow-once/:key         slow the first time, then a JPEG
 *   /trickle/:key           headers at once, then one body byte every 200 ms (forever, until closed)
 *   /fail/:code/:times/:key `code` (500, 503, 408...) for the first `times` requests, then a JPEG
 *   /retry-after/:secs/:key 429 with Retry-After: secs the first time, then a JPEG
 *   /status/:code           always `code` (404, 403, 500, ...)
 *   /truncated/:key         Content-Length of the whole JPEG, half the bytes, then the socket is cut
 *   /truncated-once/:key    as above the first time, then a JPEG
 *   /short/:key             a JPEG cut in half, sent complete as far as HTTP is concerned (chunked)
 *   /mislabeled/:n          a JPEG sent as text/html
 *   /html                   an HTML page sent as image/jpeg
 *   /redirect/:hops/:n      `hops` 302 redirects, then /img/:n
 *   /loop/a, /loop/b        redirect to each other
 *   /bomb                   a 20000x20000 PNG of ~48 KB
 *   /robots/:value/:n       a JPEG with X-Robots-Tag: value (URI-decoded)
 *   /huge                   Content-Length 200 MB (body never sent)
 *   /endless                chunked body that never stops (1 MiB chunks until the client hangs up)
 *   /delay/:ms/:n           a JPEG after `ms` (for interrupt tests)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { photoJpeg } from '../../src/demo/synth.js';
import { bombPng } from '../helpers/bad-images.js';

export interface FaultServer {
  port: number;
  url(path: string): string;
  hits(path: string): number;
  /** Times (ms since epoch) of the requests to `path`. */
  times(path: string): number[];
  /** Bytes of the JPEG served for seed `n` (small ones, 160x120). */
  image(n: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface FaultServerOptions {
  /** How long /slow waits before its headers. */
  slowMs?: number;
}

export async function startFaultServer(options: FaultServerOptions = {}): Promise<FaultServer> {
  const slowMs = options.slowMs ?? 3000;
  const images = new Map<string, Promise<Buffer>>();
  const image = (n: number, big = false): Promise<Buffer> => {
    const key = `${n}/${big}`;
    let p = images.get(key);
    if (!p) {
      p = big ? photoJpeg({ seed: n, width: 1024, height: 768 }) : photoJpeg({ seed: n, width: 160, height: 120 });
      images.set(key, p);
    }
    return p;
  };
  const counts = new Map<string, number[]>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const bomb = bombPng(20000);
  // Generate the common images up front: made on first request, they could outlast a short timeout.
  await Promise.all(Array.from({ length: 21 }, (_, n) => image(n)));

  const sendJpeg = async (res: ServerResponse, n: number, headers: Record<string, string> = {}, big = false) => {
    const body = await image(n, big);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length, ...headers });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    const list = counts.get(path) ?? [];
    list.push(Date.now());
    counts.set(path, list);
    const hit = list.length;
    const parts = path.split('/').filter(Boolean);
    const num = (i: number) => Number(parts[i]);
    switch (parts[0]) {
      case 'img':
        return sendJpeg(res, num(1));
      case 'big':
        return sendJpeg(res, num(1), {}, true);
      case 'slow':
        return later(slowMs, () => void sendJpeg(res, 1));
      case 'slow-once':
        if (hit === 1) return later(slowMs, () => void sendJpeg(res, 2));
        return sendJpeg(res, 2);
      case 'trickle': {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        const drip = () => {
          if (res.destroyed) return;
          res.write(Buffer.from([0xff]));
          later(200, drip);
        };
        return drip();
      }
      case 'fail':
        if (hit <= num(2)) {
          res.writeHead(num(1), { 'content-type': 'text/plain' });
          return void res.end('try again');
        }
        return sendJpeg(res, 3);
      case 'retry-after':
        if (hit === 1) {
          res.writeHead(429, { 'retry-after': parts[1], 'content-type': 'text/plain' });
          return void res.end('slow down');
        }
        return sendJpeg(res, 4);
      case 'status':
        res.writeHead(num(1), { 'content-type': 'text/html' });
        return void res.end(`<html><body>${num(1)}</body></html>`);
      case 'truncated':
      case 'truncated-once': {
        const body = await image(5);
        if (parts[0] === 'truncated-once' && hit > 1) return sendJpeg(res, 5);
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length });
        res.write(body.subarray(0, body.length >> 1));
        return later(20, () => res.socket?.destroy());
      }
      case 'short': {
        const body = await image(6);
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        return void res.end(body.subarray(0, body.length >> 1));
      }
      case 'mislabeled': {
        const body = await image(num(1));
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length });
        return void res.end(body);
      }
      case 'html':
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        return void res.end('<!DOCTYPE html>\n<html><head><title>Access denied</title></head><body>Forbidden</body></html>\n');
      case 'redirect': {
        const hops = num(1);
        res.writeHead(302, { location: hops > 1 ? `/redirect/${hops - 1}/${parts[2]}` : `/img/${parts[2]}` });
        return void res.end();
      }
      case 'loop':
        res.writeHead(302, { location: parts[1] === 'a' ? '/loop/b' : '/loop/a' });
        return void res.end();
      case 'bomb':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': bomb.length });
        return void res.end(bomb);
      case 'robots':
        return sendJpeg(res, num(2), { 'x-robots-tag': decodeURIComponent(parts[1]) });
      case 'huge':
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': 200_000_000 });
        return void res.write(Buffer.alloc(1024));
      case 'endless': {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        const chunk = Buffer.alloc(1 << 20, 0xab);
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) {
            // keep writing until the socket pushes back
          }
          if (!res.destroyed) res.once('drain', pump);
        };
        return pump();
      }
      case 'delay':
        return later(num(1), () => void sendJpeg(res, num(2)));
      default:
        res.writeHead(404);
        res.end();
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      res.destroy(err as Error);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    hits: (path) => counts.get(path)?.length ?? 0,
    times: (path) => counts.get(path) ?? [],
    image: (n) => image(n),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
