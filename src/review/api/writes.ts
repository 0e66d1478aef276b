import { z } from 'zod';
import { UsageError } from '../../errors.js';
import { ACCEPT_SUGGESTION, addTags, removeTags, resolveCopies, reviewStates, setDecision, undo, type ChangeResult, type ReviewState, type SampleFilter } from '../decisions.js';
import { boundedText, LIMITS, TagList } from '../limits.js';
import { REVIEW_ACTIONS } from '../taxonomy.js';
import type { ReviewContext } from './context.js';
import { GridFilterSchema } from './filters.js';
import { toSampleFilter } from './grid.js';
import { HttpError } from './http.js';

/**
 * The write endpoints. Every change goes through decisions.ts, which applies it and appends its
 * events in one transaction; this module only says which samples and who.
 *
 * A change names its samples as exactly one of: `id` (the open sample), `ids` (a selection) or
 * `filter` (the whole filtered view, as the grid shows it).
 */
const Target = {
  id: z.string().min(1).optional(),
  ids: z.array(z.string().min(1)).min(1).max(1_000_000).optional(),
  filter: GridFilterSchema.optional(),
  /** Who decides; defaults to the server's --reviewer. Ignored when the access token names the reviewer. */
  reviewer: boundedText('reviewer', LIMITS.reviewer).optional(),
};

export const DecisionBody = z
  .object({ ...Target, action: z.enum([...REVIEW_ACTIONS, ACCEPT_SUGGESTION]).nullable(), newLabel: boundedText('newLabel', LIMITS.label).optional() })
  .strict();
export const TagsBody = z
  .object({ ...Target, add: TagList.optional(), remove: TagList.optional() })
  .strict();
export const UndoBody = z.object({ reviewer: Target.reviewer }).strict();
/** Resolve copies: keep some samples and remove others, as one change (one undo). */
export const ResolveBody = z
  .object({
    keep: z.array(z.string().min(1)).min(1).max(10_000),
    remove: z.array(z.string().min(1)).max(10_000).default([]),
    reviewer: Target.reviewer,
  })
  .strict();

/**
 * Who a change is recorded as: the reviewer the access token names (then the body's name is
 * ignored: history cannot be forged), else the name the page sends, else the server's default.
 */
export type Who = { fixed?: string };
function reviewerOf(ctx: ReviewContext, body: { reviewer?: string }, who: Who): string {
  return who.fixed ?? body.reviewer ?? ctx.defaultReviewer;
}

export interface WriteResult extends ChangeResult {
  /** The new state of the named samples (for `id` and `ids` up to 1000), so the page updates at once. */
  states: Record<string, ReviewState>;
}

const STATES_SHOWN = 1000;

function target(body: { id?: string; ids?: string[]; filter?: z.infer<typeof GridFilterSchema> }): SampleFilter | string[] {
  const given = [body.id !== undefined, body.ids !== undefined, body.filter !== undefined].filter(Boolean).length;
  if (given !== 1) throw new HttpError(400, 'name the samples with exactly one of id, ids or filter');
  if (body.id !== undefined) return [body.id];
  if (body.ids !== undefined) return body.ids;
  return toSampleFilter(body.filter!);
}

async function withStates(ctx: ReviewContext, t: SampleFilter | string[], result: ChangeResult): Promise<WriteResult> {
  ctx.changed();
  const ids = Array.isArray(t) ? t.slice(0, STATES_SHOWN) : [];
  const states = ids.length ? Object.fromEntries(await reviewStates(ctx.catalog, ids)) : {};
  return { ...result, states };
}

export async function postDecision(ctx: ReviewContext, body: z.infer<typeof DecisionBody>, who: Who = {}): Promise<WriteResult> {
  const t = target(body);
  const result = await usage(() =>
    setDecision({ catalog: ctx.catalog, filter: t, action: body.action, newLabel: body.newLabel, reviewer: reviewerOf(ctx, body, who) }),
  );
  return withStates(ctx, t, result);
}

export async function postTags(ctx: ReviewContext, body: z.infer<typeof TagsBody>, who: Who = {}): Promise<WriteResult> {
  const t = target(body);
  const add = body.add ?? [];
  const remove = body.remove ?? [];
  if (add.length === 0 && remove.length === 0) throw new HttpError(400, 'give tags to add or remove');
  if (add.length + remove.length > LIMITS.tagsPerRequest) throw new HttpError(400, `at most ${LIMITS.tagsPerRequest} tags per request (got ${add.length + remove.length})`);
  const reviewer = reviewerOf(ctx, body, who);
  let result: ChangeResult = { change: null, matched: 0, changed: 0 };
  if (add.length) result = await usage(() => addTags({ catalog: ctx.catalog, filter: t, tags: add, reviewer, taxonomy: ctx.taxonomy }));
  if (remove.length) {
    const r = await usage(() => removeTags({ catalog: ctx.catalog, filter: t, tags: remove, reviewer }));
    result = { change: r.change ?? result.change, matched: Math.max(result.matched, r.matched), changed: result.changed + r.changed };
  }
  return withStates(ctx, t, result);
}

export async function postResolve(ctx: ReviewContext, body: z.infer<typeof ResolveBody>, who: Who = {}): Promise<WriteResult> {
  const result = await usage(() => resolveCopies({ catalog: ctx.catalog, keep: body.keep, remove: body.remove, reviewer: reviewerOf(ctx, body, who) }));
  return withStates(ctx, [...body.keep, ...body.remove], result);
}

export async function postUndo(ctx: ReviewContext, body: z.infer<typeof UndoBody>, who: Who = {}) {
  const result = await usage(() => undo({ catalog: ctx.catalog, reviewer: reviewerOf(ctx, body, who) }));
  ctx.changed();
  // The samples the undo touched, so the client can refresh them.
  const ids = result.change
    ? (await ctx.catalog.all<{ id: string }>(`SELECT e.sample_id AS id FROM events e WHERE e.sample_id IS NOT NULL AND json_extract_string(e.new, '$.change') = ? LIMIT ${STATES_SHOWN}`, [result.change])).map((r) => r.id)
    : [];
  const states = ids.length ? Object.fromEntries(await reviewStates(ctx.catalog, ids)) : {};
  return { ...result, states };
}

/** decisions.ts reports bad input (unknown tag, relabel without a label) as UsageError: a 400. */
async function usage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UsageError) throw new HttpError(400, err.message);
    throw err;
  }
}
