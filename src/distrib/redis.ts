/**
 * Redis addresses for the work queue: parsing, a printable form with the password hidden, and the
 * connection options BullMQ takes. No Redis client is loaded here, so the CLI can use it cheaply.
 */
import { UsageError } from '../errors.js';

/** The Redis set where a queue build registers its queue, so `imgsift worker` finds it. */
export const QUEUES_KEY = 'imgsift:queues';

/**
 * The URL as it may be printed: any password (and a user name's password form `user:pass`) becomes
 * `***`, so logs, errors and progress lines never show it. Unparsable text is hidden whole.
 */
export function maskRedisUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.includes('@') ? `${url.slice(0, url.indexOf(':') + 1)}//***@${url.slice(url.lastIndexOf('@') + 1)}` : url;
  }
  if (u.password) u.password = '***';
  else if (u.username && !u.password && url.includes('@')) {
    // `redis://secret@host`: ioredis reads a lone user part as the password.
    u.username = '***';
  }
  return u.toString();
}

/** Check a `--redis` / `--queue` value: redis:// or rediss:// with a host; the error names the flag. */
export function parseRedisUrl(url: string, flag: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${flag} ${maskRedisUrl(url)}: not a URL; expected redis://[:password@]host[:port][/db]`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new UsageError(`${flag} ${maskRedisUrl(url)}: expected a redis:// or rediss:// URL`);
  }
  if (!u.hostname) throw new UsageError(`${flag} ${maskRedisUrl(url)}: no host`);
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d+$/.test(db)) throw new UsageError(`${flag} ${maskRedisUrl(url)}: the database after the host must be a number (got '${db}')`);
  return url;
}

/** BullMQ connection options for a URL (BullMQ wants blocking commands never to give up). */
export function connectionFor(url: string): { url: string; maxRetriesPerRequest: null } {
  return { url, maxRetriesPerRequest: null };
}

/** Hide the URL wherever it appears in an error message from the Redis client. */
export function scrubUrl(message: string, url: string): string {
  return url ? message.split(url).join(maskRedisUrl(url)) : message;
}
