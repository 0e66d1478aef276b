/**
 * The dedup step's reads of the catalog, sized for millions of images: the signals streamed chunk by
 * chunk into a packed SignalTable (DuckDB parses the JSON and the hex codes; exact-copy keys come
 * from the digests' first 64 bits, checked in full where they coincide), then ids, paths, splits
 * and file locations for only the images the matching asks about. Both see the rows in one order
 * (ord, then id), so a table index names the same sample in both.
 */
import { ImgsiftError } from '../errors.js';
import { EXTRA_VIEWS } from '../image/variants.js';
import { signalRowsSql } from './dedup-signals.js';
import { exactKeys } from './dedup-keys.js';
import { SignalTableBuilder, VARIANT_NAMES, type SignalTable } from './dedup-table.js';
import type { StepContext } from './types.js';

const SPEC = JSON.stringify({
  width: 'INTEGER', height: 'INTEGER', bytes: 'DOUBLE', pixel_sha256: 'VARCHAR',
  variants: Object.fromEntries(VARIANT_NAMES.map((v) => [v, { phash: 'VARCHAR', dhash: 'VARCHAR' }])),
  extra: ['VARCHAR'],
});

/** The first two 32-bit halves of a hex code (a whole 64-bit pHash, a sha256's first 64 bits), as parseInt gives them. */
const halves = (expr: string, name: string) =>
  `('0x' || substr(${expr}, 1, 8))::UINTEGER AS ${name}_hi, ('0x' || substr(${expr}, 9, 8))::UINTEGER AS ${name}_lo`;

const K = EXTRA_VIEWS.length;

/**
 * One row per image, in table order, every column a number: no sort or join over digests (at 10M
 * images DuckDB's window ranks over them needed ~12 GB); the exact-copy keys come from the
 * digests' first 64 bits (exactKeys).
 */
function tableSql(): string {
  const variantCols = VARIANT_NAMES.flatMap((v) => [halves(`j.variants.${v}.phash`, `${v}_p`), halves(`j.variants.${v}.dhash`, `${v}_d`)]);
  const extraCols = Array.from({ length: K }, (_, k) => halves(`j.extra[${k + 1}]`, `x${k}`));
  return `WITH s AS (
      SELECT id, ord, split IS NOT NULL AS has_split, sha256, json_transform(result, '${SPEC}') AS j FROM (${signalRowsSql()}) r
    ), k AS (SELECT *, nullif(j.pixel_sha256, '') AS px FROM s)
    SELECT has_split, ord::DOUBLE AS ord, j.width, j.height, j.bytes,
      ${halves('sha256', 'sha')}, ${halves('px', 'px')},
      coalesce(len(j.extra), 0)::INTEGER AS extras,
      ${[...variantCols, ...extraCols].join(',\n      ')}
    FROM k ORDER BY ord, id`;
}

export interface LoadedTable {
  table: SignalTable;
  /** Active samples without signals (unreadable or undecodable). */
  missing: number;
  /** Images with a split. */
  withSplit: number;
}

/** Throws when dedup_signals did not run earlier in the recipe. */
export async function requireSignals(ctx: StepContext, step: string): Promise<void> {
  const ran = await ctx.catalog.scalar(`SELECT count(*) FROM step_runs WHERE run_id = ? AND step = 'dedup_signals'`, [ctx.runId]);
  if (!ran) {
    throw new ImgsiftError(
      `step '${step}' needs the per-sample step 'dedup_signals' to run earlier in the recipe (after 'hash'): ` +
        `add '- hash: {}' and '- dedup_signals: {}' before '- ${step}: ...'`,
    );
  }
}

