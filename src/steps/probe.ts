import { z } from 'zod';
import {
  DEFAULT_MAX_PIXELS,
  EXTENSION_FORMATS,
  FAIL_ON_LEVELS,
  canonicalFormat,
  probeImage,
  probeInfo,
  type FailOn,
} from '../image/probe.js';
import type { IssueRecord, MapStep, StepContext, StepStats } from './types.js';

const KNOWN_FORMATS = [...new Set(Object.values(EXTENSION_FORMATS))].sort();

export const ProbeParamsSchema = z
  .object({
    /** Largest width x height of one page that is decoded; bigger images are `decompression_bomb`. */
    max_pixels: z.number().int().positive().default(DEFAULT_MAX_PIXELS),
    /** When given, images of any other format get a `disallowed_format` issue. Aliases allowed (jpg, tif). */
    allowed_formats: z
      .array(
        z.string().transform((s, ctx) => {
          const f = canonicalFormat(s);
          if (!f) {
            ctx.addIssue({ code: 'custom', message: `unknown image format '${s}'; known: ${KNOWN_FORMATS.join(', ')}` });
            return z.NEVER;
          }
          return f;
        }),
      )
      .min(1)
      .optional(),
    /** Decoder strictness: 'warning' (default) counts any decoder warning as corrupt. */
    fail_on: z.enum(FAIL_ON_LEVELS as [FailOn, ...FailOn[]]).default('warning'),
  })
  .strict();

export type ProbeParams = z.infer<typeof ProbeParamsSchema>;

/**
 * Reads what each image is (format, size, colour space, depth, pages, orientation) and whether it
 * fully decodes; records the issues listed in src/image/probe.ts, plus `disallowed_format` (flagged)
 * when `allowed_formats` is set. After the run it materialises the `assets` table.
 */
export const probeStep: MapStep<ProbeParams> = {
  kind: 'map',
  name: 'probe',
  // 2: wrong_extension left the cached result (it depends on the name, not the bytes).
  version: 2,
  description: 'format, dimensions, colour space, bit depth, pages, EXIF orientation; full decode check and decompression-bomb guard',
  params: ProbeParamsSchema,

  async run(input, params) {
    const probed = await probeImage(input.bytes, input.name, { maxPixels: params.max_pixels, failOn: params.fail_on });
    const issues: IssueRecord[] = probed.issues;
    const allowed = params.allowed_formats;
    if (allowed && probed.format && !allowed.includes(probed.format)) {
      issues.push({ type: 'disallowed_format', score: 1, flagged: true, evidence: { format: probed.format, allowed } });
    }
    // The cache is keyed by content; whether the name's extension fits is decided per sample after the run.
    return { result: probeInfo(probed), issues: issues.filter((i) => i.type !== 'wrong_extension') };
  },

  async afterAll(ctx, _params, paramsHash) {
    await materialiseAssets(ctx, paramsHash);
    await wrongExtensionIssues(ctx);
  },

  async stats(ctx, params, paramsHash) {
    return probeStats(ctx, paramsHash, params.allowed_formats !== undefined);
  },
};

/** The `assets` table of this run's contents, from the probe's cached results. */
async function materialiseAssets(ctx: StepContext, paramsHash: string): Promise<void> {
    await ctx.catalog.run(
      `INSERT OR REPLACE INTO assets
       SELECT r.content_hash,
         CAST(r.result->>'bytes' AS BIGINT),
         r.result->>'format',
         CAST(r.result->>'width' AS INTEGER),
         CAST(r.result->>'height' AS INTEGER),
         CAST(r.result->>'channels' AS INTEGER),
         CAST(r.result->>'bit_depth' AS INTEGER),
         r.result->>'color_space',
         CAST(r.result->>'has_alpha' AS BOOLEAN),
         CAST(r.result->>'orientation' AS INTEGER),
         CAST(r.result->>'pages' AS INTEGER),
         CAST(r.result->>'decodes' AS BOOLEAN),
         r.result->>'error'
       FROM step_results r
       WHERE r.step = 'probe' AND r.params_hash = $1 AND r.ok
         AND r.content_hash IN (${ACTIVE_CONTENTS})`,
      [paramsHash, ctx.runId],
    );
}

/**
 * `wrong_extension`, per sample: the extension of the sample's name says one format, the content
 * is another. Computed from the name and the probed format, outside the content cache, so two
 * samples with the same bytes under different names each get their own answer.
 */
