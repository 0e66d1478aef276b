import { copyFile, link, readdir, readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CATALOG_FILE, COLUMNS, type Catalog } from '../catalog/catalog.js';
import { SCHEMA_VERSION } from '../catalog/schema.js';
import { ImgsiftError, UsageError, errorMessage } from '../errors.js';
import { ASSETS_DIR } from '../exec/assets.js';
import type { Reporter } from '../exec/reporter.js';
import type { StepSummary } from '../report/summary.js';
import { ensureDir } from '../util/fs.js';
import { DONE_FILE, shardDir, type ShardMarker } from './shard.js';
import { downloadShards } from './s3-shards.js';

/**
 * The merge of an array build (`imgsift build R --merge`): every finished shard's cached work is
 * folded into the main catalog, then the ordinary build runs there. Its map passes find every
 * result cached (no image work), and the whole-dataset steps and exports run once over all
 * samples, so the output is that of a single-process build, byte for byte.
 *
 * Folded: step_results and sample_keys (per-sample step outcomes), text_results, downloads, and
 * the fingerprints that let the build trust a file's hash without reading it. Not folded: samples,
 * issues, drops, files and derived_files, which the build makes again from the above.
 */

/** Folders under `<workdir>/shards/` holding content-addressed files, linked into the workdir. */
const FILE_TREES = [ASSETS_DIR, 'objects'];

export interface MergeOptions {
  recipeHash: string;
  partial?: boolean;
  shardsUri?: string;
  reporter?: Reporter;
}

export interface MergePlan {
  workdir: string;
  count: number;
  /** Finished shards, by index. */
  shards: Array<{ index: number; dir: string; marker: ShardMarker; markerText: string }>;
  missing: number[];
}

/** Read the markers of `<workdir>/shards/*` (after copying them from S3): which shards are done. */
export async function planMerge(workdir: string, options: MergeOptions): Promise<MergePlan> {
  if (options.shardsUri) await downloadShards(options.shardsUri, workdir, options.reporter);
  const root = join(workdir, 'shards');
  const names = existsSync(root) ? (await readdir(root)).filter((n) => /^\d+$/.test(n)) : [];
  const shards: MergePlan['shards'] = [];
  const otherRecipe: number[] = [];
  for (const name of names.sort((a, b) => Number(a) - Number(b))) {
    const index = Number(name);
    const dir = shardDir(workdir, index);
    const file = join(dir, DONE_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue; // not finished (yet)
    }
    const marker = parseMarker(text, file);
    if (marker.shard.index !== index) throw new ImgsiftError(`${file}: the marker is shard ${marker.shard.index}'s, but lies in folder ${index}`);
    if (marker.recipeHash !== options.recipeHash) {
      otherRecipe.push(index);
      continue;
    }
    shards.push({ index, dir, marker, markerText: text });
  }
  if (otherRecipe.length) {
    throw new UsageError(
      `--merge: shard${otherRecipe.length > 1 ? 's' : ''} ${otherRecipe.join(', ')} in ${root} ran another version of the recipe ` +
        `(recipe hash differs from ${options.recipeHash}): run them again with this recipe`,
    );
  }
  if (shards.length === 0) {
    throw new UsageError(`--merge: no finished shard in ${root}${options.shardsUri ? ` (nor on ${options.shardsUri})` : ''}: run imgsift build --shard I/N first`);
  }
  const counts = [...new Set(shards.map((s) => s.marker.shard.count))];
  if (counts.length > 1) {
    const by = counts.map((n) => `${n} (shards ${shards.filter((s) => s.marker.shard.count === n).map((s) => s.index).join(', ')})`);
    throw new UsageError(`--merge: the shards in ${root} disagree on the number of shards: ${by.join('; ')}`);
  }
  const count = counts[0];
  const done = new Set(shards.map((s) => s.index));
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !done.has(i));
  if (missing.length && !options.partial) {
    throw new UsageError(
      `--merge: ${missing.length} of ${count} shards are not finished: ${formatList(missing)} (no ${DONE_FILE} in ${root}/<I>). ` +
        `Run them (imgsift build R --shard I/${count}), or add --partial to build their samples here`,
    );
  }
  if (missing.length) options.reporter?.warn(`--partial: shards ${formatList(missing)} of ${count} are missing; their samples are computed here`);
  return { workdir, count, shards: shards.filter((s) => s.index < count), missing };
}

