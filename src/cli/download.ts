import { Command, InvalidArgumentError, Option } from 'commander';
import { ENCODE_FORMATS, parseByteSize, RESIZE_MODES, INTERPOLATIONS } from '../download/param-values.js';
import type { DownloadParamsInput } from '../download/params.js';
import type { FieldMap } from '../sources/types.js';
import { URL_LIST_FORMATS } from './choices.js';
import { action, parseNonNegativeNumber, parsePositiveInt, reporterFor, withOutputFlags, type CliState, type OutputFlags } from './common.js';
import { interruptSignal } from './signals.js';

interface DownloadFlags extends OutputFlags {
  out: string;
  workdir?: string;
  format?: (typeof URL_LIST_FORMATS)[number];
  urlCol?: string;
  col: Record<string, string>;
  idCol?: string;
  delimiter?: string;
  concurrency?: number;
  perHost?: number;
  timeout?: number;
  connectTimeout?: number;
  totalTimeout?: number;
  retries?: number;
  maxSize?: number;
  maxRedirects?: number;
  resizeMode?: (typeof RESIZE_MODES)[number];
  downscaleInterpolation?: (typeof INTERPOLATIONS)[number];
  upscaleInterpolation?: (typeof INTERPOLATIONS)[number];
  imageSize?: number;
  resizeOnlyIfBigger?: boolean;
  encodeFormat?: (typeof ENCODE_FORMATS)[number];
  encodeQuality?: number;
  skipReencode?: boolean;
  userAgent?: string;
  robots: boolean;
  verifyHash: Record<string, string>;
  retryFailed?: boolean;
  retrySkipped?: boolean;
  maxSamples?: number;
  skipBadRows?: boolean;
  fsync: boolean;
}

/** `role=column` pairs (repeatable); a bare `column` means the main image role. */
function parseRoleColumn(flag: string, bareRole?: string) {
  return (value: string, previous: Record<string, string> = {}): Record<string, string> => {
    const eq = value.indexOf('=');
    const role = eq >= 0 ? value.slice(0, eq).trim() : bareRole;
    const column = (eq >= 0 ? value.slice(eq + 1) : value).trim();
    if (!role || !column || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(role)) {
      throw new InvalidArgumentError(`${flag} takes ROLE=COLUMN${bareRole ? ' or COLUMN' : ''} (got '${value}')`);
    }
    return { ...previous, [role]: column };
  };
}

function parseSize(value: string): number {
  const n = parseByteSize(value);
  if (n === undefined) throw new InvalidArgumentError(`--max-size must be a size such as 20MB, 512KiB or 1000000 (got '${value}')`);
  return n;
}

function parseSeconds(flag: string) {
  return (value: string): number => {
    const n = parseNonNegativeNumber(flag)(value);
    if (n === 0) throw new InvalidArgumentError(`${flag} must be more than 0 seconds`);
    return n;
  };
}

/** The flags as the download step's parameters (only those given, so the step's defaults apply). */
function paramsFrom(o: DownloadFlags): DownloadParamsInput {
  const p: DownloadParamsInput = {
    concurrency: o.concurrency, per_host: o.perHost, read_timeout: o.timeout, connect_timeout: o.connectTimeout,
    total_timeout: o.totalTimeout, retries: o.retries, max_bytes: o.maxSize, max_redirects: o.maxRedirects,
    resize_mode: o.resizeMode, image_size: o.imageSize, resize_only_if_bigger: o.resizeOnlyIfBigger,
    downscale_interpolation: o.downscaleInterpolation, upscale_interpolation: o.upscaleInterpolation,
    encode_format: o.encodeFormat, encode_quality: o.encodeQuality, skip_reencode: o.skipReencode, keep_original: false,
    user_agent: o.userAgent, respect_robots: o.robots, verify_hash: o.verifyHash, retry_failed: o.retryFailed,
    retry_skipped: o.retrySkipped, durable: o.fsync,
  };
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as DownloadParamsInput;
}

