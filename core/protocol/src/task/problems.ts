// How task problems are described: field paths, values in messages, and the one SkyError they become.
import { SkyError } from '../wire/errors.js';
import type { UnsupportedFieldName } from './unsupported.js';

export type FieldPath = ReadonlyArray<string | number>;

/** One thing wrong with a task, at a field path. */
export interface TaskProblem {
  path: FieldPath;
  message: string;
  /** Valid in SkyPilot, not implemented by sky yet. */
  unsupported?: boolean;
  /** Point at the key (unknown or unsupported field) rather than at its value. */
  at?: 'key' | 'value';
}

export interface ReportOptions {
  /** The problem is this unsupported SkyPilot field (the message is then built from the table). */
  unsupported?: UnsupportedFieldName;
  /** The problem is an unknown field; suggestions come from these valid names. */
  unknownAmong?: readonly string[];
  at?: 'key' | 'value';
}

/** Reports a problem at a path relative to the value being checked. */
export type Report = (message: string, path?: FieldPath, options?: ReportOptions) => void;

/** A problem as it appears in `details.issues` of the SkyError. */
export interface TaskIssue {
  path: string;
  message: string;
  line?: number;
  column?: number;
  /** The YAML document (from 1) of a pipeline file the problem is in. */
  document?: number;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `resources.any_of[0].cpus`, `file_mounts["/data"]`, `envs.MY_VAR`. */
export function formatTaskPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (PLAIN_KEY.test(part)) out += out.length === 0 ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A value as a message shows it: `"two"`, `1.5`, `true`, `a list`, `a mapping`, `an empty value`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(clip(value));
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

export const TASK_DOCS = 'https://docs.skypilot.co/en/latest/reference/yaml-spec.html';

/**
 * The single error for a bad task: TASK_UNSUPPORTED when every problem is an unsupported
 * SkyPilot feature, TASK_INVALID otherwise. The message has one line per problem.
 */
export function taskError(lines: readonly string[], issues: readonly TaskIssue[], allUnsupported: boolean, source: string): SkyError {
  const code = allUnsupported ? 'TASK_UNSUPPORTED' : 'TASK_INVALID';
  const hint = allUnsupported
    ? 'sky does not run these SkyPilot features yet; remove them to run the task without them.'
    : `Fix the fields named above; the task format is SkyPilot's (${TASK_DOCS}).`;
  return new SkyError(code, lines.join('\n'), { hint, details: { source, issues: issues.map((i) => ({ ...i })) } });
}

/** Render problems without positions (JSON bodies, command-line flags): `<source>: <path>: <message>`. */
export function problemsError(problems: readonly TaskProblem[], source: string): SkyError {
  const issues: TaskIssue[] = problems.map((p) => ({ path: formatTaskPath(p.path) || '(task)', message: p.message }));
  const lines = problems.map((p) => lineFor(source, formatTaskPath(p.path), p));
  return taskError(lines, issues, problems.every((p) => p.unsupported === true), source);
}

/** One line of a task error. Unsupported problems already name their field. */
export function lineFor(where: string, path: string, problem: TaskProblem): string {
  return problem.unsupported === true || path.length === 0 ? `${where}: ${problem.message}` : `${where}: ${path}: ${problem.message}`;
}
