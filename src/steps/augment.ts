import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { COLUMNS } from '../catalog/catalog.js';
import { ASSETS_DIR, assetPath, storeAsset } from '../exec/assets.js';
import { augment, augmentSeeds, riskyReasons, SAFE_AUGMENTATIONS, type AppliedAugmentation, type AugmentOptions } from '../image/augment.js';
import { paramsHash, sha256Hex } from '../util/hash.js';
import { readUri } from '../util/uri.js';
import type { ReduceStep, StepContext, StepStats } from './types.js';
import { isDecompressionBomb } from '../image/open.js';
import { appendSkipped, type SkippedEntry } from '../exec/skipped.js';

/**
 * Seed 003's augmentation as derived samples: for `factor` 2 every active sample gets one augmented
 * copy (`<id>/aug1`), for 3 two, and so on. A copy inherits its parent's split, group, label, text
 * (the caption: run `caption` before this step) and metadata, records the parameters actually
 * applied in `meta.augment`, and has its image stored in the workdir's assets as role `image`, so
 * later steps (bucket) and exports treat it as any sample. Seeds are a function of the sample id and
 * copy number, so reruns make the same bytes; results are cached by (sha256 of the parent image,
 * parameters, seed). Put it after the quality gates and dedup: dedup then never compares a copy with
 * its parent. Ingest removes the copies of every parent it reads again, and this step remakes them.
 *
 *   - augment: { factor: 2, skip_labels: [reg] }      # the seed's safe set by default
 */
const VERSION = 1;
const range = z.tuple([z.number(), z.number()]);

export const AugmentParams = z
  .object({
    /** The seed's augment_factor: the original plus factor − 1 copies. */
    factor: z.number().int().min(1).max(20).default(2),
    seed: z.number().int().default(0),
    flip: z.boolean().default(SAFE_AUGMENTATIONS.flip),
    rotate: z.number().min(0).max(45).default(SAFE_AUGMENTATIONS.rotate),
    brightness: range.default(SAFE_AUGMENTATIONS.brightness),
    contrast: range.default(SAFE_AUGMENTATIONS.contrast),
    crop: range.default(SAFE_AUGMENTATIONS.crop),
    color_jitter: z.object({ saturation: range, hue: z.number().min(0).max(180) }).strict().optional(),
    filters: z.object({ blur: range }).strict().optional(),
    /** The seed's risky augmentations (colour jitter, filters, aggressive crop, wider ranges) are refused unless true. */
    allow_risky: z.boolean().default(false),
    /** Samples carrying this review tag, or `meta.<tag>` true, are never flipped. */
    text_tag: z.string().min(1).default('has_text'),
    /** Labels not augmented (regularization images). */
    skip_labels: z.array(z.string().min(1)).default([]),
    format: z.enum(['png', 'jpg', 'webp']).default('png'),
    quality: z.number().int().min(1).max(100).default(95),
  })
  .strict()
  .superRefine((p, ctx) => {
    const risky = riskyReasons(p);
    if (risky.length && !p.allow_risky) {
      ctx.addIssue({ code: 'custom', message: `risky augmentation refused: ${risky.join('; ')} (set allow_risky: true to use it)` });
    }
  });
export type AugmentParams = z.infer<typeof AugmentParams>;

interface Parent {
  id: string;
  uri: string;
  has_text: boolean;
}

interface Made {
  parent: string;
  n: number;
  sha256: string;
  uri: string;
  paramsHash: string;
  applied: AppliedAugmentation;
}

/** The copy's id: `<parent>/aug<n>`, as the seed names its files `<stem>_aug<i>`. */
export const childId = (parent: string, n: number) => `${parent}/aug${n}`;

