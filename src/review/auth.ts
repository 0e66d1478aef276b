import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/**
 * Access control of the review server.
 *
 * On a loopback bind (the default) anyone who can reach the port is the local user, so no token is
 * needed. Bound elsewhere, every request must carry the token printed at start: as the header
 * `X-Imgsift-Token` (or `Authorization: Bearer …`), or as the cookie a first visit to `/?token=…`
 * sets. Either way the server also refuses requests whose Host header does not name it (DNS
 * rebinding) and cross-site writes (a foreign Origin on a POST).
 */

export const TOKEN_HEADER = 'x-imgsift-token';
export const TOKEN_COOKIE = 'imgsift_token';

/** 32 random bytes as URL-safe base64: unguessable, and fine in a URL, a header or a cookie. */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/** The token a request presents, from the header, the Authorization header or the cookie. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const header = req.headers[TOKEN_HEADER];
  if (typeof header === 'string' && header) return header;
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, '').trim();
  return readCookie(req.headers.cookie, TOKEN_COOKIE);
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** Constant-time comparison, so response timing does not leak how much of a guess was right. */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The Set-Cookie value that stores the token in the browser for later requests. */
export function tokenCookie(token: string): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`;
}

/**
 * Whether the Host header names this server (its bound address, a loopback name when bound to
 * loopback, or any name when bound to a wildcard address). A page on another site that resolves
 * its own name to this address (DNS rebinding) sends its own name and is refused.
 */
export function hostAllowed(req: IncomingMessage, boundHost: string, port: number): boolean {
  const host = req.headers.host;
  if (!host) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  if (!m) return false;
  if (m[2] !== undefined && Number(m[2]) !== port) return false;
  const name = m[1].replace(/^\[|\]$/g, '').toLowerCase();
  const bound = boundHost.replace(/^\[|\]$/g, '').toLowerCase();
  if (bound === '0.0.0.0' || bound === '::') return true;
  if (name === bound) return true;
  return isLoopbackHost(bound) && isLoopbackHost(name);
}

/** Whether a state-changing request comes from this server's own page (no Origin, or the same one). */
export function originAllowed(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin || origin === 'null') return origin === undefined;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
