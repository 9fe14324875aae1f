// Plain checks for the task's scalar and map fields (no zod): each reports precise problems
// through a Report and returns the normalized value, or undefined when something was wrong.
import { describeValue, isPlainObject, type Report } from './problems.js';
import { envNameProblem, taskNameProblem } from './names.js';

/** A field read from a value: `(value, report) => normalized | undefined`. */
export type FieldCheck<T> = (value: unknown, report: Report) => T | undefined;

/** A non-empty string (`what` says what it should be). */
export function text(what: string, extra?: (value: string) => string | undefined): FieldCheck<string> {
  return (value, report) => {
    if (typeof value !== 'string') {
      report(`expected ${what}, got ${describeValue(value)}`);
      return undefined;
    }
    if (value.trim().length === 0) {
      report(`is empty; expected ${what}`);
      return undefined;
    }
    const problem = extra?.(value);
    if (problem !== undefined) {
      report(problem);
      return undefined;
    }
    return value;
  };
}

export const checkName: FieldCheck<string> = text('a task name like my-task', taskNameProblem);

/** setup / run: shell commands, usually a multi-line `|` block. */
export function script(field: 'setup' | 'run'): FieldCheck<string> {
  return (value, report) => {
    if (value === null) {
      report(`has no value; write the shell commands after ${field}: (use | for several lines), or remove ${field}`);
      return undefined;
    }
    if (typeof value !== 'string') {
      report(`expected shell commands as a string, got ${describeValue(value)}`);
      return undefined;
    }
    if (value.trim().length === 0) {
      report(`is empty; write the shell commands to ${field === 'run' ? 'run' : 'set up the nodes'}, or remove ${field}`);
      return undefined;
    }
    return value;
  };
}

export const checkNumNodes: FieldCheck<number> = (value, report) => {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value;
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) {
    report(`must be a number, not a string: write num_nodes: ${value.trim()} without quotes`);
  } else {
    report(`must be a whole number of at least 1, got ${describeValue(value)}`);
  }
  return undefined;
};

/** envs / secrets: NAME → string | number | boolean | null. Numbers and booleans become strings; null stays (value required later). */
export function envMap(kind: 'envs' | 'secrets'): FieldCheck<Record<string, string | null>> {
  return (value, report) => {
    if (value === null) return {};
    if (!isPlainObject(value)) {
      report(`expected a mapping of NAME: value, got ${describeValue(value)}`);
      return undefined;
    }
    const out: Array<[string, string | null]> = [];
    let ok = true;
    for (const [key, v] of Object.entries(value)) {
      const badName = envNameProblem(key);
      if (badName !== undefined) {
        report(badName, [key], { at: 'key' });
        ok = false;
      } else if (v === null || typeof v === 'string') {
        out.push([key, v]);
      } else if (typeof v === 'number' || typeof v === 'boolean') {
        out.push([key, String(v)]);
      } else {
        const note = kind === 'secrets' ? 'a secret value' : 'a value';
        report(`expected ${note} (a string, number, true/false or empty), got ${describeValue(v)}`, [key]);
        ok = false;
      }
    }
    return ok ? Object.fromEntries(out) : undefined;
  };
}

/** resources.labels: key → string (numbers are written as strings). */
export const checkLabels: FieldCheck<Record<string, string>> = (value, report) => {
  if (value === null) return {};
  if (!isPlainObject(value)) {
    report(`expected a mapping of label: value, got ${describeValue(value)}`);
    return undefined;
  }
  const out: Array<[string, string]> = [];
  let ok = true;
  for (const [key, v] of Object.entries(value)) {
    if (key.trim().length === 0) {
      report('a label name must not be empty', [key], { at: 'key' });
      ok = false;
    } else if (typeof v === 'string') {
      out.push([key, v]);
    } else if (typeof v === 'number') {
      out.push([key, String(v)]);
    } else {
      report(`expected a label value (a string), got ${describeValue(v)}`, [key]);
      ok = false;
    }
  }
  return ok ? Object.fromEntries(out) : undefined;
};

/** resources.image_id: one id, or region → id; `null` (as SkyPilot allows) is no image. */
export const checkImageId: FieldCheck<string | Record<string, string> | null> = (value, report) => {
  if (value === null) return null;
  if (typeof value === 'string') return text('an image id')(value, report);
  if (!isPlainObject(value) || Object.keys(value).length === 0) {
    report(`expected an image id, or a mapping of region: image id, got ${describeValue(value)}`);
    return undefined;
  }
  const out: Array<[string, string]> = [];
  let ok = true;
  for (const [region, id] of Object.entries(value)) {
    const checked = text('an image id')(id, (message) => report(message, [region]));
    if (checked === undefined) ok = false;
    else out.push([region, checked]);
  }
  return ok ? Object.fromEntries(out) : undefined;
};

const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
const MOUNT_KEYS = ['source', 'mode'];
const STORAGE_KEYS = ['name', 'store', 'persistent', 'config', 'mount_options', 'type'] as const;
/** Where SkyPilot puts a relative file mount destination. */
export const WORKDIR_ON_NODE = '~/sky_workdir';

