#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled library (dist/), built by `npm ci` (prepare) or `npm run build`.
import { main } from '../dist/cli/main.js';
main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
