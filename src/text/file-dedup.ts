/**
 * Near-duplicate removal for one JSONL/CSV file of prompts or captions (the `text-dedup` command):
 * self-dedup at one threshold, then optionally the survivors against a reference file (e.g. the
 * validation split) at another. Writes, atomically:
 *   OUT/kept.jsonl     the kept rows (JSONL rows exactly as written; CSV rows as JSON objects)
 *   OUT/removed.jsonl  each removed row plus `_reason` ('self' | 'cross'), `_matched_row`
 *                      ({file, line, id, text} of the kept row it is near) and `_similarity`
 *   OUT/summary.txt, OUT/summary.json   counts per step, as seed 004's versioned build log.
 * Rows are held in memory (about twice the file size).
 */
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { ensureDir, tempPathFor } from '../util/fs.js';
import { SelfDeduper, crossDedup, describeMeasure, resolveDedupOptions, type TextDedupOptions } from './dedup.js';
import type { NormalizeOptions } from './normalize.js';
import { readRows, type FileRow } from './read-rows.js';

export interface TextDedupFileOptions {
  file: string;
  out: string;
  /** Column holding the text (default 'text'). */
  field?: string;
  /** Column reported as the matched row's id (default 'id'; null when a row lacks it). */
  idField?: string;
  /** Self-dedup threshold (default 0.85); self-dedup is skipped when `self` is false. */
  threshold?: number;
  self?: boolean;
  /** Reference file: rows of `file` near one of its rows are removed. */
  against?: string;
  crossThreshold?: number;
  ngram?: number;
  /** 'char' (default) or 'word' n-grams; repeats counted unless `multiset` is false. */
  shingles?: 'char' | 'word';
  multiset?: boolean;
  numPerm?: number;
  normalize?: NormalizeOptions;
  /** Skip malformed rows (counted) instead of failing on the first one. */
  skipBadRows?: boolean;
  onBadRow?: (err: InputError) => void;
  onProgress?: (stage: 'self' | 'cross', done: number, total: number) => void;
}

export interface TextDedupStepSummary {
  step: 'self' | 'cross';
  threshold: number;
  /** Rows removed by this step. */
  removed: number;
  /** Rows left after it. */
  remaining: number;
  lsh: { bands: number; rows: number };
  verified_pairs: number;
  /** cross only: the reference file and its row count. */
  against?: string;
  against_rows?: number;
}

export interface TextDedupFileSummary {
  input: string;
  field: string;
  rows_in: number;
  bad_rows_skipped: number;
  /** Rows with no text after normalisation (kept, never compared). */
  empty_text: number;
  steps: TextDedupStepSummary[];
  removed: number;
  kept: number;
  params: { ngram: number; num_perm: number; normalize: Required<NormalizeOptions>; shingles: 'char' | 'word'; multiset: boolean; measure: string };
}

interface Loaded {
  rows: FileRow[];
  texts: (string | null)[];
  bad: number;
}

/** Read a file's rows and the text of `field` in each; a row without the field is a bad row. */
async function load(file: string, field: string, o: TextDedupFileOptions): Promise<Loaded> {
  let bad = 0;
  const onBad = (err: InputError) => {
    if (!o.skipBadRows) throw err;
    bad++;
    o.onBadRow?.(err);
  };
  const rows: FileRow[] = [];
  const texts: (string | null)[] = [];
  for await (const batch of readRows(file, onBad)) {
    for (const r of batch) {
      const v = r.row[field];
      if (!(field in r.row)) {
        onBad(new InputError({ file, line: r.line, field }, `no such field (the row has: ${Object.keys(r.row).slice(0, 10).join(', ')})`));
        continue;
      }
      if (v !== null && typeof v === 'object') {
        onBad(new InputError({ file, line: r.line, field }, `expected text, found ${Array.isArray(v) ? 'an array' : 'an object'}`));
        continue;
      }
      rows.push(r);
      texts.push(v === null || v === undefined ? null : String(v));
    }
  }
  return { rows, texts, bad };
}

interface Removal {
  reason: 'self' | 'cross';
  file: string;
  matched: FileRow;
  matchedText: string | null;
  similarity: number;
}

