import type { ReviewContext } from './context.js';
import { thumbUrl } from './samples.js';

/**
 * Duplicate and leak pairs, from the issues the dedup and leaks steps record. The issue is on the
 * sample that would be removed; its evidence names the other sample — `kept` (dedup),
 * `train_sample` (leaks) or `other` — as a sample id or a path — and says how it matched
 * (`method`, `distance`, `similarity`). Unknown or missing fields are tolerated: the pair is
 * shown with what there is.
 */
export type PairType = 'duplicate' | 'leak';

export interface PairSide {
  id: string;
  thumb: string;
  label: string | null;
  split: string | null;
  path: string | null;
}

export interface Pair {
  type: string;
  /** The flagged sample (the copy, or the evaluation-side sample of a leak). */
  sample: PairSide;
  /** The sample it matched, when the evidence names one that the catalog has. */
  other: PairSide | null;
  /** The other sample as the evidence names it (even when not found). */
  otherRef: string | null;
  /** Which signal matched: exact, perceptual, semantic, ... */
  method: string | null;
  distance: number | null;
  similarity: number | null;
  score: number | null;
  evidence: unknown;
}

export interface PairPage {
  total: number;
  offset: number;
  limit: number;
  pairs: Pair[];
}

const OTHER_KEYS = ['kept', 'train_sample', 'other', 'original', 'keep', 'match'] as const;

export async function pairs(ctx: ReviewContext, type: PairType, offset: number, limit: number): Promise<PairPage> {
  const { catalog } = ctx;
  const total = await ctx.cached(`pairs:${type}`, () =>
    catalog.scalar(`SELECT count(*) FROM review_issues WHERE flagged AND type = ?`, [type]),
  );
  const rows = await catalog.all<{ id: string; label: string | null; split: string | null; path: string | null; score: number | null; evidence: string | null }>(
    `SELECT g.id, g.label, g.split, g.path, i.score, i.evidence::VARCHAR AS evidence
     FROM issues i JOIN review_grid g ON g.id = i.sample_id
     WHERE i.flagged AND i.type = ? ORDER BY g.rn LIMIT ${limit} OFFSET ${offset}`,
    [type],
  );
  const parsed = rows.map((r) => ({ row: r, ev: parseEvidence(r.evidence) }));
  const refs = [...new Set(parsed.map((p) => otherRef(p.ev)).filter((x): x is string => x !== null))];
  const others = new Map<string, PairSide>();
  if (refs.length) {
    const found = await catalog.all<{ ref: string; id: string; label: string | null; split: string | null; path: string | null }>(
      `SELECT r.ref, s.id, s.label, s.split, s.path FROM (SELECT unnest(from_json(?, '["VARCHAR"]')) AS ref) r
       JOIN samples s ON s.id = r.ref OR s.path = r.ref`,
      [JSON.stringify(refs)],
    );
    for (const f of found) if (!others.has(f.ref) || f.id === f.ref) others.set(f.ref, side(f));
  }
  return {
    total, offset, limit,
    pairs: parsed.map(({ row, ev }) => {
      const ref = otherRef(ev);
      return {
        type, sample: side(row), other: ref ? others.get(ref) ?? null : null, otherRef: ref,
        method: str(ev.method) ?? str(ev.signal) ?? (Array.isArray(ev.methods) ? ev.methods.join(', ') : null),
        distance: num(ev.distance) ?? num(ev.hamming_distance), similarity: num(ev.similarity),
        score: row.score, evidence: ev,
      };
    }),
  };
}

function side(r: { id: string; label: string | null; split: string | null; path: string | null }): PairSide {
  return { id: r.id, thumb: thumbUrl(r.id), label: r.label, split: r.split, path: r.path };
}

function parseEvidence(text: string | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { value: text };
  }
}

function otherRef(ev: Record<string, unknown>): string | null {
  for (const k of OTHER_KEYS) {
    const v = ev[k];
    if (typeof v === 'string' && v) return v;
    if (v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string') return (v as { id: string }).id;
  }
  return null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
