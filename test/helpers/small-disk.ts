import { spawnSync } from 'node:child_process';

/**
 * Run a shell script where `dir` is a tmpfs of `size` bytes (e.g. '64k'): a real file system that
 * fills up, in a private mount namespace, so it needs no clean-up and hides nothing outside. Root
 * mounts it directly (`unshare -m`); anyone else in a user namespace (`unshare -rm`). `env` is
 * passed to the script (use "$NAME" in it rather than quoting values into the text).
 */
export function inSmallDisk(dir: string, size: string, script: string, env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const ns = process.getuid?.() === 0 ? ['-m'] : ['-rm'];
  const res = spawnSync('unshare', [...ns, 'sh', '-c', `mount -t tmpfs -o size="$SMALL_DISK_SIZE" tmpfs "$SMALL_DISK_DIR" || exit 97\n${script}`], {
    encoding: 'utf8', env: { ...process.env, ...env, SMALL_DISK_DIR: dir, SMALL_DISK_SIZE: size }, timeout: 300_000,
  });
  if (res.error) throw new Error(`unshare: ${res.error.message} (util-linux's unshare is needed for the full-disk tests)`);
  if (res.status === 97) throw new Error(`cannot mount a tmpfs on ${dir} (needs root or user namespaces): ${res.stderr}`);
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** Shell: fill the file system holding "$1" to the last byte (a file `filler` there). */
export const FILL_DISK = `fill() { dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null; true; }`;
