import type { Catalog, Columns } from '../catalog/catalog.js';
import { sha256Hex } from '../util/hash.js';

/**
 * The cache of text steps (table `text_results`): a result per (sha256 of the text, step,
 * parameters hash). Keyed by the text, not by the sample or its image, so a prompt shared by many
 * samples is computed once, and a rerun (whose ingest restores every text from the source)
 * computes nothing it has seen. DuckDB's sha256() of a VARCHAR hashes its UTF-8 bytes as
 * sha256Hex does, so joins can be done in SQL.
 */

export interface TextCacheKey {
  step: string;
  paramsHash: string;
}

export interface CacheFill {
  /** Distinct texts computed now. */
  computed: number;
  /** Distinct texts already in the cache. */
  cached: number;
  /** Texts the function threw on (their rows hold the error, no result). */
  failed: number;
  /** The first few failures, `text → message`. */
  failures: string[];
}

const COLUMNS: Columns = { text_hash: 'varchar', step: 'varchar', params_hash: 'varchar', result: 'varchar', error: 'varchar', run_id: 'int' };
const BATCH = 20_000;
const PAGE = 200_000;

/** SQL matching a text_results row `c` to the text expression `text` under `key` ($1 = step, $2 = params hash). */
export function cacheJoin(text: string, alias = 'c'): string {
  return `${alias}.step = $1 AND ${alias}.params_hash = $2 AND ${alias}.text_hash = sha256(${text})`;
}

/**
 * Compute `fn` for each distinct non-null value of `textSql` (an expression over `active`) that
 * has no cached result under `key`, and store the results. One text that throws is recorded as
 * failed; the others go on.
 */
export async function fillTextCache(
  catalog: Catalog,
  runId: number,
  key: TextCacheKey,
  textSql: string,
  fn: (text: string) => string,
  tick?: (n: number) => void,
  page = PAGE,
): Promise<CacheFill> {
  const params = [key.step, key.paramsHash];
  const distinct = await catalog.scalar(`SELECT count(DISTINCT ${textSql}) FROM active`);
  const fill: CacheFill = { computed: 0, cached: 0, failed: 0, failures: [] };
  // A page of missing texts at a time: each page is stored before the next is read (and so no
  // longer missing), which bounds memory on a 10-million-line prompt list.
  for (;;) {
    const missing = await catalog.all<{ t: string }>(
      `SELECT DISTINCT t FROM (SELECT ${textSql} AS t FROM active) a
       WHERE t IS NOT NULL AND NOT EXISTS (SELECT 1 FROM text_results c WHERE ${cacheJoin('a.t')}) LIMIT ${Math.trunc(page)}`,
      params,
    );
    if (missing.length === 0) break;
    fill.computed += missing.length;
    for (let i = 0; i < missing.length; i += BATCH) {
      const rows = missing.slice(i, i + BATCH).map(({ t }) => {
        let result: string | null = null;
        let error: string | null = null;
        try {
          result = fn(t);
        } catch (err) {
          error = (err as Error).message;
          fill.failed++;
          if (fill.failures.length < 5) fill.failures.push(`${JSON.stringify(t.slice(0, 80))} → ${error}`);
        }
        return { text_hash: sha256Hex(t), step: key.step, params_hash: key.paramsHash, result, error, run_id: runId };
      });
      await catalog.append('text_results', COLUMNS, rows);
      tick?.(rows.length);
    }
  }
  fill.cached = distinct - fill.computed;
  return fill;
}
