import { createReadStream } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { inject, injectable } from 'tsyringe';
import { remotePathProblem, SkyError, type Task, type TaskUploads } from '@sky/protocol';
import { walkTree } from '@sky/protocol/files';
import { TOKENS } from '../tokens.js';
import type { DaemonConfig } from '../config/schema.js';
import { expandHome } from '../config/load.js';
import { AuditLog } from '../audit/audit-log.js';
import type { SyncFile } from '../nodes/transport.js';
import type { StoredUpload } from './upload-store.js';
import { UploadService, type UploadUser } from './upload-service.js';
import { fileDestination } from './node-destination.js';

/** Where the files of a workdir or file mount come from. */
export type FileSource =
  | { kind: 'upload'; upload: StoredUpload; label: string }
  /** A path on the daemon's host: the personal daemon's owner's own, or under uploads.server_paths. */
  | { kind: 'path'; path: string };

export interface TaskFiles {
  workdir?: FileSource;
  mounts: Array<{ dest: string; source: FileSource }>;
}

export const NO_FILES: TaskFiles = { mounts: [] };

/** How the personal daemon's owner is authenticated (the local token). */
const OWNER_VIA: string = 'local';

/** Whether a caller authenticated this way may name any path of the daemon's host (only the personal daemon's owner). */
export function mayNameServerPaths(via: string): boolean {
  return via === OWNER_VIA;
}

/** What a source holds, ready for NodeTransport.syncFiles. */
export interface SourceTree {
  kind: 'dir' | 'file';
  files: SyncFile[];
  dirs: string[];
}

/** Who submits, and whether they may name any path of this host (the personal daemon's owner). */
export interface FilesCaller extends UploadUser {
  serverPaths: boolean;
}

function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

export function describeSource(source: FileSource): string {
  return source.kind === 'upload' ? `${source.label} (uploaded)` : source.path;
}

/**
 * Turns a task's workdir and file_mounts (plus the uploads that replace them) into sources,
 * enforcing the rule that the daemon reads no path of its own host for anyone but its owner:
 * every other caller's paths must be uploads, or lie under uploads.server_paths once symbolic
 * links are resolved. Used when a launch or exec is submitted and again when it runs.
 */
