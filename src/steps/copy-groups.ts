import type { Catalog } from '../catalog/catalog.js';

/**
 * The build's last safety check on cleaning: a group of copies (the members of a duplicate
 * cluster, joined with the train–test leak pairs of the same pictures) must keep at least one
 * member. Rules that each look sensible (drop duplicates, drop leaks, drop a vendor's flags) can
 * together remove every copy of a picture; this finds the groups where that happened.
 */

export interface LostGroup {
  /** Sample ids of the group, sorted. */
  members: string[];
  /** Paths of the members (id when none), same order. */
  paths: string[];
}

export interface CopyGroupCheck {
  groups: number;
  lost: LostGroup[];
}

/** Groups of copies of run `runId` and those whose every member the run dropped. */
export async function checkCopyGroups(catalog: Catalog, runId: number): Promise<CopyGroupCheck> {
  const run = Math.trunc(runId);
  const edges = await catalog.all<{ a: string; b: string }>(
    `SELECT k.sample_id AS a, m.sample_id AS b FROM dup_clusters k JOIN dup_clusters m
       ON m.run_id = k.run_id AND m.cluster = k.cluster AND NOT m.kept
     WHERE k.run_id = ${run} AND k.kept
     UNION ALL SELECT train_id, test_id FROM leak_pairs WHERE run_id = ${run}`,
  );
  if (edges.length === 0) return { groups: 0, lost: [] };
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    while (parent.get(r) !== r) r = parent.get(r)!;
    for (let y = x; parent.get(y) !== r; ) {
      const next = parent.get(y)!;
      parent.set(y, r);
      y = next;
    }
    return r;
  };
  for (const { a, b } of edges) {
    if (!parent.has(a)) parent.set(a, a);
    if (!parent.has(b)) parent.set(b, b);
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  }
  const state = await catalog.all<{ id: string; path: string | null; gone: boolean }>(
    `SELECT id, path, (drop_run IS NOT DISTINCT FROM ${run} OR seen_run <> ${run}) AS gone
     FROM samples WHERE id IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`,
    [JSON.stringify([...parent.keys()])],
  );
  const byId = new Map(state.map((s) => [s.id, s]));
  const groups = new Map<string, string[]>();
  for (const id of parent.keys()) {
    const r = find(id);
    if (!groups.has(r)) groups.set(r, []);
    groups.get(r)!.push(id);
  }
  const lost: LostGroup[] = [];
  for (const members of groups.values()) {
    if (!members.every((id) => byId.get(id)?.gone ?? true)) continue;
    members.sort();
    lost.push({ members, paths: members.map((id) => byId.get(id)?.path ?? id) });
  }
  lost.sort((x, y) => (x.members[0] < y.members[0] ? -1 : 1));
  return { groups: groups.size, lost };
}
