import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ImgsiftError, errorMessage } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';
import { sha256Hex } from '../util/hash.js';

const HTTP = /^https?:\/\//i;

export function isHttpUrl(path: string): boolean {
  return HTTP.test(path);
}

/**
 * A source `path` that is an http(s) URL (seed 000's `sft.jsonl`): fetched once into
 * `<workdir>/sources/<hash of the URL>/<file name>` and read from there on every later run.
 * Delete that folder to fetch it again. The file is written whole or not at all.
 */
export async function fetchSourceFile(url: string, workdir: string, options: { timeoutMs?: number; retries?: number } = {}): Promise<string> {
  const name = decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? 'source') || 'source';
  const dir = join(workdir, 'sources', sha256Hex(url).slice(0, 16));
  const file = join(dir, name.replace(/[^A-Za-z0-9._-]/g, '_'));
  if (existsSync(file)) return file;
  await ensureDir(dir);
  const retries = options.retries ?? 3;
  let last = '';
  for (let attempt = 0; attempt <= retries; attempt++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 120_000), redirect: 'follow' });
      if (res.ok) {
        await writeFileAtomic(file, Buffer.from(await res.arrayBuffer()));
        return file;
      }
      await res.body?.cancel();
      last = `HTTP ${res.status}`;
      if (res.status < 500 && res.status !== 429) break;
    } catch (err) {
      last = errorMessage(err);
    }
    if (attempt < retries) await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
  }
  throw new ImgsiftError(`cannot fetch source ${url}: ${last}`);
}