export const augmentStep: ReduceStep<AugmentParams> = {
  kind: 'reduce',
  name: 'augment',
  description: "seed 003's safe augmentation as derived samples (<id>/aug<n>) with deterministic seeds and recorded parameters",
  params: AugmentParams,
  async run(ctx: StepContext, params: AugmentParams): Promise<StepStats> {
    const { catalog, runId } = ctx;
    const assets = join(ctx.workdir, ASSETS_DIR);
    const rows = await catalog.all<Parent & { label: string | null }>(
      `SELECT a.id, a.label, f.uri,
              EXISTS (SELECT 1 FROM tags t WHERE t.sample_id = a.id AND t.tag = ?)
                OR coalesce(TRY_CAST(json_extract_string(a.meta, '$.' || ?) AS BOOLEAN), false) AS has_text
       FROM active a JOIN files f ON f.sample_id = a.id AND f.role = 'image'
       WHERE a.parent_id IS NULL ORDER BY a.id`,
      [params.text_tag, params.text_tag],
    );
    const parents = rows.filter((r) => r.label === null || !params.skip_labels.includes(r.label));
    const base: Omit<AugmentOptions, 'seed' | 'has_text'> = {
      flip: params.flip, rotate: params.rotate, brightness: params.brightness, contrast: params.contrast, crop: params.crop,
      color_jitter: params.color_jitter, filters: params.filters, format: params.format, quality: params.quality,
    };
    let computed = 0, cached = 0, failed = 0, noFlip = 0;
    const bombs: SkippedEntry[] = [];
    const progress = ctx.reporter.progress('augment', parents.length);
    const made: Made[] = [];
    for (const p of parents) {
      ctx.signal?.throwIfAborted();
      const out = made;
      try {
        const bytes = await readUri(p.uri);
        const sha = sha256Hex(bytes);
        if (p.has_text && params.flip) noFlip++;
        for (const [i, seed] of augmentSeeds(p.id, params.factor, params.seed).entries()) {
          const opts: AugmentOptions = { ...base, seed, has_text: p.has_text };
          const ph = paramsHash({ version: VERSION, opts });
          const hit = await catalog.one<{ result: string; files: string }>(
            `SELECT result::VARCHAR AS result, files::VARCHAR AS files FROM step_results WHERE content_hash = ? AND step = 'augment' AND params_hash = ? AND ok`,
            [sha, ph],
          );
          const file = hit ? (JSON.parse(hit.files) as Array<{ sha256: string; ext: string }>)[0] : undefined;
          if (hit && file && existsSync(assetPath(assets, file.sha256, file.ext))) {
            out.push({ parent: p.id, n: i + 1, sha256: file.sha256, uri: assetPath(assets, file.sha256, file.ext), paramsHash: ph, applied: JSON.parse(hit.result) });
            cached++;
            continue;
          }
          const r = await augment(bytes, opts, params.allow_risky);
          const outSha = sha256Hex(r.bytes);
          const uri = await storeAsset(assets, outSha, params.format, r.bytes);
          await catalog.run(`DELETE FROM step_results WHERE content_hash = ? AND step = 'augment' AND params_hash = ?`, [sha, ph]);
          await catalog.append('step_results', COLUMNS.step_results, [{
            content_hash: sha, step: 'augment', params_hash: ph, ok: true, result: r.applied, issues: [], error: null,
            elapsed_ms: 0, run_id: runId, files: [{ role: 'image', sha256: outSha, ext: params.format }],
          }]);
          out.push({ parent: p.id, n: i + 1, sha256: outSha, uri, paramsHash: ph, applied: r.applied });
          computed++;
        }
      } catch (err) {
        // An image over the pixel limit is refused from its header: skipped, listed, not a failure.
        if (isDecompressionBomb(err)) bombs.push({ path: p.uri, source: 'step augment', reason: 'decompression_bomb', sample_id: p.id, detail: (err as Error).message });
        else {
          failed++;
          if (failed <= 5) ctx.reporter.warn(`augment: ${p.id}: ${(err as Error).message}`);
        }
      }
      progress.tick();
    }
    progress.finish();

    await catalog.transaction(async (tx) => {
      await tx.run(`CREATE OR REPLACE TEMP TABLE stage_aug (id VARCHAR, parent VARCHAR, n INTEGER, sha256 VARCHAR, uri VARCHAR, params_hash VARCHAR, applied JSON)`);
      await tx.append('stage_aug', { id: 'varchar', parent: 'varchar', n: 'int', sha256: 'varchar', uri: 'varchar', params_hash: 'varchar', applied: 'json' },
        made.map((m) => ({ id: childId(m.parent, m.n), parent: m.parent, n: m.n, sha256: m.sha256, uri: m.uri, params_hash: m.paramsHash, applied: m.applied })));
      // Copies made earlier in this run (the step listed twice) are replaced.
      for (const t of ['files', 'issues', 'drops', 'derived_files', 'tags', 'decisions']) {
        await tx.run(`DELETE FROM ${t} WHERE sample_id IN (SELECT id FROM stage_aug)`);
      }
      await tx.run(`DELETE FROM samples WHERE id IN (SELECT id FROM stage_aug)`);
      await tx.run(`INSERT INTO samples (id, source, source_ref, path, source_split, split, label, text, group_key, meta, ord, first_run, seen_run, drop_run, parent_id)
        SELECT g.id, s.source, s.source_ref, s.path, s.source_split, s.split, s.label, s.text, s.group_key,
               json_merge_patch(coalesce(s.meta, '{}'::JSON), json_object('augment', g.applied, 'augment_of', s.id)),
               (SELECT coalesce(max(ord), 0) FROM samples) + row_number() OVER (ORDER BY g.id), ${runId}, ${runId}, NULL, s.id
        FROM stage_aug g JOIN samples s ON s.id = g.parent`);
      await tx.run(`INSERT INTO files SELECT id, 'image', uri FROM stage_aug`);
      await tx.run(`INSERT INTO derived_files SELECT id, 'image', sha256, uri, 'augment', params_hash, parent || '#' || n, ${runId} FROM stage_aug`);
      await tx.run(`DROP TABLE stage_aug`);
    });

    await appendSkipped(ctx.workdir, bombs);
    const stats: StepStats = { 'samples augmented': parents.length - failed - bombs.length, 'copies made': made.length, 'copies computed': computed, 'copies from cache': cached };
    if (noFlip) stats['not flipped (has_text)'] = noFlip;
    if (failed) stats['samples failed'] = failed;
    if (bombs.length) stats['skipped (decompression_bomb)'] = bombs.length;
    return stats;
  },
};
