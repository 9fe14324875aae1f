// Entry points that turn user input into a Task: a YAML file, a JSON body, or a bare command.
import type { Document, LineCounter } from 'yaml';
import { describeValue, formatTaskPath, isPlainObject, lineFor, problemsError, taskError, type TaskIssue, type TaskProblem } from './problems.js';
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

/** The documents of a YAML text, or the error listing its syntax errors (file, line, column). */
function readDocuments(text: string, source: string): { docs: Document[]; lines: LineCounter } {
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
  return { docs, lines };
}

/** A document as plain data (anchors and merge keys resolved), or the error saying why it cannot be. */
function documentValue(doc: Document, source: string, where: (line: number, column: number) => string): unknown {
  try {
    return doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    const message = `YAML error: ${err instanceof Error ? err.message : String(err)}`;
    fail(source, [{ ...located(source, 1, 1, '', { path: [], message }), line: lineFor(where(1, 1), '', { path: [], message }) }]);
  }
}

/**
 * One document as a task. `document` (its number in a pipeline file) is named in each problem
 * line (`<source>:<line>:<col>: document 2: <field>: …`) and issue; a single task file has none.
 */
function taskFromDocument(doc: Document, lines: LineCounter, source: string, document?: number): Task {
  const label = document === undefined ? undefined : `document ${document}`;
  const where = (line: number, column: number): string => `${source}:${line}:${column}${label === undefined ? '' : `: ${label}`}`;
  const value = documentValue(doc, source, where);
  if (isPlainObject(value)) keepScalarText(doc, value);
  const result = validateTask(value);
  if (result.ok) {
    const repeated: string[] = [];
    repeatedKeys(doc.contents, lines, '', repeated);
    const prefixed = label === undefined ? repeated : repeated.map((r) => `${label}: ${r}`);
    if (prefixed.length > 0) result.task.ignored = [...prefixed, ...(result.task.ignored ?? [])];
    return result.task;
  }
  fail(
    source,
    result.problems.map((problem) => {
      const pos = yamlPosition(doc, lines, problem.path, problem.at ?? 'value');
      const path = formatTaskPath(problem.path);
      const found = located(source, pos.line, pos.column, path, problem);
      return label === undefined ? found : { ...found, line: lineFor(where(pos.line, pos.column), path, problem), issue: { ...found.issue, document } };
    }),
  );
}

/**
 * Parse a SkyPilot task YAML. Any problem — YAML syntax, wrong types, unknown or unsupported
 * fields — throws one SkyError (TASK_INVALID, or TASK_UNSUPPORTED when only unsupported fields
 * are at fault) whose message has a line `<source>:<line>:<col>: <field>: <what is wrong>` per
 * problem and whose `details.issues` lists them as { path, line, column, message }.
 */
export function parseTaskYaml(text: string, source: string): Task {
  const { docs, lines } = readDocuments(text, source);
  const doc = docs[0];
  if (doc === undefined || doc.contents === null) {
    fail(source, [located(source, 1, 1, '', { path: [], message: 'the task file is empty; write at least a run command (see the SkyPilot task format)' })]);
  }
  if (docs.length > 1) {
    const second = yamlPosition(docs[1]!, lines, []);
    const message = unsupportedMessage('pipelines', 'pipelines');
    fail(source, [located(source, second.line, second.column, '', { path: [], message, unsupported: true })]);
  }
  return taskFromDocument(doc, lines, source);
}

/** A pipeline as SkyPilot writes it: an optional name, then its tasks in the order they run. */
export interface TaskPipeline {
  /** From a first document holding only `name:` (SkyPilot's pipeline header). */
  name?: string;
  tasks: Task[];
}

/**
 * Parse a task YAML that may hold a pipeline: several YAML documents separated by `---`, each
 * a task run after the one before it. A first document with only a `name` names the pipeline
 * (as in SkyPilot). Problems are reported as by parseTaskYaml, each line naming its document
 * by number (counting from 1, the header included): `<source>:<line>:<col>: document 2: …`.
 */
export function parseTaskPipelineYaml(text: string, source: string): TaskPipeline {
  const { docs, lines } = readDocuments(text, source);
  // A document with nothing in it (a trailing or doubled ---) is no task.
  const isEmpty = (doc: Document): boolean => doc.contents === null || (isScalar(doc.contents) && (doc.contents.value === null || doc.contents.value === ''));
  const present = docs.map((doc, i) => ({ doc, number: i + 1 })).filter(({ doc }) => !isEmpty(doc));
  if (present.length === 0) {
    fail(source, [located(source, 1, 1, '', { path: [], message: 'the task file is empty; write at least a run command (see the SkyPilot task format)' })]);
  }
  const numbered = (n: number): number | undefined => (docs.length > 1 ? n : undefined);
  let name: string | undefined;
  const first = present[0]!;
  const header = documentValue(first.doc, source, (l, c) => `${source}:${l}:${c}`);
  const isHeader = present.length > 1 && isPlainObject(header) && Object.keys(header).length === 1 && Object.hasOwn(header, 'name');
  if (isHeader) {
    const value = header.name;
    if (typeof value !== 'string' || value.length === 0) {
      const pos = yamlPosition(first.doc, lines, ['name']);
      const problem = { path: ['name'], message: `the pipeline name must be a non-empty string, got ${describeValue(value)}` };
      const found = located(source, pos.line, pos.column, 'name', problem);
      const line = lineFor(`${source}:${pos.line}:${pos.column}: document ${first.number}`, 'name', problem);
      fail(source, [{ ...found, line, issue: { ...found.issue, document: first.number } }]);
    }
    name = value;
  }
  const tasks = (isHeader ? present.slice(1) : present).map(({ doc, number }) => taskFromDocument(doc, lines, source, numbered(number)));
  return name === undefined ? { tasks } : { name, tasks };
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

