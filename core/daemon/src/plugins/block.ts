import { SkyError } from '@sky/protocol';
import type { FailurePolicy } from './types.js';

/** Keys of a `drivers.<id>` block that belong to the loader; every other key is the plugin's own config. */
export const RESERVED_KEYS = ['package', 'on_failure', 'init_timeout_seconds', 'enabled'] as const;

export const DEFAULT_INIT_TIMEOUT_SECONDS = 10;
const DRIVER_PACKAGE_PREFIX = 'sky-driver-';

/** npm's rules for a package name, loose on case (legacy names) but strict on what could escape a directory. */
const PACKAGE_NAME = /^(?:@[a-z0-9~-][a-z0-9._~-]*\/)?[a-z0-9~-][a-z0-9._~-]*$/i;

/** One `drivers.<id>` block, split into the loader's settings and the plugin's config. */
export interface PluginBlock {
  readonly id: string;
  readonly packageName: string;
  readonly onFailure: FailurePolicy;
  readonly initTimeoutMs: number;
  readonly enabled: boolean;
  /** The block without the reserved keys, still unvalidated. */
  readonly config: Record<string, unknown>;
}

/** A block whose reserved keys are wrong: the error, and the policy to apply when on_failure itself was readable. */
export interface BlockProblem {
  readonly id: string;
  readonly packageName: string;
  readonly onFailure: FailurePolicy;
  readonly error: SkyError;
}

/** Driver ids whose package is named for the infra rather than the id (`--infra k8s` is Kubernetes). */
const PACKAGE_FOR_ID: Readonly<Record<string, string>> = { k8s: 'sky-driver-kubernetes' };

/** `x` → `sky-driver-x` (`k8s` → `sky-driver-kubernetes`); a scoped or slashed id is a package name used as given. */
export function driverPackageName(id: string): string {
  if (id.startsWith('@') || id.includes('/')) return id;
  return PACKAGE_FOR_ID[id] ?? `${DRIVER_PACKAGE_PREFIX}${id}`;
}

export function isPackageName(name: string): boolean {
  return name.length <= 214 && PACKAGE_NAME.test(name);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Split and check a `drivers.<id>` block. A YAML key with no value (`local:`) is an empty block. */
export function parseBlock(id: string, raw: unknown): PluginBlock | BlockProblem {
  const where = `drivers.${id}`;
  const problems: string[] = [];
  const block: Record<string, unknown> = raw === null || raw === undefined ? {} : isRecord(raw) ? raw : {};
  if (raw !== null && raw !== undefined && !isRecord(raw)) {
    problems.push(`${where}: expected a mapping of settings, got ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  }

  let packageName = driverPackageName(id);
  const pkg = block['package'];
  if (pkg !== undefined) {
    if (typeof pkg !== 'string' || !isPackageName(pkg)) {
      problems.push(`${where}.package: expected an npm package name such as "sky-driver-${id}" or "@scope/name", got ${JSON.stringify(pkg)}`);
    } else {
      packageName = pkg;
    }
  } else if (!isPackageName(packageName)) {
    problems.push(`${where}: "${id}" does not make a valid npm package name ("${packageName}"); rename the id or set ${where}.package`);
  }

  let onFailure: FailurePolicy = 'abort';
  let policyReadable = true;
  const policy = block['on_failure'];
  if (policy !== undefined) {
    if (policy === 'abort' || policy === 'skip') onFailure = policy;
    else {
      policyReadable = false;
      problems.push(`${where}.on_failure: expected "abort" or "skip", got ${JSON.stringify(policy)}`);
    }
  }

  let initTimeoutMs = DEFAULT_INIT_TIMEOUT_SECONDS * 1000;
  const timeout = block['init_timeout_seconds'];
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      problems.push(`${where}.init_timeout_seconds: expected a positive number of seconds, got ${JSON.stringify(timeout)}`);
    } else {
      initTimeoutMs = Math.max(1, Math.round(timeout * 1000));
    }
  }

  let enabled = true;
  const enabledValue = block['enabled'];
  if (enabledValue !== undefined) {
    if (typeof enabledValue !== 'boolean') problems.push(`${where}.enabled: expected true or false, got ${JSON.stringify(enabledValue)}`);
    else enabled = enabledValue;
  }

  if (problems.length > 0) {
    const error = new SkyError('CONFIG_INVALID', `invalid driver block ${where}: ${problems.join('; ')}`, {
      hint: `Fix the keys named above in the daemon config; ${RESERVED_KEYS.join(', ')} are the loader's own keys in a driver block.`,
      details: { plugin: id, problems },
    });
    // An unreadable on_failure can't ask us to skip: a config typo must not silently drop a driver.
    return { id, packageName, onFailure: policyReadable ? onFailure : 'abort', error };
  }

  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(block)) {
    if (!(RESERVED_KEYS as readonly string[]).includes(key)) config[key] = value;
  }
  return { id, packageName, onFailure, initTimeoutMs, enabled, config };
}

export function isBlockProblem(parsed: PluginBlock | BlockProblem): parsed is BlockProblem {
  return 'error' in parsed;
}