/** "0, 3, 5-9": a short list of shard indices. */
export function formatList(xs: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(j - i >= 2 ? `${xs[i]}-${xs[j]}` : xs.slice(i, j + 1).join(', '));
    i = j + 1;
  }
  return parts.join(', ');
}

function parseMarker(text: string, file: string): ShardMarker {
  let m: ShardMarker;
  try {
    m = JSON.parse(text) as ShardMarker;
  } catch (err) {
    throw new ImgsiftError(`${file}: not a valid completion marker (${errorMessage(err)}); run that shard again`);
  }
  const ok = m && typeof m.recipeHash === 'string' && typeof m.dir === 'string' && m.shard &&
    Number.isInteger(m.shard.index) && Number.isInteger(m.shard.count) && m.shard.index >= 0 && m.shard.index < m.shard.count;
  if (!ok) throw new ImgsiftError(`${file}: a completion marker needs recipeHash, dir and shard {index, count}; run that shard again`);
  return m;
}

/**
 * Fold the planned shards into `catalog` (the main workdir's, open for writing). A shard already
 * folded with the same marker is skipped, so a merge that is run again does no work twice.
 * Returns the figures for the build summary.
 */
export async function foldShards(catalog: Catalog, plan: MergePlan, reporter?: Reporter): Promise<StepSummary> {
  const t0 = Date.now();
  let folded = 0, results = 0, linked = 0;
  for (const s of plan.shards) {
    const key = `shard_folded:${s.index}`;
    const seen = await catalog.one<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, [key]);
    const stamp = `${s.marker.recipeHash}@${s.marker.finished}`;
    if (seen?.value === stamp) continue;
    linked += await linkFiles(s.dir, plan.workdir);
    results += await foldCatalog(catalog, s.dir, s.marker.dir, plan.workdir);
    await catalog.run(`INSERT OR REPLACE INTO meta VALUES (?, ?)`, [key, stamp]);
    folded++;
  }
  if (folded) reporter?.info(`merge: folded ${folded} shard(s) of ${plan.count} (${results} cached results, ${linked} files)`);
  const stats: StepSummary['stats'] = {
    shards: plan.count, 'shards folded': folded, 'shards already folded': plan.shards.length - folded,
    'cached results folded': results, 'files linked': linked,
  };
  if (plan.missing.length) stats['shards missing'] = formatList(plan.missing);
  return { name: 'merge shards', kind: 'reduce', stats, seconds: (Date.now() - t0) / 1000 };
}

/** Hard-link (else copy) the shard's content-addressed files into the workdir's; existing names are the same content. */
async function linkFiles(dir: string, workdir: string): Promise<number> {
  let n = 0;
  const walk = async (from: string, to: string) => {
    let entries;
    try {
      entries = await readdir(from, { withFileTypes: true });
    } catch {
      return;
    }
    let made = false;
    for (const e of entries) {
      if (e.name.startsWith('.')) continue; // temporary names of an interrupted write
      const src = join(from, e.name);
      const dst = join(to, e.name);
      if (e.isDirectory()) await walk(src, dst);
      else if (e.isFile() && !existsSync(dst)) {
        if (!made) await ensureDir(to);
        made = true;
        try {
          await link(src, dst);
        } catch {
          await copyFile(src, dst);
        }
        n++;
      }
    }
  };
  for (const tree of FILE_TREES) await walk(join(dir, tree), join(workdir, tree));
  return n;
}

