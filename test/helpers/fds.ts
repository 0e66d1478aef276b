import { readdirSync, readlinkSync } from 'node:fs';

/** How many of this process's descriptors are open on `file` (a leak check). */
export function descriptorsOn(file: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}