/** Why a file mount destination is unusable: it must be absolute or start with ~/, and never climb out with "..". */
export function remotePathProblem(path: string): string | undefined {
  if (path !== '~' && !path.startsWith('/') && !path.startsWith('~/')) return `remote path ${JSON.stringify(path)} must be absolute or start with ~/`;
  if (/[\x00-\x1f\x7f]/.test(path)) return `remote path ${JSON.stringify(path)} has a control character`;
  if (path.split('/').includes('..')) return `remote path ${JSON.stringify(path)} has a ".." segment; name the destination directly`;
  return undefined;
}

/**
 * SkyPilot's list form of a file mount's source (`/dst: {source: [a, b]}`): each listed path
 * lands in the destination directory under its own name (`/dst/a`, `/dst/b`), as SkyPilot lays
 * them out in the bucket it mounts there. Either the entries (destination → path) or why not.
 */
export function sourceListEntries(dest: string, sources: readonly string[]): Array<[string, string]> | string {
  if (sources.length === 0) return 'expected at least one local path in the list';
  const base = dest.replace(/\/+$/, '');
  const seen = new Map<string, string>();
  const out: Array<[string, string]> = [];
  for (const source of sources) {
    const name = source.replace(/\/+$/, '').split('/').pop() ?? '';
    if (name === '' || name === '.' || name === '..' || name === '~') return `${JSON.stringify(source)} has no name to place it under in ${dest}; name a file or directory`;
    const other = seen.get(name);
    if (other !== undefined) return `${JSON.stringify(other)} and ${JSON.stringify(source)} would both land at ${base}/${name}; give them separate destinations`;
    seen.set(name, source);
    out.push([`${base}/${name}`, source]);
  }
  return out;
}

function localSource(value: unknown, report: Report, path: Array<string | number>): string | undefined {
  if (typeof value !== 'string' || value.trim().length === 0) {
    report(`expected a local path to copy, got ${describeValue(value)}`, path);
    return undefined;
  }
  if (URI.test(value)) {
    report('bucket source', path, { unsupported: 'file_mounts.*', at: 'value' });
    return undefined;
  }
  return value;
}

/** file_mounts: remote path → local path, or → { source: local path, mode: COPY }. */
export const checkFileMounts: FieldCheck<Record<string, string>> = (value, report) => {
  if (value === null) return {};
  if (!isPlainObject(value)) {
    report(`expected a mapping of remote path: local path, got ${describeValue(value)}`);
    return undefined;
  }
  const out: Array<[string, string]> = [];
  let ok = true;
  for (const [dst, src] of Object.entries(value)) {
    // As in SkyPilot, a relative destination is under the workdir on the node (`~user/x` is not relative).
    const relative = dst.trim().length > 0 && !dst.startsWith('/') && !dst.startsWith('~');
    const target = relative ? `${WORKDIR_ON_NODE}/${dst.replace(/^(\.\/)+/, '')}` : dst;
    const badPath = remotePathProblem(target);
    if (badPath !== undefined) {
      report(badPath, [dst], { at: 'key' });
      ok = false;
      continue;
    }
    if (typeof src === 'string') {
      const source = localSource(src, report, [dst]);
      if (source === undefined) ok = false;
      else out.push([target, source]);
      continue;
    }
    if (!isPlainObject(src)) {
      report(`expected a local path, or a mapping with source, got ${describeValue(src)}`, [dst]);
      ok = false;
      continue;
    }
    let mountOk = true;
    let storage = false;
    let unknown = false;
    for (const key of Object.keys(src)) {
      const storageKey = STORAGE_KEYS.find((k) => k === key);
      if (storageKey !== undefined) {
        report(key, [dst, key], { unsupported: `file_mounts.*.${storageKey}`, at: 'key' });
        storage = true;
        mountOk = false;
      } else if (!MOUNT_KEYS.includes(key)) {
        report('unknown field', [dst, key], { unknownAmong: [...MOUNT_KEYS, ...STORAGE_KEYS], at: 'key' });
        unknown = true;
        mountOk = false;
      }
    }
    const mode = src.mode;
    if (mode !== undefined) {
      const upper = typeof mode === 'string' ? mode.toUpperCase() : undefined;
      if (upper === 'MOUNT' || upper === 'MOUNT_CACHED') {
        report('mode', [dst, 'mode'], { unsupported: 'file_mounts.*.mode', at: 'value' });
        mountOk = false;
      } else if (upper !== 'COPY') {
        report(`expected COPY, MOUNT or MOUNT_CACHED, got ${describeValue(mode)}`, [dst, 'mode']);
        mountOk = false;
      }
    }
    if (!Object.hasOwn(src, 'source')) {
      if (!storage && !unknown) {
        report('missing source: the local path to copy to the nodes', [dst]);
        mountOk = false;
      }
    } else {
      if (Array.isArray(src.source)) {
        const items: string[] = [];
        src.source.forEach((item, i) => {
          const source = localSource(item, report, [dst, 'source', i]);
          if (source === undefined) mountOk = false;
          else items.push(source);
        });
        const entries = mountOk ? sourceListEntries(target, items) : [];
        if (typeof entries === 'string') {
          report(entries, [dst, 'source']);
          mountOk = false;
        } else if (mountOk) out.push(...entries);
      } else {
        const source = localSource(src.source, report, [dst, 'source']);
        if (source === undefined) mountOk = false;
        else if (mountOk) out.push([target, source]);
      }
    }
    if (!mountOk) ok = false;
  }
  return ok ? Object.fromEntries(out) : undefined;
};
