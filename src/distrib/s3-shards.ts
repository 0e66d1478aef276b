import { createReadStream } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { S3Sink } from '../export/s3-sink.js';
import { parseS3Url } from '../export/sink.js';
import { UsageError } from '../errors.js';
import type { Reporter } from '../exec/reporter.js';
import { ensureDir, tempPathFor, writeFileAtomic, writeViaTemp } from '../util/fs.js';
import { DONE_FILE, shardDir } from './shard.js';

/**
 * Shard folders on S3 (`--shards-uri s3://bucket/prefix`): shard I's files go under `<prefix>/<I>/`
 * with the same relative paths as on disk. The marker is uploaded last and removed first, so a
 * shard whose marker is on S3 has all of its files there. DuckDB here has no S3 access: the merge
 * copies the folders back to `<workdir>/shards/` and reads them locally.
 */

function openSink(uri: string): Promise<S3Sink> {
  const url = parseS3Url(uri);
  if (!url) throw new UsageError(`--shards-uri ${uri}: expected s3://bucket/prefix`);
  return S3Sink.open(url.bucket, url.prefix);
}

/** Every regular file under `dir`, as paths relative to it with '/' separators; temp files (dot names) left out. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const full = join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  await walk(dir);
  return out.sort();
}

/** Upload a finished shard folder (its marker last). Objects identical to what is there are not re-sent. */
export async function uploadShard(uri: string, dir: string, index: number, reporter?: Reporter): Promise<{ files: number; sent: number }> {
  const sink = await openSink(uri);
  try {
    // Until the new marker lands, the shard on S3 is unfinished.
    await sink.remove(`${index}/${DONE_FILE}`);
    const files = (await filesUnder(dir)).filter((f) => f !== DONE_FILE && !f.endsWith('.wal'));
    let sent = 0;
    for (const f of [...files, DONE_FILE]) {
      const w = await sink.create(`${index}/${f}`);
      try {
        for await (const chunk of createReadStream(join(dir, f))) await w.write(chunk as Buffer);
        if ((await w.commit()).written) sent++;
      } catch (err) {
        await w.abort();
        throw err;
      }
    }
    reporter?.info(`shard ${index}: ${files.length + 1} files on ${sink.location}/${index}/ (${sent} sent)`);
    return { files: files.length + 1, sent };
  } finally {
    await sink.close();
  }
}

/**
 * Copy the finished shards on S3 into `<workdir>/shards/<I>/`, skipping those whose local marker
 * is already the same. Returns the indices fetched. Shards without a marker on S3 are left alone.
 */
export async function downloadShards(uri: string, workdir: string, reporter?: Reporter): Promise<number[]> {
  const sink = await openSink(uri);
  try {
    const byShard = new Map<number, string[]>();
    for (const key of await sink.list()) {
      const m = /^(\d+)\/(.+)$/.exec(key);
      if (!m) continue;
      const list = byShard.get(Number(m[1])) ?? [];
      list.push(m[2]);
      byShard.set(Number(m[1]), list);
    }
    const fetched: number[] = [];
    for (const [index, files] of [...byShard].sort((a, b) => a[0] - b[0])) {
      if (!files.includes(DONE_FILE)) continue;
      const remoteMarker = await sink.get(`${index}/${DONE_FILE}`);
      if (!remoteMarker) continue;
      const dir = shardDir(workdir, index);
      const local = await readFile(join(dir, DONE_FILE)).catch(() => undefined);
      if (local && local.equals(remoteMarker)) continue;
      // The local copy is unfinished until the marker comes back, last.
      await rm(join(dir, DONE_FILE), { force: true });
      for (const f of files) {
        if (f === DONE_FILE) continue;
        if (f.split('/').some((s) => s === '' || s === '.' || s === '..')) throw new UsageError(`${sink.location}/${index}/${f}: not a valid shard file path`);
        const bytes = await sink.get(`${index}/${f}`);
        if (!bytes) throw new Error(`${sink.location}/${index}/${f} disappeared while the shard was being copied`);
        const path = join(dir, ...f.split('/'));
        await ensureDir(dirname(path));
        await writeViaTemp(tempPathFor(path), path, bytes, false);
      }
      await writeFileAtomic(join(dir, DONE_FILE), remoteMarker);
      fetched.push(index);
    }
    if (fetched.length) reporter?.info(`copied shard${fetched.length > 1 ? 's' : ''} ${fetched.join(', ')} from ${sink.location}`);
    return fetched;
  } finally {
    await sink.close();
  }
}
