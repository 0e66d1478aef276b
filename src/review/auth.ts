import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { UsageError } from '../errors.js';

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

/** Tokens shorter than this are refused: they must not be guessable. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * A token file: one `TOKEN NAME` per line (the name may contain spaces; `#` starts a comment line),
 * mapping each reviewer's access token to the name their changes are recorded under. Errors name
 * the file and line.
 */
export function parseTokenFile(text: string, file: string): Map<string, string> {
  const tokens = new Map<string, string>();
  const names = new Set<string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    const m = /^(\S+)\s+(.+)$/.exec(line);
    if (!m) throw new UsageError(`${where}: expected 'TOKEN REVIEWER-NAME', got a token without a name`);
    const [, token, name] = m;
    if (token.length < MIN_TOKEN_LENGTH) throw new UsageError(`${where}: the token is ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} (e.g. \`openssl rand -base64 32\`)`);
    if (!/^[\x21-\x7e]+$/.test(token)) throw new UsageError(`${where}: the token must be printable ASCII without spaces`);
    if (name.length > 100 || /\p{C}/u.test(name)) throw new UsageError(`${where}: the reviewer name must be printable and at most 100 characters`);
    if (tokens.has(token)) throw new UsageError(`${where}: this token is already given to ${tokens.get(token)}`);
    if (names.has(name)) throw new UsageError(`${where}: reviewer ${JSON.stringify(name)} has a token already (one token per reviewer)`);
    tokens.set(token, name);
    names.add(name);
  });
  if (tokens.size === 0) throw new UsageError(`${file}: no tokens (expected lines of 'TOKEN REVIEWER-NAME')`);
  return tokens;
}

/** The reviewer a presented token names, comparing against every token in constant time. */
export function reviewerOfToken(tokens: ReadonlyMap<string, string>, given: string | undefined): string | undefined {
  let found: string | undefined;
  for (const [token, name] of tokens) if (tokenMatches(token, given) && found === undefined) found = name;
  return found;
}
