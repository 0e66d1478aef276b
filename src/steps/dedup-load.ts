/**
 * The dedup step's reads of the catalog, sized for millions of images: the signals streamed chunk by
 * chunk into a packed SignalTable (DuckDB parses the JSON and the hex codes, and numbers the
 * distinct sha256s), then ids, paths, splits and file locations for only the images the matching
 * asks about. Both read the rows in one order (ord, then id), so a table index names the same
 * sample in both.
 */
import { ImgsiftError } from '../errors.js';
import { EXTRA_VIEWS } from '../image/variants.js';
import { signalRowsSql } from './dedup-signals.js';
import { SignalTableBuilder, VARIANT_NAMES, type SignalTable } from './dedup-table.js';
import type { StepContext } from './types.js';

const SPEC = JSON.stringify({
  width: 'INTEGER', height: 'INTEGER', bytes: 'DOUBLE', pixel_sha256: 'VARCHAR',
  variants: Object.fromEntries(VARIANT_NAMES.map((v) => [v, { phash: 'VARCHAR', dhash: 'VARCHAR' }])),
  extra: ['VARCHAR'],
});

/** The two 32-bit halves of a 16-hex-digit code, as parseInt of its two halves gives them. */
const halves = (expr: string, name: string) =>
  `('0x' || substr(${expr}, 1, 8))::UINTEGER AS ${name}_hi, ('0x' || substr(${expr}, 9))::UINTEGER AS ${name}_lo`;

const K = EXTRA_VIEWS.length;

function tableSql(): string {
  const variantCols = VARIANT_NAMES.flatMap((v) => [halves(`j.variants.${v}.phash`, `${v}_p`), halves(`j.variants.${v}.dhash`, `${v}_d`)]);
  const extraCols = Array.from({ length: K }, (_, k) => halves(`j.extra[${k + 1}]`, `x${k}`));
  return `WITH s AS (
      SELECT id, ord, split IS NOT NULL AS has_split, sha256, json_transform(result, '${SPEC}') AS j FROM (${signalRowsSql()}) r
    ), k AS (SELECT *, nullif(j.pixel_sha256, '') AS px FROM s)
    SELECT has_split, ord::DOUBLE AS ord, j.width, j.height, j.bytes,
      (dense_rank() OVER (ORDER BY sha256))::INTEGER - 1 AS sha_key,
      CASE WHEN px IS NULL THEN -1 ELSE (dense_rank() OVER (ORDER BY px))::INTEGER - 1 END AS pixel_key,
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
  let withSplit = 0;
  const variantCol = 8;
  const extraCol = variantCol + VARIANT_NAMES.length * 4;
  await ctx.catalog.stream(tableSql(), [ctx.runId], (chunk) => {
    const cols = Array.from({ length: chunk.columnCount }, (_, c) => chunk.getColumnVector(c));
    for (let r = 0; r < chunk.rowCount; r++) {
      const at = (c: number) => cols[c].getItem(r) as number | null;
      if (cols[0].getItem(r)) withSplit++;
      b.add({ ord: at(1)!, width: at(2)!, height: at(3)!, bytes: at(4)!, shaKey: at(5)!, pixelKey: at(6)! });
      for (let v = 0; v < VARIANT_NAMES.length; v++) {
        const c = variantCol + v * 4;
        const pHi = at(c);
        if (pHi === null) continue;
        b.variant(v, pHi, at(c + 1)!, at(c + 2)!, at(c + 3)!);
      }
      const extras = at(7)!;
      if (extras > K) throw new ImgsiftError(`${step}: a dedup_signals result has ${extras} extra views, this imgsift knows ${K}; run dedup_signals again`);
      for (let k = 0; k < extras; k++) b.extra(at(extraCol + 2 * k)!, at(extraCol + 2 * k + 1)!);
    }
  });
  const table = b.finish();
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
export async function fetchImageInfo(ctx: StepContext, indices: number[]): Promise<ImageInfo[]> {
  const pick = 'dedup_pick';
  await ctx.catalog.run(`CREATE OR REPLACE TEMP TABLE ${pick} (i INTEGER)`);
  try {
    await ctx.catalog.append(pick, { i: 'int' }, indices.map((i) => ({ i })));
    const rows = await ctx.catalog.all<{ i: number; id: string; path: string | null; split: string | null; uri: string }>(
      `SELECT p.i, s.id, s.path, s.split, s.uri
       FROM (SELECT (row_number() OVER (ORDER BY ord, id) - 1)::INTEGER AS i, id, path, split, uri FROM (${signalRowsSql()}) r) s
       JOIN ${pick} p ON p.i = s.i ORDER BY p.i`,
      [ctx.runId],
    );
    if (rows.length !== indices.length) throw new Error(`dedup: asked the catalog for ${indices.length} images, found ${rows.length} (did it change meanwhile?)`);
    return rows.map((r) => ({ id: r.id, path: r.path ?? r.id, split: r.split, uri: r.uri }));
  } finally {
    await ctx.catalog.run(`DROP TABLE IF EXISTS ${pick}`);
  }
}
