import { LineCounter, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';

/**
 * Find the line (1-based) of the deepest YAML node along `path` (keys and sequence indexes), so a
 * validation error on `steps[2].quality.min_side` points at the line where that value (or, when it
 * is missing, its parent) is written. `atKey`: the line of the last key itself, not of its value
 * (for an unknown key whose value is a block on the following lines).
 */
export function lineOf(doc: Document, counter: LineCounter, path: readonly PropertyKey[], atKey = false): number | undefined {
  let node: unknown = doc.contents;
  let line = rangeLine(node, counter);
  for (const [i, key] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      if (!pair) break;
      line = rangeLine(pair.key, counter) ?? line;
      if (atKey && i === path.length - 1) break;
      node = pair.value;
      line = rangeLine(node, counter) ?? line;
    } else if (isSeq(node)) {
      const item = node.items[Number(key)];
      if (item === undefined) break;
      node = item;
      line = rangeLine(node, counter) ?? line;
    } else {
      break;
    }
  }
  return line;
}

function rangeLine(node: unknown, counter: LineCounter): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  if (!range) return undefined;
  return counter.linePos(range[0]).line;
}

/** `steps[2].quality.min_side` from ['steps', 2, 'quality', 'min_side']. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out ? `.${String(k)}` : String(k);
  }
  return out || '(top level)';
}
