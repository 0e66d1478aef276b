import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { makeTransformer, TransformError, type TransformRule } from '../text/transform.js';
import { cacheJoin, fillTextCache } from '../text/text-cache.js';
import { findClipTokenizer, type ClipTokenizerFiles } from '../text/clip-files.js';
import { paramsHash } from '../util/hash.js';
import type { ReduceStep, StepContext, StepStats } from './types.js';

/**
 * Prompt preprocessing: rewrite the `text` of every active sample with an ordered list of rules
 * (src/text/transform.ts), keeping the text as the source had it in `meta.text_original`. Runs on
 * whatever the source gave, so every source (added ones included) is preprocessed alike; ingest
 * restores the source text on each run and the step re-applies, from its cache (text_results,
 * keyed by the text's sha256 and the rules), so a rerun computes only new texts.
 *
 *   - text_transform:
 *       rules:
 *         - unicode: NFKC
 *         - whitespace: true
 *         - case: lower
 *         - replace: { pattern: '\((.*?)\)', with: '$1' }
 *         - remove_words: { file: names.txt }      # one word or phrase per line, '#' comments
 *         - trim_modifiers: {}                      # repeated modifiers, dangling "by" / "of"
 *         - max_length: { chars: 200 }              # or { words: 60 }, or { tokens: 75, tokenizer: models/clip }
 */

const VERSION = 1;

const RuleSchema = z.union([
  z.object({ unicode: z.enum(['NFKC', 'NFC']) }).strict(),
  z.object({ whitespace: z.literal(true) }).strict(),
  z.object({ case: z.enum(['lower', 'upper']) }).strict(),
  z.object({
    replace: z.object({ pattern: z.string().min(1), with: z.string().default(''), flags: z.string().regex(/^[imsu]*$/, 'flags: i, m, s, u').optional() }).strict(),
  }).strict(),
  z.object({
    remove_words: z
      .object({
        words: z.array(z.string().min(1)).optional(),
        /** Files of words or phrases, one per line (relative to the recipe). */
        file: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
      })
      .strict()
      .refine((r) => r.words !== undefined || r.file !== undefined, { message: 'remove_words: give words or file' }),
  }).strict(),
  z.object({
    trim_modifiers: z.object({ dangling: z.array(z.string().min(1)).optional(), duplicates: z.boolean().optional() }).strict(),
  }).strict(),
  z.object({
    max_length: z
      .object({
        chars: z.number().int().min(1).optional(),
        words: z.number().int().min(1).optional(),
        /** CLIP BPE tokens between the start and end markers (75 for CLIP's 77-token context). */
        tokens: z.number().int().min(1).optional(),
        /** With tokens: a directory holding CLIP's vocab.json and merges.txt, or the vocab.json (relative to the recipe). */
        tokenizer: z.string().min(1).optional(),
      })
      .strict()
      .refine((m) => m.chars !== undefined || m.words !== undefined || m.tokens !== undefined, { message: 'max_length: give chars, words or tokens' })
      .refine((m) => m.tokens === undefined || m.tokenizer !== undefined, {
        message: "max_length: tokens needs tokenizer: a directory holding CLIP's vocab.json and merges.txt (or the vocab.json file); nothing is downloaded",
        path: ['tokenizer'],
      }),
  }).strict(),
]);

export const TextTransformParams = z.object({ rules: z.array(RuleSchema).min(1) }).strict();
export type TextTransformParams = z.infer<typeof TextTransformParams>;

/** Read a word list: one entry per line, blank lines and `#` comments skipped. */
export async function readWordList(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError({ file, field: 'remove_words.file' }, `cannot read the word list: ${(err as Error).message}`);
  }
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** The recipe's rules with word-list files read, ready for makeTransformer (and for the cache key). */
export async function resolveRules(params: TextTransformParams, baseDir: string): Promise<TransformRule[]> {
  const out: TransformRule[] = [];
  for (const r of params.rules) {
    if ('remove_words' in r) {
      const files = r.remove_words.file === undefined ? [] : Array.isArray(r.remove_words.file) ? r.remove_words.file : [r.remove_words.file];
      const words = [...(r.remove_words.words ?? [])];
      for (const f of files) words.push(...(await readWordList(resolve(baseDir, f))));
      out.push({ remove_words: { words } });
    } else if ('max_length' in r && r.max_length.tokenizer !== undefined) {
      // The files' hash goes into the rule (and so the cache key): a new vocabulary recomputes.
      const { tokenizer, ...limits } = r.max_length;
      out.push({ max_length: { ...limits, tokenizer: findClipTokenizer(resolve(baseDir, tokenizer), 'text_transform.max_length.tokenizer') } });
    } else out.push(r as TransformRule);
  }
  return out;
}

/** A rule as the cache key sees it: a tokenizer by its files' hash, not where they are. */
function cacheView(rule: TransformRule): unknown {
  if (!('max_length' in rule) || !rule.max_length.tokenizer) return rule;
  const { tokenizer, ...limits } = rule.max_length;
  return { max_length: { ...limits, tokenizer: (tokenizer as Partial<ClipTokenizerFiles>).sha256 ?? tokenizer } };
}

export const textTransformStep: ReduceStep<TextTransformParams> = {
  kind: 'reduce',
  name: 'text_transform',
  description: 'prompt preprocessing by ordered rules (NFKC, spaces, case, regex, word lists, modifiers, length); original kept in meta.text_original',
  params: TextTransformParams,
  async run(ctx: StepContext, params: TextTransformParams): Promise<StepStats> {
    const { catalog, runId } = ctx;
    const rules = await resolveRules(params, ctx.baseDir);
    let transform: (s: string) => string;
    try {
      transform = makeTransformer(rules);
    } catch (err) {
      if (err instanceof TransformError) throw new InputError({ file: 'recipe', field: 'text_transform.rules' }, err.message);
      throw err;
    }
    const key = { step: 'text_transform', paramsHash: paramsHash({ version: VERSION, rules: rules.map(cacheView) }) };
    const progress = ctx.reporter.progress('text transform');
    const fill = await fillTextCache(catalog, runId, key, 'text', transform, (n) => {
      ctx.signal?.throwIfAborted();
      progress.tick(n);
    });
    progress.finish();

    const changed = await catalog.scalar(
      `SELECT count(*) FROM active a JOIN text_results c ON ${cacheJoin('a.text')} WHERE c.result IS NOT NULL AND c.result <> a.text`,
      [key.step, key.paramsHash],
    );
    // The first transform of a run keeps the source's text; a second one leaves it alone.
    await catalog.run(
      `UPDATE samples SET text = u.result,
         meta = CASE WHEN json_extract(samples.meta, '$.text_original') IS NOT NULL THEN samples.meta
                     ELSE json_merge_patch(coalesce(samples.meta, '{}'::JSON), json_object('text_original', samples.text)) END
       FROM (SELECT a.id, c.result FROM active a JOIN text_results c ON ${cacheJoin('a.text')}
             WHERE c.result IS NOT NULL AND c.result <> a.text) u
       WHERE samples.id = u.id`,
      [key.step, key.paramsHash],
    );
    if (fill.failed > 0) {
      ctx.reporter.warn(`text_transform: ${fill.failed} text(s) left as they were, e.g. ${fill.failures[0]}`);
    }
    const stats: StepStats = {
      'texts computed': fill.computed,
      'texts from cache': fill.cached,
      'samples changed': changed,
    };
    if (fill.failed) stats['texts failed'] = fill.failed;
    return stats;
  },
};
