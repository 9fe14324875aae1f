// Naming rules: task names, environment variable names and cluster names (SkyPilot's rules).
import { SkyError } from '../wire/errors.js';

const TASK_NAME = /^[a-z0-9]+(?:[._-]{1,2}[a-z0-9]+)*$/i;
export const TASK_NAME_MAX_LENGTH = 256;

/** Why a task name is invalid, or undefined. */
export function taskNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > TASK_NAME_MAX_LENGTH) return `must be at most ${TASK_NAME_MAX_LENGTH} characters, got ${name.length}`;
  if (TASK_NAME.test(name)) return undefined;
  return `${JSON.stringify(name)} is not a valid task name: use letters, digits, '.', '_' and '-', start and end with a letter or digit, and no more than two '.', '_' or '-' in a row`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why an environment variable (or secret) name is invalid, or undefined. */
export function envNameProblem(name: string): string | undefined {
  if (ENV_NAME.test(name)) return undefined;
  return `${JSON.stringify(name)} is not a valid variable name: use letters, digits and '_', not starting with a digit`;
}

const CLUSTER_CHAR = /^[-_.a-zA-Z0-9]$/;
export const CLUSTER_NAME_MAX_LENGTH = 63;

/**
 * Why a cluster name is invalid, or undefined. SkyPilot's rule — `[a-zA-Z]([-_.a-zA-Z0-9]*[a-zA-Z0-9])?` —
 * plus a length limit so names fit in hostnames and labels.
 */
export function clusterNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > CLUSTER_NAME_MAX_LENGTH) return `is ${name.length} characters long; the limit is ${CLUSTER_NAME_MAX_LENGTH}`;
  if (!/^[a-zA-Z]$/.test(name[0]!)) return 'must start with a letter';
  for (const ch of name) {
    if (!CLUSTER_CHAR.test(ch)) return `contains ${JSON.stringify(ch)}; only letters, digits, '-', '_' and '.' are allowed`;
  }
  if (!/^[a-zA-Z0-9]$/.test(name[name.length - 1]!)) return 'must end with a letter or a digit';
  return undefined;
}

/** Check a cluster name (e.g. from `sky launch -c NAME`); returns it, or throws VALIDATION_FAILED saying what is wrong. */
export function validateClusterName(name: string): string {
  const problem = clusterNameProblem(name);
  if (problem === undefined) return name;
  throw new SkyError('VALIDATION_FAILED', `invalid cluster name ${JSON.stringify(name)}: ${problem}`, {
    hint: `A cluster name starts with a letter, has only letters, digits, '-', '_' and '.', ends with a letter or digit, and is at most ${CLUSTER_NAME_MAX_LENGTH} characters.`,
    details: { field: 'cluster', problem },
  });
}