export async function dedupTextFile(o: TextDedupFileOptions): Promise<TextDedupFileSummary> {
  const field = o.field ?? 'text';
  const idField = o.idField ?? 'id';
  const threshold = o.threshold ?? 0.85;
  const crossThreshold = o.crossThreshold ?? 0.75;
  const runSelf = o.self ?? true;
  if (!runSelf && !o.against) throw new InputError({ file: o.file }, 'nothing to do: self-dedup is off and no reference file (--against) was given');
  const base: TextDedupOptions = { threshold, shingles: o.shingles, ngram: o.ngram, multiset: o.multiset, numPerm: o.numPerm, normalize: o.normalize };
  const resolved = resolveDedupOptions(base);
  if (o.against) resolveDedupOptions({ ...base, threshold: crossThreshold });

  const input = await load(o.file, field, o);
  const ref = o.against ? await load(o.against, field, o) : undefined;
  const n = input.rows.length;
  const removals = new Map<number, Removal>();
  const steps: TextDedupStepSummary[] = [];
  let empty = 0;

  if (runSelf) {
    const d = new SelfDeduper({ ...base, onProgress: (done) => o.onProgress?.('self', done, n) }, n);
    input.texts.forEach((text, i) => {
      const m = d.push(text);
      if (m) removals.set(i, { reason: 'self', file: o.file, matched: input.rows[m.matched], matchedText: input.texts[m.matched], similarity: m.similarity });
    });
    o.onProgress?.('self', n, n);
    const f = d.figures;
    empty = f.empty;
    steps.push({ step: 'self', threshold, removed: f.removed, remaining: n - f.removed, lsh: { bands: f.bands, rows: f.rowsPerBand }, verified_pairs: f.verified });
  }
  if (ref && o.against) {
    const survivors = input.texts.map((_, i) => i).filter((i) => !removals.has(i));
    const res = crossDedup(
      survivors.map((i) => input.texts[i]),
      ref.texts,
      { ...base, threshold: crossThreshold, onProgress: (done) => o.onProgress?.('cross', done, survivors.length) },
    );
    for (const m of res.removed) {
      removals.set(survivors[m.index], { reason: 'cross', file: o.against, matched: ref.rows[m.matched], matchedText: ref.texts[m.matched], similarity: m.similarity });
    }
    const f = res.figures;
    if (!runSelf) empty = f.empty;
    steps.push({
      step: 'cross', threshold: crossThreshold, removed: f.removed, remaining: survivors.length - f.removed,
      lsh: { bands: f.bands, rows: f.rowsPerBand }, verified_pairs: f.verified, against: o.against, against_rows: ref.rows.length,
    });
  }

  const kept: string[] = [];
  const removed: string[] = [];
  input.rows.forEach((r, i) => {
    const rm = removals.get(i);
    if (!rm) kept.push(r.raw ?? JSON.stringify(r.row));
    else {
      const id = rm.matched.row[idField];
      removed.push(withFields(r, {
        _reason: rm.reason,
        _matched_row: { file: rm.file, line: rm.matched.line, id: id === undefined ? null : id, text: rm.matchedText },
        _similarity: rm.similarity,
      }));
    }
  });

  const summary: TextDedupFileSummary = {
    input: o.file, field, rows_in: n, bad_rows_skipped: input.bad + (ref?.bad ?? 0), empty_text: empty, steps,
    removed: removals.size, kept: n - removals.size,
    params: {
      ngram: resolved.ngram, num_perm: resolved.numPerm, normalize: resolved.normalize,
      shingles: resolved.shingles, multiset: resolved.multiset, measure: describeMeasure(base),
    },
  };
  await writeAllAtomic(o.out, {
    'kept.jsonl': kept,
    'removed.jsonl': removed,
    'summary.json': [JSON.stringify(summary, null, 2)],
    'summary.txt': [formatTextDedupSummary(summary).trimEnd()],
  });
  return summary;
}

/**
 * A row plus extra fields, as one JSON line. A JSONL row keeps its original text (number formats,
 * key order) with the fields appended; a row that already has one of them is re-serialised.
 */
function withFields(r: FileRow, extra: Record<string, unknown>): string {
  const clash = Object.keys(extra).some((k) => k in r.row);
  const raw = r.raw?.trimEnd();
  if (raw === undefined || clash || !raw.endsWith('}')) return JSON.stringify({ ...r.row, ...extra });
  const tail = JSON.stringify(extra).slice(1);
  return raw.slice(0, -1) + (Object.keys(r.row).length ? ',' : '') + tail;
}

/** The build-log style summary: rows in, then each step's removals and what remains. */
export function formatTextDedupSummary(s: TextDedupFileSummary): string {
  const lines = [`text-dedup ${s.input} (field '${s.field}')`];
  const row = (label: string, value: string) => lines.push(`${label.padEnd(34)}${value}`);
  row('rows in', String(s.rows_in));
  for (const st of s.steps) {
    const label = st.step === 'self' ? `self-dedup (>= ${st.threshold})` : `cross-dedup (>= ${st.threshold})`;
    const near = st.step === 'cross' ? `  near ${st.against} (${st.against_rows} rows)` : '';
    row(label, `-${st.removed} > ${st.remaining}${near}`);
  }
  row('kept', String(s.kept));
  if (s.empty_text) row('rows without text (kept)', String(s.empty_text));
  if (s.bad_rows_skipped) row('malformed rows skipped', String(s.bad_rows_skipped));
  const nz = s.params.normalize;
  const lsh = s.steps.map((st) => `${st.step} ${st.lsh.bands}x${st.lsh.rows}`).join(', ');
  lines.push(
    `measure: ${s.params.measure}`,
    `method: MinHash, ${s.params.num_perm} permutations, LSH bands x rows: ${lsh}; exact similarity on every candidate`,
    `normalise: lowercase ${nz.lowercase}, unicode ${nz.unicode}, punctuation ${nz.punctuation}, whitespace ${nz.whitespace}`,
  );
  return lines.join('\n') + '\n';
}

/** Write every file under a temporary name, then rename them all: no half-written outputs. */
async function writeAllAtomic(dir: string, files: Record<string, string[]>): Promise<void> {
  await ensureDir(dir);
  const temps: Array<[string, string]> = [];
  try {
    for (const [name, lines] of Object.entries(files)) {
      const path = join(dir, name);
      const tmp = tempPathFor(path);
      temps.push([tmp, path]);
      const fh = await open(tmp, 'w');
      try {
        // Chunks of lines keep each write large without building one huge string.
        for (let i = 0; i < lines.length; i += 4096) {
          await fh.write(lines.slice(i, i + 4096).join('\n') + '\n');
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    for (const [tmp, path] of temps) await rename(tmp, path);
  } catch (err) {
    await Promise.all(temps.map(([tmp]) => rm(tmp, { force: true })));
    throw err;
  }
}