/** SQL: `col` with the shard's folder prefix replaced by the workdir's. */
function rebased(col: string, from: string, to: string): string {
  const f = sqlString(`${from}/`);
  return `CASE WHEN starts_with(${col}, ${f}) THEN ${sqlString(`${to}/`)} || substr(${col}, ${from.length + 2}) ELSE ${col} END`;
}

async function foldCatalog(catalog: Catalog, dir: string, ranIn: string, workdir: string): Promise<number> {
  const file = join(dir, CATALOG_FILE);
  if (!existsSync(file)) throw new ImgsiftError(`${dir}: the shard has a completion marker but no ${CATALOG_FILE}; run it again`);
  await catalog.run(`ATTACH ${sqlString(file)} AS shard (READ_ONLY)`);
  try {
    const version = await catalog.one<{ value: string }>(`SELECT value FROM shard.meta WHERE key = 'schema_version'`);
    if (Number(version?.value) !== SCHEMA_VERSION) {
      throw new ImgsiftError(`${file}: catalog schema ${version?.value ?? '?'} is not this imgsift's (${SCHEMA_VERSION}): run the shard again with this version`);
    }
    const before = await catalog.scalar(`SELECT count(*) FROM step_results`);
    // Files the shard stored under its own folder are known here by their linked copy: restat it,
    // since a copy (not a link) has a new mtime.
    const moved = await catalog.all<{ uri: string; sha256: string }>(
      `SELECT ${rebased('uri', ranIn, workdir)} AS uri, sha256 FROM shard.fingerprints WHERE starts_with(uri, ?)`, [`${ranIn}/`],
    );
    const fps: Array<Record<string, unknown>> = [];
    for (const m of moved) {
      const st = await stat(m.uri).catch(() => undefined);
      if (st?.isFile()) fps.push({ uri: m.uri, size: st.size, mtime_ms: st.mtimeMs, sha256: m.sha256 });
    }
    await catalog.transaction(async (tx) => {
      await tx.run(`INSERT OR IGNORE INTO step_results SELECT * FROM shard.step_results`);
      await tx.run(`INSERT OR REPLACE INTO sample_keys SELECT * FROM shard.sample_keys`);
      await tx.run(`INSERT INTO text_results SELECT * FROM shard.text_results t WHERE NOT EXISTS (
        SELECT 1 FROM text_results m WHERE m.text_hash = t.text_hash AND m.step = t.step AND m.params_hash = t.params_hash)`);
      await tx.run(`INSERT OR REPLACE INTO fingerprints SELECT * FROM shard.fingerprints WHERE NOT starts_with(uri, ?)`, [`${ranIn}/`]);
      if (fps.length) {
        await tx.run(`CREATE OR REPLACE TEMP TABLE stage_fold_fps AS SELECT * FROM fingerprints LIMIT 0`);
        await tx.append('stage_fold_fps', COLUMNS.fingerprints, fps);
        await tx.run(`INSERT OR REPLACE INTO fingerprints SELECT * FROM stage_fold_fps`);
        await tx.run(`DROP TABLE stage_fold_fps`);
      }
      const cols = (await tx.all<{ name: string }>(`SELECT name FROM pragma_table_info('downloads') ORDER BY cid`)).map((c) => c.name);
      const select = cols.map((c) => (c === 'path' ? `${rebased('path', ranIn, workdir)} AS path` : c)).join(', ');
      await tx.run(`INSERT OR REPLACE INTO downloads SELECT ${select} FROM shard.downloads`);
    });
    return (await catalog.scalar(`SELECT count(*) FROM step_results`)) - before;
  } finally {
    await catalog.run(`DETACH shard`);
  }
}

function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * planMerge and foldShards in one call, for callers that hold the main catalog already (a queue
 * coordinator folding its workers' shard folders). build({ merge: true }) calls the two halves
 * itself so that a refusal comes before the catalog is opened.
 */
export async function mergeShards(catalog: Catalog, workdir: string, options: MergeOptions): Promise<StepSummary> {
  return foldShards(catalog, await planMerge(workdir, options), options.reporter);
}
