import { z } from 'zod';
import { computeHashes, HASH_ALGOS, type HashAlgo } from '../image/hashes.js';
import type { MapStep } from './types.js';

export const HashParamsSchema = z
  .object({
    /** Perceptual hashes to compute (imagehash-compatible, 64 bits, 16 hex digits). */
    algos: z
      .array(z.enum(HASH_ALGOS as [HashAlgo, ...HashAlgo[]], { message: `algos: each must be one of ${HASH_ALGOS.join(', ')}` }))
      .default([...HASH_ALGOS])
      // Deduplicate and order canonically, so [dhash, phash] and [phash, dhash, phash] share a cache key.
      .transform((list) => HASH_ALGOS.filter((a) => list.includes(a))),
    /** Also hash the decoded pixels, so one image re-saved losslessly (PNG ↔ WebP, new metadata) matches. */
    pixel: z.boolean().default(true),
    /** Resample every image from its full-size decode, bit-exact with imagehash but several times slower. */
    exact: z.boolean().default(false),
  })
  .strict();

export type HashParams = z.infer<typeof HashParamsSchema>;

/** The JSON a hash result holds; a hash not asked for is null. */
export interface HashStepResult {
  phash: string | null;
  dhash: string | null;
  ahash: string | null;
  whash: string | null;
  pixel_sha256: string | null;
  [k: string]: string | null;
}

/**
 * Perceptual hashes (phash, dhash, ahash, whash) as Python's imagehash computes them, and the
 * sha256 of the decoded pixels. An image that cannot be decoded throws (the executor records it).
 */
export const hashStep: MapStep<HashParams> = {
  kind: 'map',
  name: 'hash',
  version: 1,
  description: 'imagehash-compatible perceptual hashes (phash, dhash, ahash, whash) and a decoded-pixel sha256',
  params: HashParamsSchema,

  async run(input, params) {
    const h = await computeHashes(input.bytes, params.algos, { pixel: params.pixel, reducedMinSide: params.exact ? 0 : undefined });
    const result: HashStepResult = {
      phash: h.phash ?? null,
      dhash: h.dhash ?? null,
      ahash: h.ahash ?? null,
      whash: h.whash ?? null,
      pixel_sha256: h.pixel_sha256 ?? null,
    };
    return { result };
  },
};
