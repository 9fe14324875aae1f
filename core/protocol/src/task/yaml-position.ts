// Where a field path (as zod reports it) sits in a YAML document: line and column, 1-based.
// Not task-specific: any YAML validated with a schema can point its errors at the source.
import type { Alias, Document, LineCounter, Node, Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import { yamlLib } from './yaml-lib.js';

// yaml's node tests, through the parser loaded on first use.
export function isMap(node: unknown): node is YAMLMap {
  return yamlLib().isMap(node);
}
export function isSeq(node: unknown): node is YAMLSeq {
  return yamlLib().isSeq(node);
}
export function isScalar(node: unknown): node is Scalar {
  return yamlLib().isScalar(node);
}
function isAlias(node: unknown): node is Alias {
  return yamlLib().isAlias(node);
}

export interface YamlPosition {
  line: number;
  column: number;
}

function start(node: unknown): number | undefined {
  const range = (node as { range?: readonly number[] } | null | undefined)?.range;
  return range === undefined ? undefined : range[0];
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return typeof key === 'string' || typeof key === 'number' ? String(key) : undefined;
}

function deref(node: unknown, doc: Document): unknown {
  let current = node;
  for (let hops = 0; hops < 32 && isAlias(current); hops++) current = current.resolve(doc);
  return current;
}

/** The pair for `key` in a map, following `<<` merge keys into the maps they merge. */
function findPair(map: YAMLMap, key: string, doc: Document, depth = 0): Pair | undefined {
  const own = map.items.find((p) => keyText(p.key) === key);
  if (own !== undefined || depth > 8) return own;
  for (const pair of map.items) {
    if (keyText(pair.key) !== '<<') continue;
    const merged = deref(pair.value, doc);
    const sources = isSeq(merged) ? merged.items.map((i) => deref(i, doc)) : [merged];
    for (const source of sources) {
      if (!isMap(source)) continue;
      const found = findPair(source, key, doc, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * Position of `path` in `doc`: of the value (default) or of its key (`at: 'key'`, for unknown or
 * unsupported fields). When the path does not exist all the way, the deepest part that does.
 */
export function yamlPosition(doc: Document, lines: LineCounter, path: ReadonlyArray<PropertyKey>, at: 'key' | 'value' = 'value'): YamlPosition {
  let offset = start(doc.contents) ?? 0;
  let node: unknown = doc.contents;
  for (let i = 0; i < path.length; i++) {
    node = deref(node, doc);
    const part = path[i]!;
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = findPair(node, String(part), doc);
      if (pair === undefined) break;
      const keyStart = start(pair.key);
      if (last && at === 'key') {
        offset = keyStart ?? offset;
        break;
      }
      offset = start(pair.value) ?? keyStart ?? offset;
      node = pair.value;
    } else if (isSeq(node)) {
      const index = typeof part === 'number' ? part : Number(part);
      const item: unknown = Number.isInteger(index) ? node.items[index] : undefined;
      if (item === undefined) break;
      offset = start(item) ?? offset;
      node = item as Node;
    } else {
      break;
    }
  }
  const pos = lines.linePos(offset);
  return { line: Math.max(1, pos.line), column: Math.max(1, pos.col) };
}
