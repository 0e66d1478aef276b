/**
 * WebDataset export throughput against GNU tar on the same files.
 *
 *   node --import tsx bench/export-wds.ts [samples=20000] [distinct=200] [rounds=5]
 *
 * Makes `distinct` photo-like JPEGs (~30 KB) and `samples` symlinks to them (one file per sample,
 * as in a real collection; the page cache holds the few distinct targets, so both writers are
 * measured on CPU and write cost, not on disk reads). Then times, into fresh directories:
 *   - the split step on the catalog;
 *   - webdataset export with only the image member (the like-for-like comparison with tar), which
 *     syncs every shard (the default: a power loss leaves each shard whole or absent), and again
 *     with `sync: false` (writeback left to the kernel, as tar leaves it);
 *   - webdataset export with the default fields (jpg, txt, json, cls);
 *   - `tar -chf` of the same symlinked files (dereferenced, so it reads the same bytes), the baseline;
 *   - then `sync` of that archive: what making it durable costs, which the export does for every
 *     shard before renaming it into place;
 *   - then `xxh128sum` of that archive (Debian's xxhash): the hash the shard index carries, which
 *     the export computes while it writes (and `md5sum`, for the export's `index_md5`);
 *   - then `rounds` rounds of the image-only export, synced and not, each in a fresh process (its
 *     own time, from the exporter's start: a first export, as a user's `imgsift export` makes one)
 *     and of tar (then the sync of its archive, timed apart), alternating, each after a `sync` and
 *     a pause: their medians, since one run of any varies by ±10% here.
 * The export packs shards in lanes, its own thread and workers (src/export/tar-packer.ts); its CPU
 * counts every thread.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Catalog, COLUMNS } from '../src/catalog/catalog.js';
import { useRun } from '../src/catalog/run-view.js';
import { photoJpeg } from '../src/demo/synth.js';
import { Reporter } from '../src/exec/reporter.js';
import { medianOf } from '../src/image/quality.js';
import { WebDatasetOptions, webdatasetExporter } from '../src/export/webdataset.js';
import type { ExportContext, ExportStats } from '../src/export/types.js';
import { SplitParams, splitStep } from '../src/steps/split.js';
import { sha256Hex } from '../src/util/hash.js';

const SAMPLES = Number(process.argv[2] ?? 20000);
const DISTINCT = Number(process.argv[3] ?? 200);
const ROUNDS = Number(process.argv[4] ?? 5);
/** `--export-once <root> <to> <sync>`: the child of a fresh-process round (exportOnce). */
const CHILD = process.argv[2] === '--export-once';

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'imgsift-bench-wds-'));
  try {
    const srcDir = join(root, 'distinct');
    const dataDir = join(root, 'data');
    await mkdir(srcDir);
    await mkdir(dataDir);
    let t = performance.now();
    const distinct: { path: string; sha: string; bytes: number }[] = [];
    for (let i = 0; i < DISTINCT; i++) {
      const bytes = await photoJpeg({ seed: i + 1, width: 448, height: 336, quality: 88 });
      const path = join(srcDir, `p${i}.jpg`);
      await writeFile(path, bytes);
      distinct.push({ path, sha: sha256Hex(bytes), bytes: bytes.length });
    }
    const meanKb = distinct.reduce((s, d) => s + d.bytes, 0) / DISTINCT / 1024;
    console.log(`generated ${DISTINCT} JPEGs (mean ${meanKb.toFixed(1)} KB) in ${secs(t)}s`);

    const samples = [];
    const files = [];
    const status = [];
    for (let i = 0; i < SAMPLES; i++) {
      const d = distinct[i % DISTINCT];
      const id = `img/${String(i).padStart(7, '0')}.jpg`;
      const link = join(dataDir, `${String(i).padStart(7, '0')}.jpg`);
      await symlink(d.path, link);
      samples.push({ id, source: 'bench', path: id, label: `class${i % 10}`, text: `a photo number ${i}`,
        meta: { n: i }, ord: i, first_run: 1, seen_run: 1 });
      files.push({ sample_id: id, role: 'image', uri: link });
      status.push({ uri: link, sha256: d.sha, run_id: 1 });
    }
    const catalog = await Catalog.open(join(root, 'work'));
    await catalog.run(`INSERT INTO runs (id, name, started, status) VALUES (1, 'bench', now(), 'running')`);
    await catalog.append('samples', COLUMNS.samples, samples);
    await catalog.append('files', COLUMNS.files, files);
    await catalog.append('file_status', COLUMNS.file_status, status);
    for (const d of distinct) await catalog.run(`INSERT INTO assets (sha256, bytes, format) VALUES (?, ?, 'jpeg')`, [d.sha, d.bytes]);
    await useRun(catalog, 1);
    const ctx = exportContext(catalog, root);

    t = performance.now();
    const split = await splitStep.run(ctx, SplitParams.parse({ ratios: { train: 0.9, dev: 0.05, test: 0.05 } }));
    console.log(`split step: ${SAMPLES} samples in ${secs(t)}s (train ${split.train}, dev ${split.dev}, test ${split.test})`);
    // Every writer starts on a quiet system: the files, links and catalog just made are written out
    // first, not by the kernel's writeback in the middle of the first writer measured.
    execFileSync('sync');
    const payload = distinct.reduce((n, d) => n + d.bytes, 0) * (SAMPLES / DISTINCT);
    await primePageCache(root, payload);

    const payloadMb = payload / 1e6;
    const rows: string[][] = [];
    const record = (name: string, seconds: number, cpu: number, outBytes: number, main?: number, packing?: number, faults?: number) =>
      rows.push([
        name, seconds.toFixed(2), cpu.toFixed(2), main === undefined ? '' : main.toFixed(2), packing === undefined ? '' : packing.toFixed(2),
        faults === undefined ? '' : String(faults), (SAMPLES / seconds).toFixed(0), (payloadMb / seconds).toFixed(1), (outBytes / 1e6).toFixed(1),
      ]);

    /** Time one export into `to`, counting every thread of this process and the packing threads apart. */
    const timed = async (label: (stats: ExportStats) => string, options: unknown, written: boolean) => {
      const t0 = performance.now();
      const cpu = selfCpu();
      const main = mainThreadCpu();
      const threads = new NewThreads();
      const faults = process.resourceUsage().minorPageFault;
      const stats = await webdatasetExporter.run(ctx, WebDatasetOptions.parse(options));
      record(
        label(stats), (performance.now() - t0) / 1000, selfCpu() - cpu, written ? (stats['bytes written'] as number) : 0,
        mainThreadCpu() - main, threads.stop(), process.resourceUsage().minorPageFault - faults,
      );
    };
    for (const [name, fields, extra] of [
      ['webdataset, image only', { jpg: 'image' }, {}],
      ['webdataset, image only, sync: false', { jpg: 'image' }, { sync: false }],
      ['webdataset, image only, index_md5', { jpg: 'image' }, { index_md5: true }],
      ['webdataset, default fields', undefined, {}],
    ] as const) {
      const to = join(root, name.replace(/\W+/g, '_'));
      const options = { to, ...extra, ...(fields ? { fields } : {}) };
      await timed(() => name, options, true);
      if (!('index_md5' in extra) && !('sync' in extra)) {
        // Rerun: every shard is rebuilt in a temporary file and found unchanged.
        await timed((again) => `  rerun (${again['shards unchanged']} shards unchanged)`, options, false);
      }
      await rm(to, { recursive: true, force: true }); // the page cache and the disk as they were for the next writer
      if (name === 'webdataset, image only') {
        // The same export once more into a fresh folder: this process has now run it (DuckDB's first
        // query of this shape and V8's compilation of the export are behind it; the threads are new).
        await timed(() => '  again, into a fresh folder', options, true);
        await rm(to, { recursive: true, force: true });
      }
    }

    const tarOut = join(root, 'gnu.tar');
    /** The baseline: the same files into one archive, links followed (the export reads the same bytes). */
    const gnuTar = () => execFileSync('tar', ['--hard-dereference', '-chf', tarOut, '-C', dataDir, '.']);
    t = performance.now();
    const childCpu0 = childCpu();
    const childFaults0 = childFaults();
    gnuTar();
    const tarSecs = (performance.now() - t) / 1000;
    record('GNU tar -ch --hard-dereference', tarSecs, childCpu() - childCpu0, (await stat(tarOut)).size, undefined, undefined, childFaults() - childFaults0);
    // The export syncs each shard before renaming it into place (a shard is complete or absent,
    // even after a power loss); tar leaves its archive to the kernel's writeback.
    t = performance.now();
    const syncCpu0 = childCpu();
    execFileSync('sync', [tarOut]);
    record('  then sync of the archive', (performance.now() - t) / 1000, childCpu() - syncCpu0, 0);
    for (const tool of ['xxh128sum', 'md5sum']) {
      t = performance.now();
      const cpu0 = childCpu();
      execFileSync(tool, [tarOut]);
      record(`  then ${tool} of the archive`, (performance.now() - t) / 1000, childCpu() - cpu0, 0);
    }
    catalog.close();

    // Fresh processes, alternating with tar (the catalog is closed: a child opens it read-only).
    const rounds = { synced: [] as number[], unsynced: [] as number[], tar: [] as number[], tarSync: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      for (const sync of [true, false]) {
        const to = join(root, 'fresh');
        settle();
        const child = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--export-once', root, to, String(sync)], { encoding: 'utf8' });
        rounds[sync ? 'synced' : 'unsynced'].push(Number(child.trim().split('\n').pop()));
        await rm(to, { recursive: true, force: true });
      }
      await rm(tarOut, { force: true });
      settle();
      t = performance.now();
      gnuTar();
      rounds.tar.push((performance.now() - t) / 1000);
      t = performance.now();
      execFileSync('sync', [tarOut]);
      rounds.tarSync.push(rounds.tar[i] + (performance.now() - t) / 1000);
    }

    console.log(`\n${SAMPLES} samples, ${payloadMb.toFixed(1)} MB of JPEG payload; MB/s counts payload bytes;`);
    console.log(`cpu = user + system seconds of this process (all its threads) or of the tar child; main = of its main thread`);
    console.log(`(DuckDB reads, planning, and packing the shards of its own lane); packing = of the threads the export started`);
    console.log(`(its worker packing lanes: headers, reading, hashing, writing); the rest is V8's and libuv's threads and DuckDB's; faults = pages of memory the`);
    console.log(`process touched for the first time (minor page faults, every thread). Load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    const head = ['writer', 'seconds', 'cpu s', 'main s', 'packing s', 'faults', 'samples/s', 'MB/s', 'MB out'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log(line(head));
    for (const r of rows) console.log(line(r));
    console.log(`\nFirst use of memory here: ${pageFaultMicros().toFixed(1)} µs per 4 KB page (100 MB touched once: what the export's`);
    console.log(`fresh memory costs — the catalog read, the packing workers' start, the rows — beside tar's small buffers).`);
    if (ROUNDS > 0) {
      const list = (xs: number[]) => `${xs.map((x) => x.toFixed(2)).join(' ')} s (median ${medianOf(xs).toFixed(2)})`;
      const [synced, unsynced, tar, tarSync] = [rounds.synced, rounds.unsynced, rounds.tar, rounds.tarSync].map((xs) => medianOf(xs));
      console.log(`\n${ROUNDS} rounds in fresh processes, alternating:`);
      console.log(`  webdataset image only (synced, the default) ${list(rounds.synced)}`);
      console.log(`  webdataset image only, sync: false         ${list(rounds.unsynced)}`);
      console.log(`  GNU tar                                    ${list(rounds.tar)}`);
      console.log(`  GNU tar, then sync of its archive          ${list(rounds.tarSync)}`);
      console.log(`By medians: sync: false against tar ${(tar / unsynced).toFixed(2)}×; synced against tar ${(tar / synced).toFixed(2)}×,`);
      console.log(`against tar with its archive synced ${(tarSync / synced).toFixed(2)}× (a synced export waits for the disk to take every byte).`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/**
 * Write and remove a file as large as one output. On a virtual machine the first use of a page of
 * memory costs the host's work of backing it, and the page cache of whichever writer runs first
 * takes fresh pages; after this, every writer (tar runs last) reuses pages that were used before.
 */
async function primePageCache(dir: string, bytes: number): Promise<void> {
  const file = join(dir, 'prime.bin');
  const chunk = Buffer.alloc(4 << 20, 1);
  const fh = await open(file, 'w');
  for (let at = 0; at < bytes; at += chunk.length) await fh.write(chunk, 0, chunk.length, at);
  await fh.close();
  await rm(file);
}

/** What an export of run 1 of the catalog made under `root` is given. */
function exportContext(catalog: Catalog, root: string): ExportContext {
  return { catalog, runId: 1, workdir: join(root, 'work'), baseDir: root, reporter: new Reporter({ mode: 'quiet' }), dev: false };
}

/**
 * The child of a fresh-process round: open the catalog made by the parent, run the image-only
 * export into `to` (synced or not), print its seconds (from the exporter's start, as the
 * in-process rows).
 */
async function exportOnce(root: string, to: string, sync: boolean): Promise<void> {
  const catalog = await Catalog.open(join(root, 'work'), { readOnly: true });
  await useRun(catalog, 1);
  const ctx = exportContext(catalog, root);
  const t0 = performance.now();
  await webdatasetExporter.run(ctx, WebDatasetOptions.parse({ to, fields: { jpg: 'image' }, sync }));
  console.log(((performance.now() - t0) / 1000).toFixed(3));
  catalog.close();
}

/**
 * Let the machine settle before a fresh-process round: the files of the last one written out, and
 * a pause — on this virtual machine memory freed by the last round (its output, removed) is given
 * back to the host within seconds, and a writer that starts meanwhile pays more for fresh memory.
 */
function settle(): void {
  execFileSync('sync');
  execFileSync('sleep', ['3']);
}

/** Microseconds to touch one new 4 KB page: 100 MB allocated and written a byte per page, once. */
function pageFaultMicros(): number {
  const pages = 25_600;
  const t0 = performance.now();
  const b = Buffer.allocUnsafeSlow(pages * 4096);
  for (let i = 0; i < b.length; i += 4096) b[i] = 1;
  return ((performance.now() - t0) * 1000) / pages;
}

/** CPU seconds used by this process so far (every thread: libuv pool, DuckDB, sharp). */
function selfCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * The fields of a /proc stat file after the command name (field 3 of proc(5) is [0]); times are
 * in clock ticks, and USER_HZ is 100 on Linux.
 */
function statFields(path: string): string[] {
  const stat = readFileSync(path, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU seconds of the main thread alone (utime + stime of /proc/self/task/<pid>/stat). */
function mainThreadCpu(): number {
  const fields = statFields(`/proc/self/task/${process.pid}/stat`);
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds of the threads that start after it is made (the export's packing threads), polled
 * every 10 ms from /proc/self/task: they are gone once the export returns.
 */
class NewThreads {
  private readonly before = new Set(readdirSync('/proc/self/task'));
  private readonly cpu = new Map<string, number>();
  private readonly timer = setInterval(() => this.poll(), 10);

  private poll(): void {
    for (const tid of readdirSync('/proc/self/task')) {
      if (this.before.has(tid)) continue;
      try {
        const f = statFields(`/proc/self/task/${tid}/stat`);
        this.cpu.set(tid, (Number(f[11]) + Number(f[12])) / 100);
      } catch {
        // the thread ended between the listing and the read
      }
    }
  }

  /** Their CPU seconds, as last seen (a thread's last 10 ms may be missed). */
  stop(): number {
    clearInterval(this.timer);
    return [...this.cpu.values()].reduce((a, b) => a + b, 0);
  }
}

/** CPU seconds used by waited-for children (cutime + cstime). */
function childCpu(): number {
  const fields = statFields('/proc/self/stat');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** Minor page faults of waited-for children (cminflt). */
function childFaults(): number {
  return Number(statFields('/proc/self/stat')[8]);
}

function secs(t0: number): string {
  return ((performance.now() - t0) / 1000).toFixed(2);
}

if (CHILD) await exportOnce(process.argv[3], process.argv[4], process.argv[5] !== 'false');
else await main();
