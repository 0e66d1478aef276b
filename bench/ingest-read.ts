/**
 * Manifest ingest speed: writes a 1,000,000-row JSONL and CSV manifest to a temp folder, then
 * reads each through its source reader in a fresh process and prints rows/s and peak RSS.
 *
 *   node --import tsx bench/ingest-read.ts [rows]
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { CsvSource } from '../src/sources/csv.js';
import { JsonlSource } from '../src/sources/jsonl.js';
import type { Source } from '../src/sources/types.js';

const WORDS = ['a', 'red', 'hill', 'under', 'the', 'evening', 'sky', 'with', 'two', 'small', 'houses', 'and', 'a', 'dog'];

function row(i: number) {
  const caption = Array.from({ length: 10 }, (_, k) => WORDS[(i * 7 + k * 3) % WORDS.length]).join(' ');
  return {
    id: `s${i}`,
    file_name: `images/${String(Math.floor(i / 1000)).padStart(4, '0')}/${i}.jpg`,
    caption: i % 5 === 0 ? `${caption}, "quoted"` : caption,
    label: String(i % 1000),
    width: 512 + (i % 64),
    height: 384 + (i % 32),
  };
}

async function writeLines(file: string, rows: number, line: (i: number) => string, header?: string): Promise<void> {
  const out = createWriteStream(file);
  if (header) out.write(header + '\n');
  let buf = '';
  for (let i = 0; i < rows; i++) {
    buf += line(i) + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

const csvCell = (v: string | number) => {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

async function readAll(format: string, file: string): Promise<void> {
  const fields = { image: 'file_name', text: 'caption' };
  const opts = { path: file, fields, allowAbsolutePaths: false };
  const source: Source = format === 'csv' ? new CsvSource({ ...opts, delimiter: ',' }) : new JsonlSource(opts);
  let n = 0;
  let bad = 0;
  let chars = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for await (const r of source.read({ onBadRow: () => bad++ })) {
    n++;
    chars += r.id.length; // touch the record so nothing is optimised away
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  // CPU time as well as wall time: on a shared machine the wall clock mostly measures the neighbours.
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      format, rows: n, bad, seconds, cpuSeconds,
      rowsPerSecond: Math.round(n / seconds),
      rowsPerCpuSecond: Math.round(n / cpuSeconds),
      maxRssMB: Math.round(maxRssMB),
      chars,
    }),
  );
}

async function main(): Promise<void> {
  if (process.argv[2] === 'read') return readAll(process.argv[3], process.argv[4]);
  const rows = Number(process.argv[2] ?? 1_000_000);
  const dir = await mkdtemp(join(tmpdir(), 'imgsift-bench-ingest-'));
  try {
    const jsonl = join(dir, 'manifest.jsonl');
    const csv = join(dir, 'manifest.csv');
    await writeLines(jsonl, rows, (i) => JSON.stringify(row(i)));
    const cols = Object.keys(row(0));
    await writeLines(csv, rows, (i) => Object.values(row(i)).map(csvCell).join(','), cols.join(','));
    for (const [format, file] of [['jsonl', jsonl], ['csv', csv]] as const) {
      const size = (await stat(file)).size;
      const res = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'read', format, file], {
        encoding: 'utf8',
      });
      if (res.status !== 0) throw new Error(`${format} read failed: ${res.stderr}`);
      const r = JSON.parse(res.stdout.trim().split('\n').pop()!);
      console.log(
        `${format.padEnd(5)} ${r.rows} rows (${(size / 1e6).toFixed(0)} MB) in ${r.seconds.toFixed(2)} s: ` +
          `${r.rowsPerSecond.toLocaleString('en-US')} rows/s wall, ${r.rowsPerCpuSecond.toLocaleString('en-US')} rows per CPU-second, ` +
          `peak RSS ${r.maxRssMB} MB, bad rows ${r.bad}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
