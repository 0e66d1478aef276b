import { z } from 'zod';
import { DEFAULT_MAX_PIXELS, FAIL_ON_LEVELS } from '../image/probe.js';
import { VERSION } from '../version.js';

/**
 * Options of the downloader, as written in a recipe (`steps: - download: {...}`) in snake_case.
 * The CLI maps its flags onto the same object, so both run the same code with the same defaults.
 * Times are in seconds, sizes in bytes (or a string with a unit: `20MB`, `512KiB`).
 */

import { ENCODE_FORMATS, INTERPOLATIONS, RESIZE_MODES, parseByteSize } from './param-values.js';

export { ENCODE_FORMATS, INTERPOLATIONS, RESIZE_MODES, parseByteSize, type EncodeFormat, type Interpolation, type ResizeMode } from './param-values.js';

const byteSize = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseByteSize(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `a positive size in bytes or with a unit (B, KB, MB, GB, KiB, MiB, GiB), got '${v}'` });
    return z.NEVER;
  }
  return n;
});

const seconds = (max: number) => z.number().positive().max(max);

export const RETRYABLE_STATUSES = ['failed_to_download', 'failed_to_decode', 'skipped'] as const;

export const DownloadParams = z
  .object({
    /** Requests in flight at once, over all hosts. */
    concurrency: z.number().int().min(1).max(4096).default(64),
    /** Requests in flight at once to one host (politeness, and what one server's pool allows). */
    per_host: z.number().int().min(1).max(1024).default(16),
    /** Time to establish a connection (TCP + TLS). */
    connect_timeout: seconds(600).default(10),
    /** Time to wait for the response headers, and the longest pause between two body chunks. */
    read_timeout: seconds(3600).default(30),
    /** Time one attempt may take from request to the last body byte (a slow trickle ends here). */
    total_timeout: seconds(86400).default(120),
    /** Largest body accepted; a larger one is not read past the limit. */
    max_bytes: byteSize.default(50_000_000),
    /** Redirects followed per attempt (a loop is detected and reported as such). */
    max_redirects: z.number().int().min(0).max(50).default(5),
    /** Further attempts after the first, on timeouts, connection errors, 408, 429 and 5xx. */
    retries: z.number().int().min(0).max(20).default(3),
    /** Backoff before retry n: retry_base * 2^(n-1) seconds, times a random factor in [0.5, 1.5). */
    retry_base: seconds(600).default(1),
    /** Longest wait between attempts, including a server's Retry-After; a longer Retry-After fails the file. */
    retry_max_wait: seconds(3600).default(60),
    user_agent: z.string().min(1).default(`imgsift/${VERSION} (image dataset builder)`),
    /** The name X-Robots-Tag directives may address us by (`imgsift: noai`). */
    user_agent_token: z.string().min(1).default('imgsift'),
    /** Skip files whose response carries one of `disallowed_directives` in X-Robots-Tag. */
    respect_robots: z.boolean().default(true),
    disallowed_directives: z.array(z.string().min(1).transform((s) => s.toLowerCase())).default(['noai', 'noimageai']),
    /** As img2dataset: no | keep_ratio (smallest side = image_size) | keep_ratio_largest | center_crop | border. */
    resize_mode: z.enum(RESIZE_MODES).default('no'),
    image_size: z.number().int().min(1).max(65535).default(256),
    /** Only shrink: images already smaller than image_size keep their size. */
    resize_only_if_bigger: z.boolean().default(false),
    /** Interpolation when shrinking and when enlarging, with img2dataset's names and defaults (see download/resizer.ts). */
    downscale_interpolation: z.enum(INTERPOLATIONS).default('area'),
    upscale_interpolation: z.enum(INTERPOLATIONS).default('lanczos'),
    encode_format: z.enum(ENCODE_FORMATS).default('jpeg'),
    /** JPEG/WebP quality 1-100; for PNG the zlib compression level 0-9. */
    encode_quality: z.number().int().min(0).max(100).default(95),
    /** Store the bytes as received when no resize happened and they are already in encode_format. */
    skip_reencode: z.boolean().default(false),
    /**
     * Keep JPEG, PNG and WebP files as received when no resize is asked for (a PNG edit output must
     * not become a lossy JPEG before a mask is computed from it), and re-encode a resized one in its
     * own format; other formats are encoded as encode_format. Default for the download step; the
     * img2dataset-style `imgsift download` command re-encodes unless told otherwise.
     */
    keep_original: z.boolean().default(true),
    /** Decompression-bomb guard: largest width x height decoded. */
    max_pixels: z.number().int().min(1).default(DEFAULT_MAX_PIXELS),
    /** Decoder strictness (sharp's failOn). 'error' rejects truncated and corrupt files. */
    fail_on: z.enum(FAIL_ON_LEVELS as unknown as ['warning', 'error', 'truncated']).default('error'),
    /** Role → manifest column with the expected hash of the bytes as received (md5/sha1/sha256/sha512 by length). */
    verify_hash: z.record(z.string(), z.string().min(1)).default({}),
    /** Fetch again files whose earlier attempt failed (failed_to_download, failed_to_decode). */
    retry_failed: z.boolean().default(false),
    /** Fetch again files skipped earlier (X-Robots-Tag), e.g. after changing respect_robots. */
    retry_skipped: z.boolean().default(false),
    /** fsync each stored file before it is recorded (survives power loss, costs some speed). */
    durable: z.boolean().default(true),
    /** Write `download_status.parquet` and `.jsonl` into the workdir. */
    status_files: z.boolean().default(true),
  })
  .strict();

export type DownloadParams = z.output<typeof DownloadParams>;
export type DownloadParamsInput = z.input<typeof DownloadParams>;

/** Parameters with every default filled in; throws a zod error naming the field on bad input. */
export function downloadParams(input: DownloadParamsInput = {}): DownloadParams {
  return DownloadParams.parse(input);
}
