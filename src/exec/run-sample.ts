import { readUri, uriBasename } from '../util/uri.js';
import { sha256Hex } from '../util/hash.js';
import { errorMessage } from '../errors.js';
import { getMapStep } from '../steps/registry.js';
import type { Json } from '../steps/types.js';
import type { SampleTask, SampleTaskResult, StepOutcome } from './task.js';

/**
 * Run a sample's per-sample steps: read its bytes once, hash them, then each step in order.
 * A step that throws gets `ok: false` with the reason; the others still run. Used inside worker
 * threads, and directly when running in-process.
 */
export async function runSampleTask(task: SampleTask): Promise<SampleTaskResult> {
  let bytes: Buffer;
  try {
    bytes = await readUri(task.uri);
  } catch (err) {
    return { sampleId: task.sampleId, uri: task.uri, fileError: readError(err), outcomes: [] };
  }
  const sha256 = task.sha256 ?? sha256Hex(bytes);
  const upstream: Record<string, Json> = { ...task.upstream };
  const outcomes: StepOutcome[] = [];
  for (const s of task.steps) {
    const step = getMapStep(s.name);
    const started = performance.now();
    if (!step) {
      // Not the content's fault (a registry mismatch): never cache it.
      outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: false, error: `unknown step ${s.name}`, elapsedMs: 0, transient: true });
      continue;
    }
    try {
      const out = await step.run(
        { id: task.sampleId, uri: task.uri, name: task.name || uriBasename(task.uri), bytes, sha256, upstream },
        s.params,
      );
      upstream[s.name] = out.result;
      outcomes.push({
        step: s.name, paramsHash: s.paramsHash, ok: true, result: out.result, issues: out.issues ?? [],
        elapsedMs: performance.now() - started,
      });
    } catch (err) {
      outcomes.push({ step: s.name, paramsHash: s.paramsHash, ok: false, error: errorMessage(err), elapsedMs: performance.now() - started });
    }
  }
  return { sampleId: task.sampleId, uri: task.uri, sha256, size: bytes.length, outcomes };
}

function readError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'file not found';
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  return errorMessage(err);
}
