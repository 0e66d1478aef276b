import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startCli, type CliRun } from '../helpers/cli.js';

/** The distributed builds' recipe: probe/hash/quality per sample, dedup and split over the whole dataset, webdataset tars out. */
export const distribRecipe = (name: string, images: string) => `name: ${name}
workdir: ./work
source: { format: folder, path: ${images} }
steps:
  - probe: {}
  - hash: {}
  - quality: {}
  - dedup_signals: {}
  - dedup: {}
  - split: { ratios: { train: 0.75, test: 0.25 } }
export:
  - { format: webdataset, to: ./wds, samples_per_shard: 8 }
`;

/** Every file under `dir`, by its path relative to it. */
export async function filesOf(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.set(relative(dir, join(e.parentPath, e.name)), await readFile(join(e.parentPath, e.name)));
  }
  return out;
}

/** A running CLI process with its output so far. */
export interface Running {
  child: ChildProcess;
  out: { stdout: string; stderr: string };
  done: Promise<CliRun>;
}

export function start(args: string[]): Running {
  const child = startCli(args);
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out.stderr += d.toString()));
  const done = once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout: out.stdout, stderr: out.stderr }));
  return { child, out, done };
}
