import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A build announces itself in its workdir (`build.running`: pid and start time) for as long as it
 * runs, so the review app can say a build is running, stop touching the catalog (the build needs
 * DuckDB's one writer lock), and refresh when it ends. A marker whose process is gone is stale.
 */

export const BUILD_MARKER = 'build.running';

export interface BuildMarker {
  pid: number;
  started: string;
}

export function markBuildRunning(workdir: string): () => void {
  const file = join(workdir, BUILD_MARKER);
  try {
    writeFileSync(file, JSON.stringify({ pid: process.pid, started: new Date().toISOString() }));
  } catch {
    // Advisory only (the review app's banner): a workdir that cannot take it (a full disk) fails
    // the build at its first catalog write, which names the file.
    rmSync(file, { force: true });
    return () => {};
  }
  return () => rmSync(file, { force: true });
}

/** The running build of a workdir, or null (no marker, or its process has ended). */
export function runningBuild(workdir: string): BuildMarker | null {
  let marker: BuildMarker;
  try {
    marker = JSON.parse(readFileSync(join(workdir, BUILD_MARKER), 'utf8')) as BuildMarker;
  } catch {
    return null;
  }
  try {
    process.kill(marker.pid, 0);
    return marker;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? marker : null;
  }
}
