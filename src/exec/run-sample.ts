import { readUri, uriBasename } from '../util/uri.js';
import { sha256Hex } from '../util/hash.js';
import { errorMessage } from '../errors.js';
import { getMapStep } from '../steps/registry.js';
import type { DerivedFile, Json, MapOutput, MapStep, RoleInput, SampleInput } from '../steps/types.js';
import { SKIPPED_PREFIX, type RoleRead, type SampleTask, type SampleTaskResult, type StepOutcome, type StoredFile, type TaskFile, type TaskStep } from './task.js';
import { checkAssetExt, storeAsset } from './assets.js';
import { MAIN_ROLE } from '../catalog/roles.js';
import { explainBomb, isDecompressionBomb, setPixelLimit } from '../image/open.js';

/** A sample of a group on its way through the steps. */
interface Live {
  task: SampleTask;
  /** Every role read, with its bytes (derived files join as steps make them). */
  files: Map<string, RoleInput & { uri: string }>;
  upstream: Record<string, Json>;
  outcomes: StepOutcome[];
}

/**
 * Run the per-sample steps of a group of samples that need the same steps (the map phase groups
 * them so; a lone task is a group of one), inside a worker thread. Each file is read and hashed
 * once; then step by step, each step on every sample, so a step with `runBatch` (an ONNX encoder)
 * gets them as one batch. A step that throws gets `ok: false` with the reason and later steps
 * still run; a failure of one sample never fails another (a batch that throws is retried sample
 * by sample), so each outcome is what the sample would get alone. Files a step makes are stored
 * in the assets folder before its outcome is returned, so a recorded result always has its files.
 */
export async function runSampleGroup(tasks: SampleTask[]): Promise<SampleTaskResult[]> {
  const results: SampleTaskResult[] = [];
  const live: Live[] = [];
  // Every decode in this worker obeys the run's pixel limit.
  const limit = tasks[0]?.maxPixels;
  if (limit !== undefined) setPixelLimit(limit);
  for (const task of tasks) {
    const wanted = new Set<string>(task.steps.flatMap((s) => s.roles ?? [MAIN_ROLE]));
    const sources: Record<string, TaskFile> = { ...task.files };
    if (!sources[MAIN_ROLE] && task.uri) sources[MAIN_ROLE] = { uri: task.uri, name: task.name, sha256: task.sha256 };
    const files = new Map<string, RoleInput & { uri: string }>();
    const roles: Record<string, RoleRead> = {};
    for (const role of wanted) {
      const f = sources[role];
      if (!f) continue; // produced by an earlier step of this group, or missing (the step says so)
      try {
        const bytes = await readUri(f.uri);
        const sha256 = f.sha256 ?? sha256Hex(bytes);
        files.set(role, { bytes, sha256, name: f.name || uriBasename(f.uri), uri: f.uri });
        roles[role] = { sha256, size: bytes.length };
      } catch (err) {
        roles[role] = { error: readError(err) };
      }
    }
    const main = roles[MAIN_ROLE];
    const result: SampleTaskResult = { sampleId: task.sampleId, uri: task.uri, roles, outcomes: [] };
    if (main?.error !== undefined) result.fileError = main.error;
    else if (main) {
      result.sha256 = main.sha256;
      result.size = main.size;
    }
    results.push(result);
    // A sample whose only file is unreadable runs nothing (the map phase records it as unreadable).
    if (result.fileError !== undefined && wanted.size === 1) continue;
    live.push({ task, files, upstream: { ...task.upstream }, outcomes: result.outcomes });
  }
  for (const s of tasks[0]?.steps ?? []) {
    const members = live.filter((l) => l.task.steps.some((t) => t.name === s.name));
    const step = getMapStep(s.name);
    if (!step) {
      // Not the content's fault (a registry mismatch): never cache it.
      for (const l of members) l.outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: false, error: `unknown step ${s.name}`, elapsedMs: 0, transient: true });
      continue;
    }
    const ready: Array<{ live: Live; input: SampleInput }> = [];
    for (const l of members) {
      const input = inputFor(l, s);
      if (typeof input === 'string') l.outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: false, error: input, elapsedMs: 0, transient: true });
      else ready.push({ live: l, input });
    }
    await runStep(step, s, ready);
  }
  return results;
}

