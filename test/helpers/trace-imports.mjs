// Module hooks for `node --import ./trace-imports.mjs`: print every bare (package) import as
// `IMPORT <specifier>` on stderr, so a test can see which dependencies a command loads.
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

// Loaded by --import on the main thread: install this same file as the hooks (which Node runs on
// its own thread, where this is skipped).
if (isMainThread) register(import.meta.url);

export async function resolve(specifier, context, next) {
  if (!specifier.startsWith('node:') && !specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.startsWith('file:') && !specifier.startsWith('data:')) {
    process.stderr.write(`IMPORT ${specifier}\n`);
  }
  return next(specifier, context);
}
