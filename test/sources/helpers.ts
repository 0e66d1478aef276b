import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InputError } from '../../src/errors.js';
import type { ReadOptions, Source, SourceRecord } from '../../src/sources/types.js';

export async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-sources-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Read a whole source, keeping the records and the bad rows it reported. */
export async function collect(
  source: Source,
  options: Partial<ReadOptions> = {},
): Promise<{ records: SourceRecord[]; bad: InputError[] }> {
  const records: SourceRecord[] = [];
  const bad: InputError[] = [];
  for await (const r of source.read({ onBadRow: (e) => bad.push(e), ...options })) records.push(r);
  return { records, bad };
}