/** The step's view of a sample, or why it cannot run (a role it reads is missing or unreadable). */
function inputFor(l: Live, s: TaskStep): SampleInput | string {
  const names = s.roles ?? [MAIN_ROLE];
  const roles: Record<string, RoleInput> = {};
  for (const [i, role] of names.entries()) {
    const f = l.files.get(role);
    if (!f) return `no '${s.roleNames?.[i] ?? role}' file for this sample`;
    roles[role] = f;
    // The step asks for the role by the name its parameters use (`input`, the main role's alias).
    const own = s.roleNames?.[i];
    if (own) roles[own] = f;
  }
  const first = l.files.get(names[0])!;
  return {
    id: l.task.sampleId, uri: first.uri, name: first.name, bytes: first.bytes, sha256: first.sha256,
    upstream: l.upstream, roles, fields: l.task.fields ?? {},
  };
}

/** One step over the members: as batches when the step batches, else one by one. */
async function runStep(step: MapStep<unknown>, s: TaskStep, members: Array<{ live: Live; input: SampleInput }>): Promise<void> {
  const size = step.runBatch ? Math.max(1, step.batchSize?.(s.params) ?? 1) : 1;
  for (let i = 0; i < members.length; i += size) {
    const batch = members.slice(i, i + size);
    const started = performance.now();
    let outs: Array<MapOutput | Error> | undefined;
    if (batch.length > 1) {
      try {
        outs = await step.runBatch!(batch.map((m) => m.input), s.params);
        if (outs.length !== batch.length) throw new Error(`${step.name}: runBatch returned ${outs.length} results for ${batch.length} samples`);
      } catch {
        outs = undefined; // a batch-level failure: find out which sample it was, one by one
      }
    }
    if (outs) {
      const each = (performance.now() - started) / batch.length;
      for (const [k, m] of batch.entries()) await settle(m.live, s, outs[k], each, m.input.bytes);
      continue;
    }
    for (const m of batch) {
      const t0 = performance.now();
      let out: MapOutput | Error;
      try {
        out = await step.run(m.input, s.params);
      } catch (err) {
        out = err instanceof Error ? err : new Error(errorMessage(err));
      }
      await settle(m.live, s, out, performance.now() - t0, m.input.bytes);
    }
  }
}

async function settle(l: Live, s: TaskStep, out: MapOutput | Error, elapsedMs: number, bytes: Buffer): Promise<void> {
  if (out instanceof Error) {
    if (isDecompressionBomb(out)) {
      // Refused from its header by the pixel limit (nothing was decoded): skipped, and said so.
      const why = errorMessage(await explainBomb(out, bytes));
      l.outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: false, skipped: 'decompression_bomb', error: `${SKIPPED_PREFIX}decompression_bomb: ${why}`, elapsedMs });
      return;
    }
    l.outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: false, error: errorMessage(out), elapsedMs });
    return;
  }
  let stored: StoredFile[] | undefined;
  if (out.files?.length) {
    try {
      stored = await storeFiles(l, out.files);
    } catch (err) {
      // Not the content's fault (disk full, permissions): never cached.
      l.outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: false, error: `cannot store derived file: ${errorMessage(err)}`, elapsedMs, transient: true });
      return;
    }
  }
  l.upstream[s.name] = out.result as Json;
  l.outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: true, result: out.result, issues: out.issues ?? [], files: stored, elapsedMs });
}

/** Store a step's files in the assets folder; later steps of the group read them as roles. */
async function storeFiles(l: Live, files: DerivedFile[]): Promise<StoredFile[]> {
  const dir = l.task.assetsDir;
  if (!dir) throw new Error('this run has no assets folder');
  const out: StoredFile[] = [];
  for (const f of files) {
    const ext = checkAssetExt(f.ext);
    const sha256 = sha256Hex(f.bytes);
    const uri = await storeAsset(dir, sha256, ext, f.bytes);
    l.files.set(f.role, { bytes: f.bytes, sha256, name: uri.slice(uri.lastIndexOf('/') + 1), uri });
    out.push({ role: f.role, sha256, ext, bytes: f.bytes.length });
  }
  return out;
}

function readError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'file not found';
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  return errorMessage(err);
}
