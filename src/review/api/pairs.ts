import type { Catalog } from '../../catalog/catalog.js';
import { reviewStates, type ReviewState } from '../decisions.js';
import { describeMatch } from '../evidence.js';
import type { ReviewContext } from './context.js';
import { thumbUrl } from './samples.js';

/**
 * Duplicate and leak pairs, from the issues the dedup and leaks steps record. The issue is on the
 * sample that would be removed; its evidence names the other sample — `kept` (dedup),
 * `train_sample` (leaks) or `other` — as a sample id or a path — and says how it matched
 * (`method`, `distance`, `similarity`). Unknown or missing fields are tolerated: the pair is
 * shown with what there is.
 *
 * Pairs come grouped: a group is the flagged copies of one other sample (a duplicate cluster's
 * kept image, a train image with copies in evaluation splits), listed together in the order of
 * the group's first copy, with every member's resolution and decision, so the app can settle a
 * pair or a whole group (keep this, remove the other, keep the best).
 */
export type PairType = 'duplicate' | 'leak';

export interface PairSide {
  id: string;
  thumb: string;
  label: string | null;
  split: string | null;
  path: string | null;
  width: number | null;
  height: number | null;
  decision: ReviewState['decision'];
}

export interface Pair {
  type: string;
  /** The flagged sample (the copy, or the evaluation-side sample of a leak). */
  sample: PairSide;
  /** The sample it matched, when the evidence names one that the catalog has. */
  other: PairSide | null;
  /** The other sample as the evidence names it (even when not found). */
  otherRef: string | null;
  /** Key of the pair's group (the other sample's reference, else the sample's id). */
  group: string;
  /** Which signal matched: exact, perceptual, semantic, ... */
  method: string | null;
  distance: number | null;
  similarity: number | null;
  score: number | null;
  /** The evidence in words ("pHash 3 bits after mirroring"). */
  summary: string;
  evidence: unknown;
}

export interface PairGroup {
  /** The member the step kept (dedup's choice; the train side of a leak), when known. */
  keeper: string | null;
  /** Every member: the keeper first, then the flagged copies. */
  members: PairSide[];
}

export interface PairPage {
  total: number;
  offset: number;
  limit: number;
  pairs: Pair[];
  /** The groups of this page's pairs, by key, complete even when a group spans pages. */
  groups: Record<string, PairGroup>;
}

const OTHER_KEYS = ['kept', 'train_sample', 'other', 'original', 'keep', 'match'] as const;

/** The other sample's reference in SQL over an issue row `i` (the same keys otherRef reads). */
const OTHER_SQL = `coalesce(${OTHER_KEYS.map((k) => `nullif(i.evidence->>'${k}', '')`).join(', ')})`;

export async function pairs(ctx: ReviewContext, type: PairType, offset: number, limit: number): Promise<PairPage> {
  const { catalog } = ctx;
  const total = await ctx.cached(`pairs:${type}`, () =>
    catalog.scalar(`SELECT count(*) FROM review_issues WHERE flagged AND type = ?`, [type]),
  );
  const flagged = `SELECT g.rn, g.id, i.score, i.evidence::VARCHAR AS evidence, coalesce(${OTHER_SQL}, g.id) AS gkey
     FROM issues i JOIN review_grid g ON g.id = i.sample_id WHERE i.flagged AND i.type = ?`;
  const rows = await catalog.all<{ id: string; score: number | null; evidence: string | null; gkey: string }>(
    `WITH p AS (${flagged}) SELECT id, score, evidence, gkey FROM p
     ORDER BY min(rn) OVER (PARTITION BY gkey), rn LIMIT ${limit} OFFSET ${offset}`,
    [type],
  );
  const keys = [...new Set(rows.map((r) => r.gkey))];
  const members = keys.length
    ? await catalog.all<{ gkey: string; id: string }>(
        `WITH p AS (${flagged}) SELECT gkey, id FROM p WHERE gkey IN (SELECT unnest(from_json(?, '["VARCHAR"]'))) ORDER BY rn`,
        [type, JSON.stringify(keys)],
      )
    : [];
  const parsed = rows.map((r) => ({ row: r, ev: parseEvidence(r.evidence) }));
  const refs = parsed.map((p) => otherRef(p.ev)).filter((x): x is string => x !== null);
  const sides = await lookupSides(catalog, [...refs, ...keys, ...members.map((m) => m.id)]);

  const groups: Record<string, PairGroup> = {};
  for (const k of keys) {
    const keeper = sides.get(k) ?? null;
    const copies = members.filter((m) => m.gkey === k && m.id !== keeper?.id).map((m) => sides.get(m.id)).filter((x): x is PairSide => !!x);
    groups[k] = { keeper: keeper?.id ?? null, members: keeper ? [keeper, ...copies] : copies };
  }
  return {
    total, offset, limit, groups,
    pairs: parsed.map(({ row, ev }) => {
      const ref = otherRef(ev);
      return {
        type, sample: sides.get(row.id)!, other: ref ? sides.get(ref) ?? null : null, otherRef: ref, group: row.gkey,
        method: str(ev.method) ?? str(ev.signal) ?? (Array.isArray(ev.methods) ? ev.methods.join(', ') : null),
        distance: num(ev.distance) ?? num(ev.hamming_distance), similarity: num(ev.similarity),
        score: row.score, summary: describeMatch(ev), evidence: ev,
      };
    }),
  };
}

/**
 * Samples by id or path, with their image's size and their review decision. A reference that
 * names no sample is absent from the map.
 */
export async function lookupSides(catalog: Catalog, refs: string[]): Promise<Map<string, PairSide>> {
  const unique = [...new Set(refs)];
  const out = new Map<string, PairSide>();
  if (!unique.length) return out;
  const found = await catalog.all<{ ref: string; id: string; label: string | null; split: string | null; path: string | null; width: number | null; height: number | null }>(
    `SELECT r.ref, s.id, s.label, s.split, s.path, a.width, a.height
     FROM (SELECT unnest(from_json(?, '["VARCHAR"]')) AS ref) r
     JOIN samples s ON s.id = r.ref OR s.path = r.ref
     LEFT JOIN files f ON f.sample_id = s.id AND f.role = 'image'
     LEFT JOIN file_status fs ON fs.uri = f.uri
     LEFT JOIN assets a ON a.sha256 = fs.sha256`,
    [JSON.stringify(unique)],
  );
  const states = await reviewStates(catalog, [...new Set(found.map((f) => f.id))]);
  for (const f of found) {
    if (out.has(f.ref) && f.id !== f.ref) continue; // an id match wins over a path match
    out.set(f.ref, {
      id: f.id, thumb: thumbUrl(f.id), label: f.label, split: f.split, path: f.path,
      width: f.width === null ? null : Number(f.width), height: f.height === null ? null : Number(f.height),
      decision: states.get(f.id)?.decision ?? null,
    });
  }
  return out;
}

export function parseEvidence(text: string | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { value: text };
  }
}

/** The other sample an issue's evidence names (a duplicate's kept copy, a leak's train twin). */
export function otherRef(ev: Record<string, unknown>): string | null {
  for (const k of OTHER_KEYS) {
    const v = ev[k];
    if (typeof v === 'string' && v) return v;
    if (v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string') return (v as { id: string }).id;
  }
  return null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
