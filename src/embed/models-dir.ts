import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { ImgsiftError } from '../errors.js';
import { PRESETS, parseManifest, presetNames, type ModelManifest } from './manifest.js';

/**
 * Where models live and how a model named in a recipe or on the command line is found.
 *
 * A model is either a name, looked up in the models directory as `<dir>/<name>/model.onnx`
 * (with an optional `<dir>/<name>/manifest.json`; without one, the preset of that name), or a
 * path: to a `.onnx` file (manifest: a sibling `<file>.json`, else the `preset` given) or to a
 * directory laid out like an entry of the models directory.
 */

export const MANIFEST_FILE = 'manifest.json';

/** `$IMGSIFT_MODELS`, else the user's cache directory + `imgsift/models`. */
export function modelsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.IMGSIFT_MODELS) return resolve(env.IMGSIFT_MODELS);
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'imgsift', 'models');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'imgsift', 'models');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'imgsift', 'models');
}

/** A model ready to load: its file, manifest, and an id that changes when either changes. */
export interface ResolvedModel {
  /** `<manifest name>@<first 12 hex of the file's sha256>`: the embedding cache key. */
  id: string;
  path: string;
  /** Directory holding companion files (tokenizer vocabularies). */
  dir: string;
  manifest: ModelManifest;
}

export interface ModelSpec {
  /** A model name (in the models directory) or a path to a .onnx file or model directory. */
  model: string;
  /** Preset to use when the model has no manifest of its own. */
  preset?: string;
  /** Models directory (default `modelsDir()`). */
  dir?: string;
}

function looksLikePath(s: string): boolean {
  return isAbsolute(s) || s.includes('/') || s.includes('\\') || s.endsWith('.onnx') || s.startsWith('.');
}

function howToInstall(name: string, dir: string): string {
  const preset = PRESETS[name];
  const what = preset?.source ? ` (${preset.source}, exported to ONNX with input '${preset.input}' and output '${preset.output}')` : '';
  return `put the ONNX file at ${join(dir, name, 'model.onnx')}${what}` +
    (preset ? '' : `, with a ${MANIFEST_FILE} next to it (or name a preset: ${presetNames().join(', ')})`) +
    `; set IMGSIFT_MODELS to use another models directory; \`imgsift models\` lists what is installed`;
}

function readManifestFile(path: string): ModelManifest {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ImgsiftError(`model manifest ${path} is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseManifest(json, path);
  } catch (err) {
    throw new ImgsiftError((err as Error).message);
  }
}

function presetOrThrow(name: string, why: string): ModelManifest {
  const p = PRESETS[name];
  if (!p) throw new ImgsiftError(`${why}: unknown preset '${name}'; presets: ${presetNames().join(', ')}`);
  return p;
}

/** Find a model's file and manifest; throws an ImgsiftError that says what to put where. */
export function resolveModel(spec: ModelSpec): ResolvedModel {
  const dir = spec.dir ?? modelsDir();
  let path: string;
  let manifest: ModelManifest;
  if (looksLikePath(spec.model)) {
    const p = resolve(spec.model);
    if (!existsSync(p)) throw new ImgsiftError(`model file ${p} does not exist`);
    if (statSync(p).isDirectory()) {
      const mf = join(p, MANIFEST_FILE);
      if (existsSync(mf)) manifest = readManifestFile(mf);
      else if (spec.preset) manifest = presetOrThrow(spec.preset, `model ${p}`);
      else throw new ImgsiftError(`model directory ${p} has no ${MANIFEST_FILE}; add one, or name a preset (${presetNames().join(', ')})`);
      path = join(p, manifest.file);
    } else {
      const mf = p.slice(0, p.length - extname(p).length) + '.json';
      if (existsSync(mf) && mf !== p) manifest = readManifestFile(mf);
      else if (spec.preset) manifest = presetOrThrow(spec.preset, `model ${p}`);
      else throw new ImgsiftError(`model ${p}: name a preset (${presetNames().join(', ')}) or put a manifest at ${mf}`);
      path = p;
    }
  } else {
    const entry = join(dir, spec.model);
    const mf = join(entry, MANIFEST_FILE);
    if (existsSync(mf)) manifest = readManifestFile(mf);
    else if (spec.preset) manifest = presetOrThrow(spec.preset, `model '${spec.model}'`);
    else if (PRESETS[spec.model]) manifest = PRESETS[spec.model];
    else if (existsSync(entry)) throw new ImgsiftError(`model '${spec.model}' in ${entry} has no ${MANIFEST_FILE} and is not a preset; ${howToInstall(spec.model, dir)}`);
    else throw new ImgsiftError(`model '${spec.model}' is not installed and is not a preset (${presetNames().join(', ')}); ${howToInstall(spec.model, dir)}`);
    path = join(entry, manifest.file);
    if (!existsSync(path)) throw new ImgsiftError(`model '${spec.model}' is not installed: ${howToInstall(spec.model, dir)}`);
  }
  if (!existsSync(path)) throw new ImgsiftError(`model file ${path} (named by its manifest) does not exist`);
  return { id: `${manifest.name}@${fileSha256(path).slice(0, 12)}`, path, dir: dirname(path), manifest };
}

const shaMemo = new Map<string, string>();

/** sha256 of a file, read in chunks; memoised by path, size and mtime (model files are large). */
export function fileSha256(path: string): string {
  const st = statSync(path);
  const key = `${path}|${st.size}|${st.mtimeMs}`;
  const hit = shaMemo.get(key);
  if (hit) return hit;
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  const hex = h.digest('hex');
  shaMemo.set(key, hex);
  return hex;
}

/** A model found in the models directory (or a problem with an entry there). */
export interface InstalledModel {
  name: string;
  dir: string;
  file?: string;
  bytes?: number;
  manifest?: ModelManifest;
  /** Why the entry cannot be used, if it cannot. */
  problem?: string;
}

/** Every entry of the models directory, usable or not, by name. */
export function listInstalled(dir: string = modelsDir()): InstalledModel[] {
  if (!existsSync(dir)) return [];
  const out: InstalledModel[] = [];
  for (const name of readdirSync(dir).sort()) {
    const entry = join(dir, name);
    if (!statSync(entry).isDirectory()) continue;
    try {
      const r = resolveModel({ model: name, dir });
      out.push({ name, dir: entry, file: r.path, bytes: statSync(r.path).size, manifest: r.manifest });
    } catch (err) {
      out.push({ name, dir: entry, problem: (err as Error).message });
    }
  }
  return out;
}

/** A file-system-safe form of a model id, for index file names. */
export function modelFileStem(id: string): string {
  return basename(id.replace(/[^A-Za-z0-9._-]/g, '_'));
}