async function wrongExtensionIssues(ctx: StepContext): Promise<void> {
  const pairs = Object.entries(EXTENSION_FORMATS).map(([e, f]) => `('${e}', '${f}')`).join(', ');
  await ctx.catalog.run(`INSERT INTO issues
    SELECT a.id, 'wrong_extension', 1.0, true,
      json_object('extension', x.ext, 'detected', s.format, 'expected', m.format), 'probe', 'imgsift', ${Math.trunc(ctx.runId)}
    FROM active a
    JOIN files f ON f.sample_id = a.id AND f.role = 'image'
    JOIN file_status fs ON fs.uri = f.uri AND fs.sha256 IS NOT NULL
    JOIN assets s ON s.sha256 = fs.sha256 AND s.format IS NOT NULL,
    LATERAL (SELECT lower(regexp_extract(coalesce(a.path, f.uri), '\\.([^./]+)$', 1)) AS ext) x
    JOIN (VALUES ${pairs}) m(ext, format) ON m.ext = x.ext
    WHERE m.format <> s.format`);
}

/** Contents of the active samples' images as read in this run ($2 = run id). */
const ACTIVE_CONTENTS = `SELECT fs.sha256 FROM active a
  JOIN files f ON f.sample_id = a.id AND f.role = 'image'
  JOIN file_status fs ON fs.uri = f.uri AND fs.run_id = $2 AND fs.sha256 IS NOT NULL`;

/** Issue type → label in the build summary (counts of samples that have it). */
const COUNTED: Array<[string, string]> = [
  ['corrupt', 'corrupt'],
  ['decompression_bomb', 'decompression bombs'],
  ['cmyk', 'cmyk'],
  ['wrong_extension', 'wrong extension'],
  ['animated', 'animated / multi-page'],
  ['high_bit_depth', 'high bit depth (info)'],
  ['exif_rotated', 'exif rotated (info)'],
];

/** Per-sample figures of this run's probe results (a content shared by two samples counts twice). */
async function probeStats(ctx: StepContext, paramsHash: string, withAllowed: boolean): Promise<StepStats> {
  const counted = withAllowed ? [...COUNTED, ['disallowed_format', 'disallowed format'] as [string, string]] : COUNTED;
  const issueCols = counted
    .map(([type], i) => `count(*) FILTER (WHERE list_contains(types, '${type}')) AS c${i}`)
    .join(', ');
  const row = await ctx.catalog.one<Record<string, unknown>>(
    `WITH probed AS (
       SELECT r.ok, CAST(r.result->>'decodes' AS BOOLEAN) AS decodes,
         json_extract_string(r.issues, '$[*].type') AS types
       FROM active a
       JOIN files f ON f.sample_id = a.id AND f.role = 'image'
       JOIN file_status fs ON fs.uri = f.uri AND fs.run_id = $2 AND fs.sha256 IS NOT NULL
       JOIN step_results r ON r.content_hash = fs.sha256 AND r.step = 'probe' AND r.params_hash = $1
     )
     SELECT count(*) FILTER (WHERE ok) AS probed,
       count(*) FILTER (WHERE NOT ok) AS failed,
       count(*) FILTER (WHERE decodes) AS decoded,
       ${issueCols}
     FROM probed`,
    [paramsHash, ctx.runId],
  );
  const formats = await ctx.catalog.all<{ format: string | null; n: bigint }>(
    `SELECT r.result->>'format' AS format, count(*) AS n
     FROM active a
     JOIN files f ON f.sample_id = a.id AND f.role = 'image'
     JOIN file_status fs ON fs.uri = f.uri AND fs.run_id = $2 AND fs.sha256 IS NOT NULL
     JOIN step_results r ON r.content_hash = fs.sha256 AND r.step = 'probe' AND r.params_hash = $1 AND r.ok
     GROUP BY 1 ORDER BY n DESC, format NULLS LAST`,
    [paramsHash, ctx.runId],
  );
  const num = (v: unknown) => Number(v ?? 0);
  const stats: StepStats = {
    'samples probed': num(row?.probed),
    'decoded ok': num(row?.decoded),
  };
  counted.forEach(([, label], i) => {
    stats[label] = num(row?.[`c${i}`]);
  });
  // Decided per sample name after the run, so counted from the run's issues.
  stats['wrong extension'] = await ctx.catalog.scalar(
    `SELECT count(DISTINCT i.sample_id) FROM issues i JOIN active a ON a.id = i.sample_id WHERE i.type = 'wrong_extension' AND i.step = 'probe'`,
  );
  if (num(row?.failed) > 0) stats['probe failed'] = num(row?.failed);
  stats.formats = formats.map((f) => `${f.format ?? 'unknown'} ${Number(f.n)}`).join(', ');
  return stats;
}
