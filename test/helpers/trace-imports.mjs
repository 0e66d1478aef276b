// Module hooks for `node --import ./trace-imports.mjs`: print every bare (package) import or
// require as `IMPORT <specifier>` on stderr, so a test can see which dependencies a command loads.
import Module, { isBuiltin, register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const isPackage = (s) =>
  !isBuiltin(s) && !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('file:') && !s.startsWith('data:');

// Loaded by --import on the main thread: install this same file as the ESM hooks (which Node runs
// on its own thread, where this is skipped), and watch CommonJS require() (sharp is loaded that way).
if (isMainThread) {
  register(import.meta.url);
  const load = Module._load;
  Module._load = function (request, ...rest) {
    if (isPackage(request)) process.stderr.write(`IMPORT ${request}\n`);
    return load.call(this, request, ...rest);
  };
}

export async function resolve(specifier, context, next) {
  if (isPackage(specifier)) process.stderr.write(`IMPORT ${specifier}\n`);
  return next(specifier, context);
}