/** This run's signals of the active samples, packed, in ingest order (ties by id). */
export async function loadSignalTable(ctx: StepContext, step: string): Promise<LoadedTable> {
  await requireSignals(ctx, step);
  const expected = await ctx.catalog.scalar(`SELECT count(*) FROM (${signalRowsSql()}) r`, [ctx.runId]);
  const b = new SignalTableBuilder({ images: expected, variants: 3, extras: K });
  const sha = { hi: new Uint32Array(expected), lo: new Uint32Array(expected) };
  const px = { hi: new Uint32Array(expected), lo: new Uint32Array(expected), present: new Uint8Array(expected) };
  let withSplit = 0;
  const variantCol = 10;
  const extraCol = variantCol + VARIANT_NAMES.length * 4;
  await ctx.catalog.stream(tableSql(), [ctx.runId], (chunk) => {
    const cols = Array.from({ length: chunk.columnCount }, (_, c) => chunk.getColumnVector(c));
    for (let r = 0; r < chunk.rowCount; r++) {
      const at = (c: number) => cols[c].getItem(r) as number | null;
      if (cols[0].getItem(r)) withSplit++;
      const i = b.add({ ord: at(1)!, width: at(2)!, height: at(3)!, bytes: at(4)!, shaKey: 0, pixelKey: -1 });
      if (i >= expected) throw new Error(`${step}: the catalog changed while being read (more than ${expected} images)`);
      sha.hi[i] = at(5)!;
      sha.lo[i] = at(6)!;
      const pxHi = at(7);
      if (pxHi !== null) {
        px.hi[i] = pxHi;
        px.lo[i] = at(8)!;
        px.present[i] = 1;
      }
      for (let v = 0; v < VARIANT_NAMES.length; v++) {
        const c = variantCol + v * 4;
        const pHi = at(c);
        if (pHi === null) continue;
        b.variant(v, pHi, at(c + 1)!, at(c + 2)!, at(c + 3)!);
      }
      const extras = at(9)!;
      if (extras > K) throw new ImgsiftError(`${step}: a dedup_signals result has ${extras} extra views, this imgsift knows ${K}; run dedup_signals again`);
      for (let k = 0; k < extras; k++) b.extra(at(extraCol + 2 * k)!, at(extraCol + 2 * k + 1)!);
    }
  });
  const table = b.finish();
  if (table.size !== expected) throw new Error(`${step}: the catalog changed while being read (${table.size} images, expected ${expected})`);
  table.shaKey.set(await exactKeys(sha, (rows) => fetchColumn(ctx, table, rows, 'sha256')));
  table.pixelKey.set(await exactKeys(px, (rows) => fetchColumn(ctx, table, rows, `json_extract_string(result, '$.pixel_sha256')`)));
  const active = await ctx.catalog.scalar(`SELECT count(*) FROM active`);
  return { table, missing: active - table.size, withSplit };
}

/** Who a table index is. */
export interface ImageInfo {
  id: string;
  path: string;
  split: string | null;
  uri: string;
}

/** Ids, paths, splits and file locations of the images at these table indices (ascending), in that order. */
export async function fetchImageInfo(ctx: StepContext, table: SignalTable, indices: number[]): Promise<ImageInfo[]> {
  const rows = await fetchAt<{ id: string; path: string | null; split: string | null; uri: string }>(ctx, table, indices, 'id, path, split, uri');
  return rows.map((r) => ({ id: r.id, path: r.path ?? r.id, split: r.split, uri: r.uri }));
}

async function fetchColumn(ctx: StepContext, table: SignalTable, indices: number[], expr: string): Promise<string[]> {
  return (await fetchAt<{ v: string }>(ctx, table, indices, `${expr} AS v`)).map((r) => r.v);
}

/**
 * Columns of signalRowsSql's rows at these table indices (ascending), in that order. The rows are
 * found by their ingest order (`ord`), a hash join with the few asked for; rows sharing an `ord`
 * come in id order, as in the table, so index i is the (i - first index with its ord)-th of them.
 * (A row number over all rows would make DuckDB hold every row at once: past its memory limit at
 * 10M images.)
 */
async function fetchAt<T extends object>(ctx: StepContext, table: SignalTable, indices: number[], columns: string): Promise<T[]> {
  const pick = 'dedup_pick';
  const ords = [...new Set(indices.map((i) => table.ord[i]))];
  await ctx.catalog.run(`CREATE OR REPLACE TEMP TABLE ${pick} (o DOUBLE)`);
  try {
    await ctx.catalog.append(pick, { o: 'double' }, ords.map((o) => ({ o })));
    const rows = await ctx.catalog.all<T & { o: number }>(
      `SELECT r.ord::DOUBLE AS o, ${columns} FROM (${signalRowsSql()}) r JOIN ${pick} p ON p.o = r.ord::DOUBLE ORDER BY r.ord, r.id`,
      [ctx.runId],
    );
    const firstRow = new Map<number, number>();
    rows.forEach((r, k) => {
      if (!firstRow.has(r.o)) firstRow.set(r.o, k);
    });
    // The table index of the first row with each ord (indices ascend, so the first asked is the lowest).
    const firstIndex = new Map<number, number>();
    return indices.map((i) => {
      let first = firstIndex.get(table.ord[i]);
      if (first === undefined) {
        first = i;
        while (first > 0 && table.ord[first - 1] === table.ord[i]) first--;
        firstIndex.set(table.ord[i], first);
      }
      const r = rows[(firstRow.get(table.ord[i]) ?? NaN) + (i - first)];
      if (!r || r.o !== table.ord[i]) throw new Error(`dedup: image ${i} of the table is no longer in the catalog (did it change meanwhile?)`);
      const { o: _o, ...rest } = r;
      return rest as unknown as T;
    });
  } finally {
    await ctx.catalog.run(`DROP TABLE IF EXISTS ${pick}`);
  }
}
