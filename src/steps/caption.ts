import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { COLUMNS } from '../catalog/catalog.js';
import {
  CAPTION_EXTENSIONS, CLIP_MAX_TOKENS, SIMPLE_TEMPLATE, captionCandidates, captionFields, checkCaption, fillTemplate,
  findDuplicateCaptions, readCaption, templateFromFormat, tokenCounter,
} from '../text/caption.js';
import { isRemoteUri, parseTarMemberUri } from '../util/uri.js';
import type { IssueRecord, Json, ReduceStep, StepContext, StepStats } from './types.js';

/**
 * Captions for LoRA training (seed 003): each active sample's `text` becomes a template filled from
 * its caption file (`.txt`/`.caption` beside the image, as kohya reads them), else the source's
 * text, plus the trigger word, class, label, tags and metadata. The caption checks of
 * src/text/caption.ts become issues of step `caption` (empty, trigger missing, over 75 CLIP tokens,
 * not UTF-8, several lines, duplicated). The text before the step is kept in `meta.caption_source`.
 *
 *   - caption: { template: "{trigger}, {class}, {caption}", trigger: ohwx, class: person }
 *
 * Ingest restores the source's text every run, so a rerun fills the template again from scratch.
 */
export const CaptionParams = z
  .object({
    /** `{name}` placeholders, or the seed's `[name]` notation. */
    template: z.string().min(1).default(SIMPLE_TEMPLATE),
    trigger: z.string().min(1).optional(),
    /** The class word (`{class}`); default the sample's label. */
    class: z.string().min(1).optional(),
    /** Read caption files beside the image (first found of `extensions`). */
    files: z.boolean().default(true),
    extensions: z.array(z.string().regex(/^\.?[A-Za-z0-9_]{1,16}$/)).min(1).default([...CAPTION_EXTENSIONS]),
    /** CLIP tokens allowed (sd-scripts' max_token_length: 75, 150 or 225). */
    max_tokens: z.number().int().min(1).default(CLIP_MAX_TOKENS),
    /** CLIP's vocab.json and merges.txt for exact token counts (relative to the recipe); else approximate. */
    clip_vocab: z.string().min(1).optional(),
    clip_merges: z.string().min(1).optional(),
    /** Samples whose label is one of these keep their caption without the trigger (regularization images). */
    no_trigger_labels: z.array(z.string().min(1)).default([]),
  })
  .strict();
export type CaptionParams = z.infer<typeof CaptionParams>;

interface Row {
  id: string;
  label: string | null;
  text: string | null;
  meta: string | null;
  uri: string | null;
  tags: string[] | null;
}

/** The caption file beside a local image, or null (remote and tar-member images have none). */
async function captionFileOf(uri: string | null, extensions: readonly string[]): Promise<{ path: string; bytes: Buffer } | null> {
  if (!uri || isRemoteUri(uri) || parseTarMemberUri(uri)) return null;
  for (const path of captionCandidates(uri, extensions)) {
    try {
      return { path, bytes: await readFile(path) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return null;
}

function parseMeta(meta: string | null): Record<string, Json> {
  if (!meta) return {};
  try {
    const v = JSON.parse(meta) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, Json>) : {};
  } catch {
    return {};
  }
}

export const captionStep: ReduceStep<CaptionParams> = {
  kind: 'reduce',
  name: 'caption',
  description: 'LoRA captions from a template (trigger, class, caption files, fields) with caption checks as issues',
  params: CaptionParams,
  async run(ctx: StepContext, params: CaptionParams): Promise<StepStats> {
    const { catalog, runId } = ctx;
    const template = templateFromFormat(params.template);
    const counter = tokenCounter({
      vocab: params.clip_vocab && resolve(ctx.baseDir, params.clip_vocab),
      merges: params.clip_merges && resolve(ctx.baseDir, params.clip_merges),
    });
    const rows = await catalog.all<Row>(
      `SELECT a.id, a.label, a.text, a.meta::VARCHAR AS meta, f.uri,
              (SELECT list(t.tag ORDER BY t.tag) FROM tags t WHERE t.sample_id = a.id) AS tags
       FROM active a LEFT JOIN files f ON f.sample_id = a.id AND f.role = 'image' ORDER BY a.id`,
    );
    const issues: Array<IssueRecord & { sample_id: string }> = [];
    const captions: Array<{ id: string; text: string; source: string | null; from: string }> = [];
    let fromFiles = 0;
    const progress = ctx.reporter.progress('caption', rows.length);
    for (const r of rows) {
      ctx.signal?.throwIfAborted();
      const own: IssueRecord[] = [];
      let caption = r.text;
      let from = r.text ? 'text' : 'none';
      const file = params.files ? await captionFileOf(r.uri, params.extensions) : null;
      if (file) {
        const read = readCaption(file.bytes, file.path);
        own.push(...read.issues);
        caption = read.text;
        from = file.path;
        fromFiles++;
      }
      const reg = r.label !== null && params.no_trigger_labels.includes(r.label);
      const meta = parseMeta(r.meta);
      const fields = captionFields({
        caption, label: r.label, tags: r.tags ?? [], meta,
        trigger: reg ? null : params.trigger ?? null,
        className: params.class ?? null,
      });
      if (reg) fields.trigger = undefined;
      const { text } = fillTemplate(template, fields);
      own.push(...checkCaption(text, { trigger: reg ? undefined : params.trigger, counter, maxTokens: params.max_tokens }));
      for (const i of own) issues.push({ ...i, sample_id: r.id });
      captions.push({ id: r.id, text, source: r.text, from });
      progress.tick();
    }
    progress.finish();
    for (const [id, issue] of findDuplicateCaptions(captions)) issues.push({ ...issue, sample_id: id });

    await catalog.transaction(async (tx) => {
      await tx.run(`DELETE FROM issues WHERE step = 'caption' AND source = 'imgsift'`);
      await tx.run(`CREATE TEMP TABLE IF NOT EXISTS stage_captions (id VARCHAR, text VARCHAR, source VARCHAR, origin VARCHAR)`);
      await tx.run(`DELETE FROM stage_captions`);
      await tx.append('stage_captions', { id: 'varchar', text: 'varchar', source: 'varchar', origin: 'varchar' },
        captions.map((c) => ({ id: c.id, text: c.text, source: c.source, origin: c.from })));
      await tx.run(
        `UPDATE samples SET text = c.text,
           meta = json_merge_patch(coalesce(samples.meta, '{}'::JSON), json_object('caption_source', c.source, 'caption_from', c.origin))
         FROM stage_captions c WHERE samples.id = c.id`,
      );
      await tx.append('issues', COLUMNS.issues, issues.map(({ sample_id, type, score, flagged, evidence }) => ({
        sample_id, type, score, flagged, evidence: evidence ?? null, step: 'caption', source: 'imgsift', run_id: runId,
      })));
      await tx.run(`DROP TABLE stage_captions`);
    });

    const stats: StepStats = { captions: captions.length, 'from caption files': fromFiles, template, tokens: counter.exact ? 'exact' : 'approximate' };
    const byType = new Map<string, number>();
    for (const i of issues) if (i.flagged) byType.set(i.type, (byType.get(i.type) ?? 0) + 1);
    for (const [t, n] of [...byType].sort()) stats[t] = n;
    return stats;
  },
};