export function registerDownload(program: Command, state: CliState): void {
  const cmd = program
    .command('download')
    .description('fetch the URLs of a manifest (txt, jsonl, csv, parquet) with retries; check, resize and store the images; a status per sample')
    .argument('<manifest>', 'URL list: .txt (one URL per line), .jsonl, .csv or .parquet with URL columns')
    .requiredOption('--out <dir>', 'output folder: download_status.parquet/.jsonl, and the catalog and objects/ unless --workdir')
    .option('--workdir <dir>', 'catalog and content-addressed objects/ (default: --out)')
    .addOption(new Option('--format <format>', 'manifest format (default: from the file name)').choices(URL_LIST_FORMATS))
    .option('--url-col <column>', 'column of the main image URL (default: image, url, image_url, ...)')
    .option('--col <role=column>', 'a further URL column fetched with the same sample, e.g. output=output_url (repeatable)', parseRoleColumn('--col'), {})
    .option('--id-col <column>', 'column of the sample id (default: id, else the URL)')
    .option('--delimiter <char>', 'CSV delimiter')
    .option('--concurrency <n>', 'requests in flight (default 64)', parsePositiveInt('--concurrency'))
    .option('--per-host <n>', 'requests in flight per host (default 16)', parsePositiveInt('--per-host'))
    .option('--timeout <s>', 'seconds to wait for headers or between body chunks (default 30)', parseSeconds('--timeout'))
    .option('--connect-timeout <s>', 'seconds to connect (default 10)', parseSeconds('--connect-timeout'))
    .option('--total-timeout <s>', 'seconds one attempt may take in all (default 120)', parseSeconds('--total-timeout'))
    .option('--retries <n>', 'further attempts on timeouts, connection errors, 408, 429, 5xx (default 3)', (v) => Math.trunc(parseNonNegativeNumber('--retries', 20)(v)))
    .option('--max-size <size>', 'largest body accepted, e.g. 20MB (default 50MB)', parseSize)
    .option('--max-redirects <n>', 'redirects followed (default 5)', (v) => Math.trunc(parseNonNegativeNumber('--max-redirects', 50)(v)))
    .addOption(new Option('--resize-mode <mode>', 'resize as img2dataset (default no)').choices(RESIZE_MODES))
    .option('--image-size <px>', 'target size for --resize-mode (default 256)', parsePositiveInt('--image-size'))
    .option('--resize-only-if-bigger', 'never enlarge')
    .addOption(new Option('--downscale-interpolation <kind>', 'interpolation when shrinking, as img2dataset (default area)').choices(INTERPOLATIONS))
    .addOption(new Option('--upscale-interpolation <kind>', 'interpolation when enlarging (default lanczos)').choices(INTERPOLATIONS))
    .addOption(new Option('--encode-format <format>', 'format of the stored images (default jpeg)').choices(ENCODE_FORMATS))
    .option('--encode-quality <q>', 'JPEG/WebP quality, PNG compression level (default 95)', (v) => Math.trunc(parseNonNegativeNumber('--encode-quality', 100)(v)))
    .option('--skip-reencode', 'store the bytes as received when not resized and already in the encode format')
    .option('--user-agent <ua>', 'User-Agent header')
    .option('--no-robots', 'ignore X-Robots-Tag noai / noimageai (by default such files are skipped)')
    .option('--verify-hash <[role=]column>', 'column holding the expected md5/sha1/sha256/sha512 of the file (repeatable)', parseRoleColumn('--verify-hash', 'image'), {})
    .option('--retry-failed', 'fetch again the files that failed in earlier runs')
    .option('--retry-skipped', 'fetch again the files skipped in earlier runs')
    .option('--max-samples <n>', 'only the first N samples of the manifest', parsePositiveInt('--max-samples'))
    .option('--skip-bad-rows', 'go on past malformed manifest rows (counting them)')
    .option('--no-fsync', 'do not fsync stored files (faster; a power loss may lose recent files)');
  withOutputFlags(cmd).action(
    action(state, async (manifest: string, o: DownloadFlags) => {
      const { downloadUrls, formatDownloadSummary } = await import('../download/index.js');
      (await import('../download/resizer.js')).libvipsForDownloads();
      const reporter = reporterFor(o);
      const fields: FieldMap = {};
      if (o.urlCol) fields.image = o.urlCol;
      if (o.idCol) fields.id = o.idCol;
      if (Object.keys(o.col).length) fields.files = o.col;
      const { signal, dispose } = interruptSignal(reporter);
      try {
        const result = await downloadUrls(manifest, {
          out: o.out, workdir: o.workdir, fields, listFormat: o.format, delimiter: o.delimiter, params: paramsFrom(o),
          maxSamples: o.maxSamples, skipBadRows: o.skipBadRows, reporter, signal, argv: process.argv.slice(2),
        });
        if (o.json) {
          const { statusFiles, ...rest } = result;
          process.stdout.write(JSON.stringify({ ...rest, status_files: statusFiles }) + '\n');
        } else {
          process.stdout.write(formatDownloadSummary(result));
        }
        return result.exitCode;
      } finally {
        dispose();
      }
    }),
  );
}