@injectable()
export class TaskFilesResolver {
  constructor(
    @inject(TOKENS.Config) private readonly config: DaemonConfig,
    @inject(UploadService) private readonly uploads: UploadService,
    @inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  /**
   * The sources of a task submitted by `caller`, checked before the request is stored: only the
   * personal daemon's owner (Caller.via 'local', proven by the local token) may name paths of
   * this host outside uploads.server_paths.
   */
  forSubmit(task: Pick<Task, 'workdir' | 'workdirGit' | 'file_mounts'>, given: TaskUploads | undefined, caller: UploadUser & { via: string }, dryrun: boolean): Promise<TaskFiles> {
    return this.resolve(task, given, { id: caller.id, name: caller.name, serverPaths: mayNameServerPaths(caller.via) }, dryrun);
  }

  /**
   * The sources of a task when its request runs, checked again: only a personal daemon (auth
   * none, where only the owner's local token is let in) reads paths outside uploads.server_paths.
   */
  forRun(task: Pick<Task, 'workdir' | 'workdirGit' | 'file_mounts'>, given: TaskUploads | undefined, user: UploadUser): Promise<TaskFiles> {
    return this.resolve(task, given, { ...user, serverPaths: this.config.auth.mode === 'none' });
  }

  /**
   * The sources of a task. `dryrun`: nothing will be read, so paths are not checked (uploads
   * named must still be the caller's).
   */
  async resolve(task: Pick<Task, 'workdir' | 'workdirGit' | 'file_mounts'>, given: TaskUploads | undefined, caller: FilesCaller, dryrun = false): Promise<TaskFiles> {
    const out: TaskFiles = { mounts: [] };
    if (given?.workdir !== undefined) {
      const upload = await this.uploads.forTask(caller, given.workdir, 'uploads.workdir');
      if (upload.manifest.kind !== 'dir') throw new SkyError('TASK_INVALID', `uploads.workdir: upload ${given.workdir} is a single file; the workdir is a directory`);
      out.workdir = { kind: 'upload', upload, label: task.workdir ?? given.workdir };
    } else if (task.workdir !== undefined) {
      out.workdir = await this.serverPath(task.workdir, 'workdir', caller, dryrun);
    } else if (task.workdirGit !== undefined && !dryrun) {
      // The server clones nothing: the client does, with its own credentials, and uploads the clone.
      throw new SkyError('TASK_INVALID', `workdir: the git repository ${task.workdirGit.url} is cloned by the client, not by the API server`, {
        hint: 'The sky CLI clones it and uploads the clone; API callers upload a checkout (POST /api/v1/uploads) and name it in uploads.workdir.',
      });
    }
    const uploaded = given?.file_mounts ?? {};
    for (const [dest, id] of Object.entries(uploaded)) {
      const problem = remotePathProblem(dest);
      if (problem !== undefined) throw new SkyError('TASK_INVALID', `uploads.file_mounts: ${problem}`, { hint: 'Destinations are absolute or start with ~/.' });
      const upload = await this.uploads.forTask(caller, id, `uploads.file_mounts[${JSON.stringify(dest)}]`);
      if (upload.manifest.kind === 'file') fileDestination(dest, `uploads.file_mounts[${JSON.stringify(dest)}]`);
      out.mounts.push({ dest, source: { kind: 'upload', upload, label: task.file_mounts[dest] ?? id } });
    }
    for (const [dest, path] of Object.entries(task.file_mounts)) {
      if (Object.hasOwn(uploaded, dest)) continue;
      out.mounts.push({ dest, source: await this.serverPath(path, `file_mounts[${JSON.stringify(dest)}]`, caller, dryrun) });
    }
    return out;
  }

  private async serverPath(path: string, field: string, caller: FilesCaller, dryrun: boolean): Promise<FileSource> {
    if (!isAbsolute(path)) {
      throw new SkyError('TASK_INVALID', `${field}: "${path}" must be an absolute path when the task reaches the API server`, {
        hint: 'The sky CLI resolves relative paths against the directory you run it in, and uploads them; API callers upload first (POST /api/v1/uploads).',
      });
    }
    if (dryrun || caller.serverPaths || (await this.allowedServerPath(path))) return { kind: 'path', path };
    await this.audit.record({ user: caller.id, userName: caller.name, action: 'read_server_path', target: path.slice(0, 500), result: 'DENIED', detail: 'SERVER_PATH_REFUSED' });
    throw new SkyError('SERVER_PATH_REFUSED', `${field}: ${path} is a path on the API server's host, which it reads only for its owner (or under uploads.server_paths)`, {
      hint: `The sky CLI and SDK upload local paths automatically: check that ${path} exists on your machine. API callers upload first (POST /api/v1/uploads) and name the upload in uploads.workdir or uploads.file_mounts.`,
      details: { field },
    });
  }

  /** Whether `path`, symbolic links resolved, lies under one of uploads.server_paths (also resolved). */
  private async allowedServerPath(path: string): Promise<boolean> {
    if (this.config.uploads.server_paths.length === 0) return false;
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined) return false;
    for (const entry of this.config.uploads.server_paths) {
      const root = await realpath(expandHome(entry)).catch(() => undefined);
      if (root !== undefined && inside(real, root)) return true;
    }
    return false;
  }

  /** The files of a source, read from the upload store or from this host. */
  async tree(source: FileSource): Promise<SourceTree> {
    if (source.kind === 'upload') return { kind: source.upload.manifest.kind, ...this.uploads.syncFiles(source.upload) };
    const tree = await walkTree(source.path, { maxEntries: this.config.uploads.max_files });
    const files = tree.files.map((f): SyncFile => ({ path: f.path, mode: f.mode, mtimeMs: f.mtimeMs, size: f.size, open: () => createReadStream(f.absolute) }));
    return { kind: tree.kind, files, dirs: tree.dirs };
  }
}
