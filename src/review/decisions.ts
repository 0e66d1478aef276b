import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { DuckDBValue } from '@duckdb/node-api';
import type { Catalog } from '../catalog/catalog.js';
import { latestRunId, useRun } from '../catalog/run-view.js';
import { UsageError } from '../errors.js';
import { isReviewAction, loadTaxonomy, REVIEW_ACTIONS, type ReviewAction, type Taxonomy } from './taxonomy.js';

/**
 * Review decisions: tags and keep/remove/relabel decisions on samples, with an append-only
 * history in `events`. Used by the review app's HTTP API and by users' scripts.
 */

/**
 * Which samples a review operation (or a grid page of the review app) is about. Every field
 * narrows the set (AND); a list means "any of". The issue fields (`issue`, `source`, `scoreMin`,
 * `scoreMax`) constrain one and the same issue row: `{issue: 'mislabel', source: 'visual_layer',
 * scoreMin: 0.9}` is "a VL mislabel flag with confidence >= 0.9" — seed 002's batch-tag query.
 */
const oneOrMany = z.union([z.string(), z.array(z.string())]);

export const SampleFilterSchema = z
  .object({
    ids: z.array(z.string()).optional(),
    split: oneOrMany.optional(),
    label: oneOrMany.optional(),
    /** Issue types. Without a score range only flagged issues count. */
    issue: oneOrMany.optional(),
    /** Issue source: 'imgsift' or an imported tool ('visual_layer', ...). */
    source: oneOrMany.optional(),
    /** Score range of the matching issue (inclusive); with a range, unflagged issues count too. */
    scoreMin: z.number().optional(),
    scoreMax: z.number().optional(),
    /** true: has a flagged issue (matching the issue fields); false: has no flagged issue at all. */
    flagged: z.boolean().optional(),
    /** Review tags (any of). */
    tag: oneOrMany.optional(),
    /** Review decision: keep, remove, relabel, or 'none' for undecided samples. */
    decision: oneOrMany.optional(),
    /** Case-insensitive substring of the id or path. */
    search: z.string().optional(),
    /**
     * Which samples are candidates: 'active' (the run's kept samples), 'run' (every sample the
     * latest ingest listed, dropped ones included) or 'all' (every sample in the catalog).
     * Default: 'all' for a filter of explicit ids only, else 'active'.
     */
    scope: z.enum(['active', 'run', 'all']).optional(),
  })
  .strict();
export type SampleFilter = z.infer<typeof SampleFilterSchema>;
export type SampleScope = NonNullable<SampleFilter['scope']>;

/** A WHERE clause with `?` placeholders, and the values for them in order. */
export interface SqlFragment {
  sql: string;
  params: DuckDBValue[];
}

/** A JSON array bound as one parameter: no per-value placeholders, any length. */
const LIST = `(SELECT unnest(from_json(?, '["VARCHAR"]')))`;

function list(v: string | string[]): string[] {
  return Array.isArray(v) ? v : [v];
}

/**
 * The conditions one issue row must meet for a filter's issue fields (type, source, score range,
 * flagged), all on the same row; columns are prefixed with `prefix` (e.g. 'i.'). Shared by
 * filterSql and the review grid, which reads issues from its own table.
 */
export function issueRowConditions(filter: SampleFilter, prefix = ''): SqlFragment {
  const hasRange = filter.scoreMin !== undefined || filter.scoreMax !== undefined;
  const ic: string[] = [];
  const ip: DuckDBValue[] = [];
  if (!hasRange || filter.flagged === true) ic.push(`${prefix}flagged`);
  if (filter.issue !== undefined) {
    ic.push(`${prefix}type IN ${LIST}`);
    ip.push(JSON.stringify(list(filter.issue)));
  }
  if (filter.source !== undefined) {
    ic.push(`${prefix}source IN ${LIST}`);
    ip.push(JSON.stringify(list(filter.source)));
  }
  if (filter.scoreMin !== undefined) {
    ic.push(`${prefix}score >= ?`);
    ip.push(filter.scoreMin);
  }
  if (filter.scoreMax !== undefined) {
    ic.push(`${prefix}score <= ?`);
    ip.push(filter.scoreMax);
  }
  return { sql: ic.length ? ic.join(' AND ') : 'true', params: ip };
}

