import { readUri, uriBasename } from '../util/uri.js';
import { sha256Hex } from '../util/hash.js';
import { errorMessage } from '../errors.js';
import { getMapStep } from '../steps/registry.js';
import type { Json, MapOutput, MapStep, SampleInput } from '../steps/types.js';
import type { SampleTask, SampleTaskResult, StepOutcome, TaskStep } from './task.js';

/** A sample of a group on its way through the steps. */
interface Live {
  task: SampleTask;
  input: SampleInput;
  outcomes: StepOutcome[];
}

/**
 * Run the per-sample steps of a group of samples that need the same steps (the map phase groups
 * them so; a lone task is a group of one), inside a worker thread. Each file is read and hashed
 * once; then step by step, each step on every sample, so a step with `runBatch` (an ONNX encoder)
 * gets them as one batch. A step that throws gets `ok: false` with the reason and later steps
 * still run; a failure of one sample never fails another (a batch that throws is retried sample
 * by sample), so each outcome is what the sample would get alone.
 */
export async function runSampleGroup(tasks: SampleTask[]): Promise<SampleTaskResult[]> {
  const results: SampleTaskResult[] = [];
  const live: Live[] = [];
  for (const task of tasks) {
    let bytes: Buffer;
    try {
      bytes = await readUri(task.uri);
    } catch (err) {
      results.push({ sampleId: task.sampleId, uri: task.uri, fileError: readError(err), outcomes: [] });
      continue;
    }
    const sha256 = task.sha256 ?? sha256Hex(bytes);
    const input: SampleInput = {
      id: task.sampleId, uri: task.uri, name: task.name || uriBasename(task.uri), bytes, sha256, upstream: { ...task.upstream },
      roles: { image: { bytes, sha256, name: task.name || uriBasename(task.uri) } }, fields: {},
    };
    const outcomes: StepOutcome[] = [];
    live.push({ task, input, outcomes });
    results.push({ sampleId: task.sampleId, uri: task.uri, sha256, size: bytes.length, outcomes });
  }
  for (const s of tasks[0]?.steps ?? []) {
    const members = live.filter((l) => l.task.steps.some((t) => t.name === s.name));
    const step = getMapStep(s.name);
    if (!step) {
      // Not the content's fault (a registry mismatch): never cache it.
      for (const l of members) l.outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: false, error: `unknown step ${s.name}`, elapsedMs: 0, transient: true });
      continue;
    }
    await runStep(step, s, members);
  }
  return results;
}

/** One step over the members: as batches when the step batches, else one by one. */
async function runStep(step: MapStep<unknown>, s: TaskStep, members: Live[]): Promise<void> {
  const size = step.runBatch ? Math.max(1, step.batchSize?.(s.params) ?? 1) : 1;
  for (let i = 0; i < members.length; i += size) {
    const batch = members.slice(i, i + size);
    const started = performance.now();
    let outs: Array<MapOutput | Error> | undefined;
    if (batch.length > 1) {
      try {
        outs = await step.runBatch!(batch.map((l) => l.input), s.params);
        if (outs.length !== batch.length) throw new Error(`${step.name}: runBatch returned ${outs.length} results for ${batch.length} samples`);
      } catch {
        outs = undefined; // a batch-level failure: find out which sample it was, one by one
      }
    }
    if (outs) {
      const each = (performance.now() - started) / batch.length;
      batch.forEach((l, k) => settle(l, s, outs![k], each));
      continue;
    }
    for (const l of batch) {
      const t0 = performance.now();
      let out: MapOutput | Error;
      try {
        out = await step.run(l.input, s.params);
      } catch (err) {
        out = err instanceof Error ? err : new Error(errorMessage(err));
      }
      settle(l, s, out, performance.now() - t0);
    }
  }
}

function settle(l: Live, s: TaskStep, out: MapOutput | Error, elapsedMs: number): void {
  if (out instanceof Error) {
    l.outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: false, error: errorMessage(out), elapsedMs });
    return;
  }
  l.input.upstream[s.name] = out.result as Json;
  l.outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: true, result: out.result, issues: out.issues ?? [], elapsedMs });
}

function readError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'file not found';
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  return errorMessage(err);
}
