// Before a launch or exec: the task's workdir and file_mounts sources that exist on this
// machine are uploaded and named in the body's `uploads`, unless the API server reads this
// caller's paths itself (the personal daemon's owner, on the same machine).
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { SkyError } from '@sky/protocol/wire';
import type { TaskUploads } from '@sky/protocol';
import { sourceListEntries } from '@sky/protocol/task-core';
import type { UploadProgress, UploadResult } from './uploads.js';

/** The parts of a launch or exec body this looks at. */
export interface TaskBody {
  task: unknown;
  uploads?: TaskUploads;
  dryrun?: boolean;
}

export interface TaskUploadHooks {
  /** Whether the API server reads this caller's own paths (then nothing is uploaded). */
  serverPaths(): Promise<boolean>;
  upload(path: string, field: string): Promise<UploadResult>;
  cwd?: string;
  home?: string;
}

/** Progress of one source of a task: which field, and how far. */
export interface TaskUploadProgress extends UploadProgress {
  field: string;
}

function absolute(path: string, cwd: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return resolve(home, path.slice(2));
  return isAbsolute(path) ? path : resolve(cwd, path);
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function sourceOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { source?: unknown }).source === 'string') return (value as { source: string }).source;
  return undefined;
}

/** `{source: [a, b]}`: the listed paths, when every one is a string. */
function listedSources(value: unknown): string[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const source = (value as { source?: unknown }).source;
  return Array.isArray(source) && source.every((s) => typeof s === 'string') ? source : undefined;
}

/** Each list-form mount becomes one mount per listed path (the server parses them the same way), so each is uploaded on its own. */
function expandSourceLists(mounts: Record<string, unknown>): void {
  for (const [dest, value] of Object.entries(mounts)) {
    const list = listedSources(value);
    if (list === undefined) continue;
    const entries = sourceListEntries(dest, list);
    if (typeof entries === 'string') continue; // left as written: the server refuses it and says why
    delete mounts[dest];
    for (const [d, path] of entries) mounts[d] = path;
  }
}

function withSource(value: unknown, path: string): unknown {
  return typeof value === 'string' ? path : { ...(value as object), source: path };
}

/**
 * The body to submit: local paths made absolute; each that exists here uploaded (unless the
 * server reads them itself) and named in `uploads`. Paths missing here are left for the server
 * to judge (an admin may allow some of its own paths); on the owner's own machine a missing
 * path is an error at once. A dry run uploads nothing.
 */
export async function uploadTaskFiles<B extends TaskBody>(body: B, hooks: TaskUploadHooks): Promise<B> {
  if (body.dryrun === true || typeof body.task !== 'object' || body.task === null || Array.isArray(body.task)) return body;
  const task = { ...(body.task as Record<string, unknown>) };
  const mounts = typeof task.file_mounts === 'object' && task.file_mounts !== null && !Array.isArray(task.file_mounts) ? { ...(task.file_mounts as Record<string, unknown>) } : undefined;
  if (mounts !== undefined) expandSourceLists(mounts);
  const workdir = typeof task.workdir === 'string' ? task.workdir : undefined;
  const sources: Array<{ field: string; dest?: string; path: string }> = [];
  if (workdir !== undefined && body.uploads?.workdir === undefined) sources.push({ field: 'workdir', path: workdir });
  for (const [dest, value] of Object.entries(mounts ?? {})) {
    const source = sourceOf(value);
    if (source !== undefined && body.uploads?.file_mounts?.[dest] === undefined) sources.push({ field: `file_mounts[${JSON.stringify(dest)}]`, dest, path: source });
  }
  if (sources.length === 0) return body;
  const cwd = hooks.cwd ?? process.cwd();
  const home = hooks.home ?? homedir();
  const serverPaths = await hooks.serverPaths();
  const uploads: TaskUploads = { ...body.uploads, ...(body.uploads?.file_mounts ? { file_mounts: { ...body.uploads.file_mounts } } : {}) };
  const missing: string[] = [];
  for (const source of sources) {
    const path = absolute(source.path, cwd, home);
    if (source.dest === undefined) task.workdir = path;
    else mounts![source.dest] = withSource(mounts![source.dest], path);
    if (!exists(path)) {
      missing.push(`${source.field}: ${source.path} does not exist${path === source.path ? '' : ` (${path})`}`);
      continue;
    }
    if (serverPaths) continue;
    const { id } = await hooks.upload(path, source.field);
    if (source.dest === undefined) uploads.workdir = id;
    else (uploads.file_mounts ??= {})[source.dest] = id;
  }
  if (serverPaths && missing.length > 0) {
    throw new SkyError('TASK_INVALID', missing.join('\n'), { hint: 'Local paths in a task are read from the current directory; create them or fix the paths.' });
  }
  if (mounts !== undefined) task.file_mounts = mounts;
  const out: B = { ...body, task };
  if (uploads.workdir !== undefined || uploads.file_mounts !== undefined) out.uploads = uploads;
  return out;
}
