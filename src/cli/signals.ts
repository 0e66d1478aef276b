import type { Reporter } from '../exec/reporter.js';

/**
 * Turn the first Ctrl-C (or SIGTERM) into an abort signal, so a build stops after the batch in
 * flight with everything finished so far committed; a second one exits at once (also safe: the
 * catalog is transactional, the next run resumes).
 */
export function interruptSignal(reporter: Reporter): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) process.exit(130);
    reporter.warn('interrupted: stopping after the work in flight (Ctrl-C again to stop at once)');
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
