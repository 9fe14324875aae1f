// Entry points that turn user input into a Task: a YAML file, a JSON body, or a bare command.
import type { Document, LineCounter } from 'yaml';
import { formatTaskPath, isPlainObject, lineFor, problemsError, taskError, type TaskIssue, type TaskProblem } from './problems.js';
import { validateTask } from './schema.js';
import type { Task } from './types.js';
import { unsupportedMessage } from './unsupported.js';
import { isMap, isScalar, isSeq, yamlPosition } from './yaml-position.js';
import { yamlLib } from './yaml-lib.js';

/** How many YAML syntax errors are listed before the rest are summarized. */
const MAX_SYNTAX_ERRORS = 10;

interface Located {
  issue: TaskIssue;
  line: string;
  unsupported: boolean;
}

function located(source: string, line: number, column: number, path: string, problem: TaskProblem): Located {
  return {
    issue: { path, line, column, message: problem.message },
    line: lineFor(`${source}:${line}:${column}`, path, problem),
    unsupported: problem.unsupported === true,
  };
}

function fail(source: string, found: Located[]): never {
  found.sort((a, b) => a.issue.line! - b.issue.line! || a.issue.column! - b.issue.column!);
  throw taskError(
    found.map((f) => f.line),
    found.map((f) => f.issue),
    found.every((f) => f.unsupported),
    source,
  );
}

/** Env and secret values written as numbers or booleans keep the text the user wrote (`1.0` stays "1.0"). */
function keepScalarText(doc: Document, value: Record<string, unknown>): void {
  for (const key of ['envs', 'secrets']) {
    const map = doc.get(key, true);
    const target = value[key];
    if (!isMap(map) || !isPlainObject(target)) continue;
    for (const pair of map.items) {
      if (!isScalar(pair.key) || !isScalar(pair.value)) continue;
      const name = String(pair.key.value);
      const v = pair.value.value;
      if ((typeof v === 'number' || typeof v === 'boolean') && Object.hasOwn(target, name) && target[name] === v) {
        const text = pair.value.source;
        if (typeof text === 'string' && text.length > 0) target[name] = text;
      }
    }
  }
}

/**
 * Keys given twice in one mapping. SkyPilot's YAML reader keeps the later value; so does sky, and
 * says so: one warning per repeated key, naming where it is and which one counts.
 */
function repeatedKeys(node: unknown, lines: LineCounter, path: string, out: string[]): void {
  if (isSeq(node)) {
    node.items.forEach((item, i) => repeatedKeys(item, lines, `${path}[${i}]`, out));
    return;
  }
  if (!isMap(node)) return;
  const seen = new Map<string, number>();
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
    if (key === undefined) continue;
    const at = pair.key && typeof pair.key === 'object' && 'range' in pair.key && Array.isArray(pair.key.range) ? lines.linePos(pair.key.range[0] as number).line : 0;
    const field = path === '' ? key : `${path}.${key}`;
    const first = seen.get(key);
    if (first !== undefined) out.push(`${field}: given twice (lines ${first} and ${at}); the later one is used, as SkyPilot's YAML reader does`);
    else seen.set(key, at);
    repeatedKeys(pair.value, lines, field, out);
  }
}

/**
 * Parse a SkyPilot task YAML. Any problem — YAML syntax, wrong types, unknown or unsupported
 * fields — throws one SkyError (TASK_INVALID, or TASK_UNSUPPORTED when only unsupported fields
 * are at fault) whose message has a line `<source>:<line>:<col>: <field>: <what is wrong>` per
 * problem and whose `details.issues` lists them as { path, line, column, message }.
 */
export function parseTaskYaml(text: string, source: string): Task {
  const { LineCounter, parseAllDocuments } = yamlLib();
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, merge: true, uniqueKeys: false });
  const docs = Array.isArray(parsed) ? parsed : [];
  const syntax: Located[] = [];
  const seen = new Set<number>();
  for (const doc of docs) {
    for (const error of doc.errors) {
      // One message per place: the parser often reports a second symptom of the same mistake.
      if (seen.has(error.pos[0])) continue;
      seen.add(error.pos[0]);
      const pos = lines.linePos(error.pos[0]);
      const message = `YAML syntax error: ${error.message.split('\n')[0]!.trim()}`;
      syntax.push(located(source, Math.max(1, pos.line), Math.max(1, pos.col), '', { path: [], message }));
    }
  }
  if (syntax.length > 0) {
    const shown = syntax.slice(0, MAX_SYNTAX_ERRORS);
    if (syntax.length > shown.length) shown[shown.length - 1]!.line += ` (and ${syntax.length - shown.length} more)`;
    fail(source, shown);
  }
  const doc = docs[0];
  if (doc === undefined || doc.contents === null) {
    fail(source, [located(source, 1, 1, '', { path: [], message: 'the task file is empty; write at least a run command (see the SkyPilot task format)' })]);
  }
  if (docs.length > 1) {
    const second = yamlPosition(docs[1]!, lines, []);
    const message = unsupportedMessage('pipelines', 'pipelines');
    fail(source, [located(source, second.line, second.column, '', { path: [], message, unsupported: true })]);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    const message = `YAML error: ${err instanceof Error ? err.message : String(err)}`;
    fail(source, [located(source, 1, 1, '', { path: [], message })]);
  }
  if (isPlainObject(value)) keepScalarText(doc, value);
  const result = validateTask(value);
  if (result.ok) {
    const repeated: string[] = [];
    repeatedKeys(doc.contents, lines, '', repeated);
    if (repeated.length > 0) result.task.ignored = [...repeated, ...(result.task.ignored ?? [])];
    return result.task;
  }
  fail(
    source,
    result.problems.map((problem) => {
      const pos = yamlPosition(doc, lines, problem.path, problem.at ?? 'value');
      return located(source, pos.line, pos.column, formatTaskPath(problem.path), problem);
    }),
  );
}

/**
 * Validate a task that arrived as JSON (SkyPilot's YAML shape). Problems are named by path:
 * `<source>: resources.cpus: …`.
 */
export function parseTask(value: unknown, source = 'task'): Task {
  const result = validateTask(value);
  if (result.ok) return result.task;
  throw problemsError(result.problems, source);
}

