import { isMap, isScalar, isSeq, parse as parseYaml, visit, type Document, type Node } from 'yaml';

/**
 * Recipe variables and command-line overrides, applied to the parsed YAML document before
 * validation so errors keep pointing at recipe lines.
 *
 * - `${NAME}` and `${NAME:-default}` in any string value take the environment's value (the default
 *   when NAME is unset or empty). `$${` writes a literal `${`.
 * - `--set path=value` replaces one value, with the path syntax errors use
 *   (`steps[2].quality.min_side`, `source.path`); the value is read as a YAML scalar.
 */

/** A variable that is unset and has no default: where it is used. */
export interface UnsetVariable {
  name: string;
  /** Path of the value that names it. */
  path: PropertyKey[];
  node: Node;
}

const VAR = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Substitute `${NAME}` / `${NAME:-default}` in one string; unset names without default are reported. */
export function substitute(text: string, env: NodeJS.ProcessEnv, onUnset: (name: string) => void): string {
  if (!text.includes('${')) return text;
  return text.replace(VAR, (whole, name: string | undefined, dflt: string | undefined) => {
    if (whole === '$${') return '${';
    const value = env[name!];
    if (value !== undefined && value !== '') return value;
    if (dflt !== undefined) return dflt;
    onUnset(name!);
    return '';
  });
}

/** Substitute variables in every scalar string of the document (keys included); returns the unset ones. */
export function substituteDocument(doc: Document, env: NodeJS.ProcessEnv = process.env): UnsetVariable[] {
  const unset: UnsetVariable[] = [];
  visit(doc, {
    Scalar(_key, node, path) {
      if (typeof node.value !== 'string') return;
      const before = node.value;
      const after = substitute(before, env, (name) => unset.push({ name, path: pathOf(path, node), node }));
      if (after !== before) {
        // `min_side: ${MIN:-512}` is a number once substituted, as if it had been written so.
        node.value = node.type === 'PLAIN' ? scalarValue(after) : after;
      }
    },
  });
  return unset;
}

/** The recipe path of a node from yaml's visitor ancestry (for error messages). */
function pathOf(ancestry: readonly unknown[], node: Node): PropertyKey[] {
  const out: PropertyKey[] = [];
  const chain = [...ancestry, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const parent = chain[i];
    const child = chain[i + 1];
    if (isSeq(parent)) out.push(parent.items.indexOf(child as never));
    else if (isMap(parent)) {
      const pair = child as { key?: unknown };
      if (pair && typeof pair === 'object' && 'key' in pair && isScalar(pair.key)) out.push(String(pair.key.value));
    }
  }
  return out;
}

/** A plain YAML scalar's value: numbers, booleans and null as YAML reads them, else the text. */
export function scalarValue(text: string): unknown {
  try {
    const v = parseYaml(text);
    if (v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  } catch {
    // Not a scalar on its own (e.g. `a: b`): keep the text.
  }
  return text;
}

/** `steps[2].quality.min_side` → ['steps', 2, 'quality', 'min_side']; throws on bad syntax. */
export function parseSetPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|(\.)/y;
  let expectKey = true;
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < path.length && (m = re.exec(path))) {
    if (m[1] !== undefined) {
      if (!expectKey) throw new Error(`bad path '${path}': a '.' is missing before '${m[1]}'`);
      out.push(m[1]);
      expectKey = false;
    } else if (m[2] !== undefined) {
      if (out.length === 0) throw new Error(`bad path '${path}': it must start with a key`);
      out.push(Number(m[2]));
      expectKey = false;
    } else {
      if (expectKey) throw new Error(`bad path '${path}': empty key`);
      expectKey = true;
    }
  }
  if (re.lastIndex !== path.length || out.length === 0 || expectKey) throw new Error(`bad path '${path}' (write it like steps[2].quality.min_side)`);
  return out;
}

/** One `--set KEY=VALUE`, parsed. */
export interface Override {
  path: (string | number)[];
  value: unknown;
  text: string;
}

export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`--set ${text}: expected KEY=VALUE (e.g. steps[2].quality.min_side=768)`);
  return { path: parseSetPath(text.slice(0, eq).trim()), value: scalarValue(text.slice(eq + 1)), text };
}

/**
 * Apply overrides to the document. A step is addressed as `steps[i].<step name>.<key>`; the value
 * replaces what is there or adds the key. Returns an error message for a path that cannot exist.
 */
export function applyOverrides(doc: Document, overrides: readonly Override[]): void {
  for (const o of overrides) {
    // Every container on the way must exist (a typo should not invent a step).
    for (let i = 1; i < o.path.length; i++) {
      const parent = doc.getIn(o.path.slice(0, i), true);
      if (parent === undefined || (!isMap(parent) && !isSeq(parent))) {
        throw new Error(`--set ${o.text}: the recipe has no ${o.path.slice(0, i).map(String).join('.')} to set a value in`);
      }
    }
    doc.setIn(o.path, doc.createNode(o.value));
  }
}
