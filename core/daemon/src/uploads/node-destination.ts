import { basename } from 'node:path';
import { SkyError, type NodeRecord } from '@sky/protocol';

/**
 * Where a destination of a task (`~`, `~/x` or `/x`; ".." refused when the task was checked)
 * goes on a node, as a path for its transport:
 * - local nodes (directories on the daemon's host): `~/x` and `/x` both land at `x` inside the
 *   node directory, which is the task's $HOME; nothing is written outside it.
 * - SSH nodes: `~/x` under the login's home, `/x` at that absolute path on the host (as in SkyPilot).
 */
export function nodeDestination(reach: NodeRecord['reach'], dest: string): string {
  const home = dest === '~' ? '' : dest.startsWith('~/') ? dest.slice(2) : undefined;
  const relative = home ?? dest.replace(/^\/+/, '');
  const clean = relative.split('/').filter((p) => p !== '' && p !== '.').join('/');
  if (reach.kind === 'local' || home !== undefined) return clean;
  return `/${clean}`;
}

/** A single file mounted at `dest`: the directory it goes in and its name there. */
export function fileDestination(dest: string, field: string): { dir: string; name: string } {
  const trimmed = dest.replace(/\/+$/, '');
  const name = basename(trimmed);
  if (trimmed === '' || trimmed === '~' || name === '' || name === '~') {
    throw new SkyError('TASK_INVALID', `${field}: a single file cannot be placed at ${dest}; name the file (e.g. ${dest.replace(/\/+$/, '')}/file.txt)`);
  }
  return { dir: trimmed.slice(0, trimmed.length - name.length).replace(/\/+$/, '') || (trimmed.startsWith('/') ? '/' : '~'), name };
}