/**
 * The WHERE condition of a filter over a sample relation aliased `alias` (columns of `samples`).
 * Use it as `SELECT ... FROM active s WHERE ${f.sql}` with `f.params` (then your own params).
 */
export function filterSql(filter: SampleFilter, alias = 's'): SqlFragment {
  const a = alias;
  const conds: string[] = [];
  const params: DuckDBValue[] = [];
  const inList = (column: string, values: string | string[]) => {
    conds.push(`${column} IN ${LIST}`);
    params.push(JSON.stringify(list(values)));
  };
  if (filter.ids !== undefined) inList(`${a}.id`, filter.ids);
  if (filter.split !== undefined) inList(`${a}.split`, filter.split);
  if (filter.label !== undefined) inList(`${a}.label`, filter.label);

  const hasRange = filter.scoreMin !== undefined || filter.scoreMax !== undefined;
  const issueFields = filter.issue !== undefined || filter.source !== undefined || hasRange;
  if (issueFields || filter.flagged === true) {
    const ic = issueRowConditions(filter, 'i.');
    conds.push(`EXISTS (SELECT 1 FROM issues i WHERE i.sample_id = ${a}.id AND ${ic.sql})`);
    params.push(...ic.params);
  }
  if (filter.flagged === false) {
    if (issueFields) throw new UsageError('filter: flagged: false cannot be combined with issue, source or a score range');
    conds.push(`NOT EXISTS (SELECT 1 FROM issues i WHERE i.sample_id = ${a}.id AND i.flagged)`);
  }
  if (filter.tag !== undefined) {
    conds.push(`EXISTS (SELECT 1 FROM tags t WHERE t.sample_id = ${a}.id AND t.tag IN ${LIST})`);
    params.push(JSON.stringify(list(filter.tag)));
  }
  if (filter.decision !== undefined) {
    const wanted = list(filter.decision);
    const actions = wanted.filter((d) => d !== 'none');
    const parts: string[] = [];
    if (actions.length) {
      parts.push(`EXISTS (SELECT 1 FROM decisions d WHERE d.sample_id = ${a}.id AND d.action IN ${LIST})`);
      params.push(JSON.stringify(actions));
    }
    if (wanted.includes('none')) parts.push(`NOT EXISTS (SELECT 1 FROM decisions d WHERE d.sample_id = ${a}.id)`);
    conds.push(parts.length ? `(${parts.join(' OR ')})` : 'false');
  }
  if (filter.search !== undefined && filter.search !== '') {
    const pattern = `%${filter.search.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
    conds.push(`(${a}.id ILIKE ? ESCAPE '\\' OR ${a}.path ILIKE ? ESCAPE '\\')`);
    params.push(pattern, pattern);
  }
  return { sql: conds.length ? conds.join(' AND ') : 'true', params };
}

/** The scope a filter applies to when it does not say (explicit ids name samples directly). */
export function scopeOf(filter: SampleFilter): SampleScope {
  if (filter.scope) return filter.scope;
  const keys = Object.entries(filter).filter(([, v]) => v !== undefined).map(([k]) => k);
  return keys.length === 1 && keys[0] === 'ids' ? 'all' : 'active';
}

/** The relation a scope selects from, as SQL usable after FROM. */
export function scopeSql(scope: SampleScope): string {
  switch (scope) {
    case 'active':
      return 'active';
    case 'run':
      return '(SELECT * FROM samples WHERE seen_run = (SELECT max(seen_run) FROM samples))';
    case 'all':
      return 'samples';
  }
}

/** `SELECT <columns> FROM <scope> s WHERE <filter>`: the samples a filter selects. */
export function selectSamplesSql(filter: SampleFilter, columns = 's.id'): SqlFragment {
  const where = filterSql(filter, 's');
  return { sql: `SELECT ${columns} FROM ${scopeSql(scopeOf(filter))} s WHERE ${where.sql}`, params: where.params };
}

/** Accepts the seed's list of ids as shorthand for `{ ids }`, and validates a structured filter. */
export function normaliseFilter(filter: SampleFilter | readonly string[]): SampleFilter {
  if (Array.isArray(filter)) return { ids: [...filter] as string[] };
  const parsed = SampleFilterSchema.safeParse(filter);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new UsageError(`filter.${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  return parsed.data;
}

const haveActive = new WeakSet<Catalog>();

/**
 * Make sure the connection's `active` view exists (pointing at the newest finished run) before a
 * filter over it runs. A caller that already chose a run with useRun keeps its choice.
 */
export async function ensureActiveView(catalog: Catalog): Promise<void> {
  if (haveActive.has(catalog)) return;
  const exists = await catalog.scalar(`SELECT count(*) FROM duckdb_views() WHERE view_name = 'active' AND temporary`);
  if (!exists) {
    const run = await latestRunId(catalog);
    if (run === undefined) throw new UsageError(`catalog ${catalog.path} has no runs yet; build the recipe first`);
    await useRun(catalog, run);
  }
  haveActive.add(catalog);
}

// ---------------------------------------------------------------------------------------------
// Changes. Every change is one transaction: it selects its samples, snapshots their review state
// (tags + decision), applies itself, and appends one `events` row per sample whose state changed
// (old and new snapshots) plus one summary row (sample_id NULL). Because the selection and the
// snapshot happen inside the transaction, and the Catalog runs one transaction at a time,
// concurrent callers never overwrite each other's changes with stale state.
// ---------------------------------------------------------------------------------------------

/** A sample's review state, as stored in events' old/new JSON. */
export interface ReviewState {
  tags: string[];
  decision: { action: ReviewAction; new_label: string | null } | null;
}

/** Event `action` values written by review changes (imports write 'import'). */
export type ReviewEventAction = 'tag' | 'untag' | 'decide' | 'undo';
const UNDOABLE: ReviewEventAction[] = ['tag', 'untag', 'decide'];

export interface ChangeResult {
  /** Id of the change (shared by its events), or null when nothing changed. */
  change: string | null;
  /** Samples the filter selected. */
  matched: number;
  /** Samples whose tags or decision actually changed (= per-sample events written). */
  changed: number;
  /** accept_suggestion: selected samples with no suggested label (left undecided). */
  skipped?: number;
}

type Target = SampleFilter | readonly string[];

/**
 * What a change may decide: a stored action, or `accept_suggestion`, which stores a `relabel`
 * to the label an issue suggests (a vendor's suggested_label; the flagged issue with the highest
 * score wins). Samples without a suggestion are left as they are and counted in `skipped`.
 */
export const ACCEPT_SUGGESTION = 'accept_suggestion';
export type DecisionAction = ReviewAction | typeof ACCEPT_SUGGESTION;

/** The best suggested label of each sample in review_target, as a relation (sample_id, suggested). */
const SUGGESTIONS = `(SELECT i.sample_id, first(json_extract_string(i.evidence, '$.suggested_label')
      ORDER BY i.score DESC NULLS LAST, i.type, json_extract_string(i.evidence, '$.suggested_label')) AS suggested
    FROM issues i WHERE i.flagged AND i.sample_id IN (SELECT id FROM review_target)
      AND json_extract_string(i.evidence, '$.suggested_label') IS NOT NULL GROUP BY i.sample_id)`;

export interface AddTagsOptions {
  catalog: Catalog;
  /** Explicit ids (seed 002's image_ids) or a structured filter. */
  filter: Target;
  tags: readonly string[];
  /** Also decide: keep, remove, relabel (needs newLabel) or accept_suggestion. */
  action?: DecisionAction;
  newLabel?: string;
  reviewer: string;
  /** Defaults to the catalog's taxonomy (standard tags + the recipe's). */
  taxonomy?: Taxonomy;
}

/** Seed 002's add_user_tags_batch: tag every selected sample, optionally deciding for it too. */
export async function addTags(o: AddTagsOptions): Promise<ChangeResult> {
  const reviewer = checkReviewer(o.reviewer);
  const taxonomy = o.taxonomy ?? (await loadTaxonomy(o.catalog));
  const tags = taxonomy.check(o.tags);
  const accept = o.action === ACCEPT_SUGGESTION;
  if (accept && o.newLabel !== undefined) throw new UsageError(`newLabel is not allowed with action 'accept_suggestion' (the suggestion is the label)`);
  const decision = o.action === undefined || accept ? undefined : checkDecision(o.action, o.newLabel);
  if (o.action === undefined && o.newLabel !== undefined) throw new UsageError(`newLabel is only allowed with action 'relabel'`);
  const what = { tags, ...(decision ? { action: decision.action, new_label: decision.newLabel } : accept ? { action: ACCEPT_SUGGESTION } : {}) };
  let skipped = 0;
  const result = await change(o.catalog, 'tag', reviewer, o.filter, what, async (tx) => {
    await tx.run(
      `INSERT OR IGNORE INTO tags (sample_id, tag, reviewer, created_at)
       SELECT t.id, g.tag, ?, current_timestamp FROM review_target t, (SELECT unnest(from_json(?, '["VARCHAR"]')) AS tag) g`,
      [reviewer, JSON.stringify(tags)],
    );
    if (decision) await applyDecision(tx, decision.action, decision.newLabel, reviewer);
    if (accept) skipped = await applySuggestions(tx, reviewer);
  });
  return accept ? { ...result, skipped } : result;
}

export interface RemoveTagsOptions {
  catalog: Catalog;
  filter: Target;
  /** Tags to take off (any names: tags no longer in the taxonomy can be cleaned up too). */
  tags: readonly string[];
  reviewer: string;
}

export async function removeTags(o: RemoveTagsOptions): Promise<ChangeResult> {
  const reviewer = checkReviewer(o.reviewer);
  if (o.tags.length === 0) throw new UsageError('no tags given');
  const tags = [...new Set(o.tags)];
  return change(o.catalog, 'untag', reviewer, o.filter, { tags }, async (tx) => {
    await tx.run(
      `DELETE FROM tags WHERE sample_id IN (SELECT id FROM review_target) AND tag IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`,
      [JSON.stringify(tags)],
    );
  });
}

export interface SetDecisionOptions {
  catalog: Catalog;
  filter: Target;
  /** keep / remove / relabel / accept_suggestion, or null to clear the decision. */
  action: DecisionAction | null;
  newLabel?: string;
  reviewer: string;
}

export async function setDecision(o: SetDecisionOptions): Promise<ChangeResult> {
  const reviewer = checkReviewer(o.reviewer);
  if (o.action === null) {
    if (o.newLabel !== undefined) throw new UsageError(`newLabel is only allowed with action 'relabel'`);
    return change(o.catalog, 'decide', reviewer, o.filter, { action: null }, async (tx) => {
      await tx.run(`DELETE FROM decisions WHERE sample_id IN (SELECT id FROM review_target)`);
    });
  }
  if (o.action === ACCEPT_SUGGESTION) {
    if (o.newLabel !== undefined) throw new UsageError(`newLabel is not allowed with action 'accept_suggestion' (the suggestion is the label)`);
    let skipped = 0;
    const r = await change(o.catalog, 'decide', reviewer, o.filter, { action: ACCEPT_SUGGESTION }, async (tx) => {
      skipped = await applySuggestions(tx, reviewer);
    });
    return { ...r, skipped };
  }
  const d = checkDecision(o.action, o.newLabel);
  return change(o.catalog, 'decide', reviewer, o.filter, { action: d.action, new_label: d.newLabel }, (tx) =>
    applyDecision(tx, d.action, d.newLabel, reviewer),
  );
}

export interface UndoResult extends ChangeResult {
  /** The change that was reverted, or null when the reviewer has nothing left to undo. */
  undid: string | null;
  /** Samples left alone because someone changed their decision after the undone change. */
  conflicts: number;
}

/**
 * Revert `reviewer`'s most recent change not yet undone (calling it again goes further back).
 * Tags the change added are removed and tags it removed come back; a decision it made is restored
 * to the previous one unless the sample's decision has changed since (then it is a conflict and
 * left as it is). Other reviewers' later changes are never overwritten.
 */
export async function undo(o: { catalog: Catalog; reviewer: string }): Promise<UndoResult> {
  const reviewer = checkReviewer(o.reviewer);
  const changeId = randomUUID();
  return o.catalog.transaction(async (tx) => {
    const last = (
      await tx.all<{ change: string; action: string }>(
        `SELECT e.new->>'change' AS change, e.action FROM events e
         WHERE e.who = ? AND e.sample_id IS NULL AND e.action IN ${LIST}
           AND NOT EXISTS (SELECT 1 FROM events u WHERE u.action = 'undo' AND u.sample_id IS NULL
                           AND u.who = e.who AND (u.new->>'undoes') = (e.new->>'change'))
         ORDER BY e.id DESC LIMIT 1`,
        [reviewer, JSON.stringify(UNDOABLE)],
      )
    )[0];
    if (!last) return { change: null, undid: null, matched: 0, changed: 0, conflicts: 0 };
    await tx.run(
      `CREATE OR REPLACE TEMP TABLE review_undo AS
       SELECT sample_id AS id,
              from_json(old->'tags', '["VARCHAR"]') AS old_tags, from_json(new->'tags', '["VARCHAR"]') AS new_tags,
              old->'decision'->>'action' AS old_action, old->'decision'->>'new_label' AS old_label,
              new->'decision'->>'action' AS new_action, new->'decision'->>'new_label' AS new_label
       FROM events WHERE who = ? AND action = ? AND sample_id IS NOT NULL AND (new->>'change') = ?`,
      [reviewer, last.action, last.change],
    );
    await tx.run(`CREATE OR REPLACE TEMP TABLE review_target AS SELECT id FROM review_undo`);
    await snapshot(tx, 'review_old');
    await tx.run(
      `DELETE FROM tags USING (SELECT id, unnest(list_filter(new_tags, lambda x: NOT list_contains(old_tags, x))) AS tag FROM review_undo) x
       WHERE tags.sample_id = x.id AND tags.tag = x.tag`,
    );
    await tx.run(
      `INSERT OR IGNORE INTO tags (sample_id, tag, reviewer, created_at)
       SELECT id, unnest(list_filter(old_tags, lambda x: NOT list_contains(new_tags, x))), ?, current_timestamp FROM review_undo`,
      [reviewer],
    );
    // Decisions come back only where nobody decided differently since the undone change.
    const unchangedSince = `u.new_action IS NOT DISTINCT FROM d.action AND u.new_label IS NOT DISTINCT FROM d.new_label`;
    await tx.run(`CREATE OR REPLACE TEMP TABLE review_restore AS
      SELECT u.* FROM review_undo u LEFT JOIN decisions d ON d.sample_id = u.id
      WHERE (u.old_action IS DISTINCT FROM u.new_action OR u.old_label IS DISTINCT FROM u.new_label) AND ${unchangedSince}`);
    const conflicts = Number(
      (
        await tx.all<{ n: bigint }>(`SELECT count(*) AS n FROM review_undo u LEFT JOIN decisions d ON d.sample_id = u.id
          WHERE (u.old_action IS DISTINCT FROM u.new_action OR u.old_label IS DISTINCT FROM u.new_label) AND NOT (${unchangedSince})`)
      )[0].n,
    );
    await tx.run(`DELETE FROM decisions WHERE sample_id IN (SELECT id FROM review_restore)`);
    await tx.run(
      `INSERT INTO decisions (sample_id, action, new_label, reviewer, created_at)
       SELECT id, old_action, old_label, ?, current_timestamp FROM review_restore WHERE old_action IS NOT NULL`,
      [reviewer],
    );
    const matched = Number((await tx.all<{ n: bigint }>(`SELECT count(*) AS n FROM review_target`))[0].n);
    const changed = await logChange(tx, 'undo', reviewer, changeId, { undoes: last.change, conflicts }, matched);
    return { change: changeId, undid: last.change, matched, changed, conflicts };
  });
}

/** One entry of a sample's review history. */
export interface HistoryEntry {
  id: number;
  at: string;
  who: string | null;
  action: string;
  old: unknown;
  new: unknown;
}

/** Every event about a sample, oldest first (review changes, undos). */
export async function history(catalog: Catalog, sampleId: string): Promise<HistoryEntry[]> {
  const rows = await catalog.all<{ id: bigint; at: string; who: string | null; action: string; old: string | null; new: string | null }>(
    `SELECT id, strftime(created_at, '%Y-%m-%dT%H:%M:%S.%fZ') AS at, who, action, old::VARCHAR AS old, new::VARCHAR AS new
     FROM events WHERE sample_id = ? ORDER BY id`,
    [sampleId],
  );
  return rows.map((r) => ({
    id: Number(r.id), at: r.at, who: r.who, action: r.action,
    old: r.old === null ? null : JSON.parse(r.old), new: r.new === null ? null : JSON.parse(r.new),
  }));
}

/** The current tags and decision of some samples (samples with neither map to an empty state). */
export async function reviewStates(catalog: Catalog, ids: readonly string[]): Promise<Map<string, ReviewState>> {
  const rows = await catalog.all<{ id: string; tags: string[] | null; action: ReviewAction | null; new_label: string | null }>(
    `SELECT x.id, (SELECT list(t.tag ORDER BY t.tag) FROM tags t WHERE t.sample_id = x.id) AS tags, d.action, d.new_label
     FROM ${LIST} AS x(id) LEFT JOIN decisions d ON d.sample_id = x.id`,
    [JSON.stringify(ids)],
  );
  return new Map(rows.map((r) => [r.id, { tags: r.tags ?? [], decision: r.action ? { action: r.action, new_label: r.new_label } : null }]));
}

type Tx = Parameters<Parameters<Catalog['transaction']>[0]>[0];

/**
 * Select the target samples into `review_target`, snapshot, apply, and log the difference —
 * all inside one transaction.
 */
async function change(
  catalog: Catalog,
  action: ReviewEventAction,
  reviewer: string,
  target: Target,
  what: Record<string, unknown>,
  apply: (tx: Tx) => Promise<void>,
): Promise<ChangeResult> {
  const filter = normaliseFilter(target);
  if (scopeOf(filter) === 'active') await ensureActiveView(catalog);
  const select = selectSamplesSql(filter, 'DISTINCT s.id');
  const changeId = randomUUID();
  return catalog.transaction(async (tx) => {
    await tx.run(`CREATE OR REPLACE TEMP TABLE review_target AS ${select.sql}`, select.params);
    const matched = Number((await tx.all<{ n: bigint }>(`SELECT count(*) AS n FROM review_target`))[0].n);
    if (filter.ids && scopeOf(filter) === 'all' && matched < new Set(filter.ids).size) {
      const unknown = await tx.all<{ id: string }>(
        `SELECT x.id FROM ${LIST} AS x(id) WHERE x.id NOT IN (SELECT id FROM samples) LIMIT 5`,
        [JSON.stringify(filter.ids)],
      );
      throw new UsageError(`unknown sample id${unknown.length > 1 ? 's' : ''}: ${unknown.map((u) => JSON.stringify(u.id)).join(', ')}`);
    }
    await snapshot(tx, 'review_old');
    await apply(tx);
    const changed = await logChange(tx, action, reviewer, changeId, { filter, ...what }, matched);
    return { change: changed ? changeId : null, matched, changed };
  });
}

/** The review state of every sample in review_target, into a temp table. */
async function snapshot(tx: Tx, table: string): Promise<void> {
  await tx.run(`CREATE OR REPLACE TEMP TABLE ${table} AS
    SELECT r.id, coalesce(tg.tags, []::VARCHAR[]) AS tags, d.action, d.new_label
    FROM review_target r
    LEFT JOIN (SELECT sample_id, list(tag ORDER BY tag) AS tags FROM tags
               WHERE sample_id IN (SELECT id FROM review_target) GROUP BY sample_id) tg ON tg.sample_id = r.id
    LEFT JOIN decisions d ON d.sample_id = r.id`);
}

const STATE_JSON = (t: string) =>
  `json_object('tags', ${t}.tags, 'decision', CASE WHEN ${t}.action IS NULL THEN NULL ELSE json_object('action', ${t}.action, 'new_label', ${t}.new_label) END)`;

/** Append per-sample events for samples whose state changed, and a summary event; returns the count. */
async function logChange(
  tx: Tx,
  action: ReviewEventAction,
  reviewer: string,
  changeId: string,
  what: Record<string, unknown>,
  matched: number,
): Promise<number> {
  await snapshot(tx, 'review_new');
  const diff = `FROM review_old o JOIN review_new n ON n.id = o.id
    WHERE o.tags <> n.tags OR o.action IS DISTINCT FROM n.action OR o.new_label IS DISTINCT FROM n.new_label`;
  const changed = Number((await tx.all<{ n: bigint }>(`SELECT count(*) AS n ${diff}`))[0].n);
  if (changed === 0) return 0;
  const extra = 'undoes' in what ? `, 'undoes', ?` : '';
  const extraParams = 'undoes' in what ? [String(what.undoes)] : [];
  await tx.run(
    `INSERT INTO events (who, action, sample_id, old, new)
     SELECT ?, ?, o.id, ${STATE_JSON('o')}, json_merge_patch(${STATE_JSON('n')}, json_object('change', ?${extra}))
     ${diff} ORDER BY o.id`,
    [reviewer, action, changeId, ...extraParams],
  );
  await tx.run(`INSERT INTO events (who, action, sample_id, old, new) VALUES (?, ?, NULL, NULL, ?)`, [
    reviewer, action, JSON.stringify({ change: changeId, ...what, matched, changed }),
  ]);
  return changed;
}

async function applyDecision(tx: Tx, action: ReviewAction, newLabel: string | null, reviewer: string): Promise<void> {
  // Samples that already carry exactly this decision keep their row (and its reviewer and time).
  const same = `SELECT sample_id FROM decisions WHERE action = ? AND new_label IS NOT DISTINCT FROM ?`;
  await tx.run(`DELETE FROM decisions WHERE sample_id IN (SELECT id FROM review_target) AND sample_id NOT IN (${same})`, [action, newLabel]);
  await tx.run(
    `INSERT OR IGNORE INTO decisions (sample_id, action, new_label, reviewer, created_at)
     SELECT id, ?, ?, ?, current_timestamp FROM review_target`,
    [action, newLabel, reviewer],
  );
}

/** Relabel every sample of review_target that has a suggestion to it; returns how many had none. */
async function applySuggestions(tx: Tx, reviewer: string): Promise<number> {
  await tx.run(`CREATE OR REPLACE TEMP TABLE review_suggested AS SELECT * FROM ${SUGGESTIONS}`);
  await tx.run(
    `DELETE FROM decisions d USING review_suggested s WHERE d.sample_id = s.sample_id
       AND NOT (d.action = 'relabel' AND d.new_label IS NOT DISTINCT FROM s.suggested)`,
  );
  await tx.run(
    `INSERT OR IGNORE INTO decisions (sample_id, action, new_label, reviewer, created_at)
     SELECT sample_id, 'relabel', suggested, ?, current_timestamp FROM review_suggested`,
    [reviewer],
  );
  const rows = await tx.all<{ n: bigint }>(`SELECT count(*) AS n FROM review_target WHERE id NOT IN (SELECT sample_id FROM review_suggested)`);
  await tx.run(`DROP TABLE review_suggested`);
  return Number(rows[0].n);
}

function checkDecision(action: string, newLabel: string | undefined): { action: ReviewAction; newLabel: string | null } {
  if (!isReviewAction(action)) throw new UsageError(`action must be one of ${[...REVIEW_ACTIONS, ACCEPT_SUGGESTION].join(', ')} (got '${action}')`);
  if (action === 'relabel') {
    if (newLabel === undefined || newLabel.trim() === '') {
      throw new UsageError(`action 'relabel' needs newLabel (the corrected label); to take the labels an issue suggests, use action 'accept_suggestion'`);
    }
    return { action, newLabel };
  }
  if (newLabel !== undefined) throw new UsageError(`newLabel is only allowed with action 'relabel' (got action '${action}')`);
  return { action, newLabel: null };
}

function checkReviewer(reviewer: string): string {
  const r = typeof reviewer === 'string' ? reviewer.trim() : '';
  if (!r) throw new UsageError('reviewer is required (who made the change)');
  if (r.length > 100) throw new UsageError('reviewer name is longer than 100 characters');
  return r;
}

export interface ResolveCopiesOptions {
  catalog: Catalog;
  /** Samples to keep (decision `keep`). */
  keep: readonly string[];
  /** Their copies to remove (decision `remove`). */
  remove: readonly string[];
  reviewer: string;
}

/**
 * Settle a group of copies (a duplicate cluster, a leaked pair): `keep` the chosen samples and
 * `remove` the others, as one change, so one undo reverts the whole choice. A `keep` decision
 * also spares a sample from the filter step's issue rules, so the kept copy survives the build.
 */
export async function resolveCopies(o: ResolveCopiesOptions): Promise<ChangeResult> {
  const reviewer = checkReviewer(o.reviewer);
  const keep = [...new Set(o.keep)];
  const remove = [...new Set(o.remove)];
  if (keep.length === 0) throw new UsageError('keep at least one sample of the group');
  const both = keep.filter((id) => remove.includes(id));
  if (both.length) throw new UsageError(`sample ${JSON.stringify(both[0])} is both kept and removed`);
  return change(o.catalog, 'decide', reviewer, { ids: [...keep, ...remove], scope: 'all' }, { action: 'resolve', keep, remove }, async (tx) => {
    await tx.run(`CREATE OR REPLACE TEMP TABLE review_resolve AS
      SELECT unnest(from_json(?, '["VARCHAR"]')) AS id, 'keep' AS action UNION ALL
      SELECT unnest(from_json(?, '["VARCHAR"]')) AS id, 'remove' AS action`, [JSON.stringify(keep), JSON.stringify(remove)]);
    // Samples that already carry the wanted decision keep their row (and its reviewer and time).
    await tx.run(`DELETE FROM decisions WHERE sample_id IN (SELECT id FROM review_resolve)
      AND sample_id NOT IN (SELECT d.sample_id FROM decisions d JOIN review_resolve r ON r.id = d.sample_id AND r.action = d.action)`);
    await tx.run(
      `INSERT OR IGNORE INTO decisions (sample_id, action, new_label, reviewer, created_at)
       SELECT id, action, NULL, ?, current_timestamp FROM review_resolve`,
      [reviewer],
    );
    await tx.run(`DROP TABLE review_resolve`);
  });
}
