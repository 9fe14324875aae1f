import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, open, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { SkyError } from '@sky/protocol';
import { launcherCommand, streamScript } from '@sky/runtime';
import type { CommandResult, NodeTransport, StreamOptions, SyncFile } from './transport.js';
import { LocalLauncher } from './local-launcher.js';
import { pullChunks, Tail } from './chunk-queue.js';
import { parallel } from './parallel.js';
import { assertSyncPath } from './sync-paths.js';

const MAX_OUTPUT = 4 * 1024 * 1024;
/** How long a stopped stream's processes get between TERM and KILL. */
const KILL_GRACE_MS = 2_000;

export interface LocalOptions {
  /**
   * The umask commands start with. The daemon itself runs with umask 077 (its files are
   * private); jobs get the umask of the account's own shell back.
   */
  umask?: number;
}

/** A node that is a directory on this machine: commands are child processes with the node root as cwd. */
export class LocalTransport implements NodeTransport {
  private readonly prefix: string;
  /** The umask commands start with (undefined: the daemon's own). */
  readonly umask: number | undefined;
  /** What starts this node's ranks, once one was started. */
  private launcher: LocalLauncher | undefined;

  constructor(
    readonly root: string,
    options: LocalOptions = {},
  ) {
    this.umask = options.umask;
    this.prefix = options.umask === undefined ? '' : `umask ${options.umask.toString(8).padStart(4, '0')}; `;
  }

  private path(p: string): string {
    return isAbsolute(p) ? p : join(this.root, p);
  }

  run(command: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', this.prefix + command], {
        cwd: this.root,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        if (stdout.length < MAX_OUTPUT) stdout += c;
      });
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        if (stderr.length < MAX_OUTPUT) stderr += c;
      });
      child.on('error', (err) =>
        reject(new SkyError('NODE_UNREACHABLE', `cannot run a command on local node ${this.root}: ${err.message}`, { cause: err })),
      );
      child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    });
  }

  /**
   * The command runs detached (a process group of its own) under the stream script, whose
   * watcher holds a pipe from this process: stopping the stream ends the group, and so does this
   * process's death (the pipe closes).
   */
  stream(command: string, options: StreamOptions): AsyncIterable<Buffer> {
    return pullChunks(options.signal, (queue) => {
      const child = spawn('/bin/sh', ['-c', this.prefix + streamScript(command)], {
        cwd: this.root,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
      const stderr = new Tail();
      queue.flow = { pause: () => child.stdout.pause(), resume: () => child.stdout.resume() };
      child.stdin.on('error', () => undefined);
      child.stdout.on('data', (chunk: Buffer) => queue.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));
      child.on('error', (err) =>
        queue.end(new SkyError('NODE_UNREACHABLE', `cannot run a command on local node ${this.root}: ${err.message}`, { cause: err })),
      );
      child.on('close', (code, signal) => {
        child.stdin.destroy();
        queue.end(code === 0 ? undefined : streamFailed(`local node ${this.root}`, code, signal, stderr.value));
      });
      let killTimer: NodeJS.Timeout | undefined;
      return () => {
        const pid = child.pid;
        child.stdin.destroy();
        if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        const kill = (sig: NodeJS.Signals): void => {
          try {
            process.kill(-pid, sig);
          } catch {
            // the group is gone already
          }
        };
        kill('SIGTERM');
        killTimer ??= setTimeout(() => kill('SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
        child.once('close', () => clearTimeout(killTimer));
      };
    });
  }

  /**
   * Start a rank of the node runtime whose files are written (`dir` and `journal` as the runtime
   * names them, `script` the runtime on this node): the directory is made private and the node's
   * launcher (see LocalLauncher) starts the runner; resolves with the runner's pid.
   */
  async startRank(dir: string, journal: string, script: string): Promise<number> {
    await chmod(this.path(dir), 0o700);
    this.launcher ??= new LocalLauncher(this.root, ['-c', `${this.prefix}exec ${launcherCommand({ script })}`]);
    return this.launcher.start(dir, journal);
  }

  /** Close the node's launcher, if one runs (the ranks it started keep running). */
  closeLauncher(): void {
    this.launcher?.close();
    this.launcher = undefined;
  }

  async writeFiles(dir: string, files: Record<string, string>, privateFiles: readonly string[] = []): Promise<void> {
    const base = this.path(dir);
    await mkdir(base, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      const file = join(base, name);
      if (dirname(file) !== base) await mkdir(dirname(file), { recursive: true });
      const mode = privateFiles.includes(name) ? 0o600 : 0o644;
      await writeFile(file, content, { mode });
      await chmod(file, mode);
    }
  }

  async readFrom(path: string, offset: number, max: number): Promise<{ data: Buffer; size: number }> {
    let handle;
    try {
      handle = await open(this.path(path), 'r');
    } catch {
      return { data: Buffer.alloc(0), size: -1 };
    }
    try {
      const { size } = await handle.stat();
      if (size <= offset) return { data: Buffer.alloc(0), size };
      const length = Math.min(max, size - offset);
      const data = Buffer.alloc(length);
      const { bytesRead } = await handle.read(data, 0, length, offset);
      return { data: data.subarray(0, bytesRead), size };
    } finally {
      await handle.close();
    }
  }

  /**
   * Files land inside the node directory only: an absolute `dest` must lie under it, and no
   * directory on the way (below the node root) may be a symbolic link, so a job cannot redirect
   * a later sync through a link it planted. Files are written to a temporary name and renamed
   * into place (a link at the target is replaced, never followed).
   */
  async syncFiles(dest: string, files: readonly SyncFile[], dirs: readonly string[] = []): Promise<number> {
    const base = this.confined(dest);
    await this.makeDirs(base);
    for (const dir of dirs) {
      assertSyncPath(dir);
      await this.makeDirs(join(base, dir));
    }
    let written = 0;
    await parallel(files, FILES_IN_FLIGHT, async (file) => {
      assertSyncPath(file.path);
      const target = join(base, file.path);
      await this.makeDirs(dirname(target));
      const existing = await lstat(target).catch(() => undefined);
      // Whole milliseconds: utimes goes through floating-point seconds, which may shift the last digit.
      if (existing?.isFile() && existing.size === file.size && Math.round(existing.mtimeMs) === Math.round(file.mtimeMs)) return;
      if (existing?.isDirectory()) throw this.refused(target, 'is a directory where the file goes');
      const tmp = join(dirname(target), `.sky-sync-${randomBytes(6).toString('hex')}`);
      try {
        await pipeline(file.open(), createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
        await chmod(tmp, file.mode & 0o777);
        const when = new Date(Math.round(file.mtimeMs));
        await utimes(tmp, when, when);
        await rename(tmp, target);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      written += 1;
    });
    return written;
  }

  /** The absolute place of `dest`, which must be the node directory or inside it. */
  private confined(dest: string): string {
    const root = resolve(this.root);
    const full = resolve(root, dest);
    if (full !== root && !full.startsWith(root + sep)) throw this.refused(dest, `is outside the node directory ${root}`);
    return full;
  }

  /** mkdir -p from the node root to `dir`, refusing any level that is a symbolic link or not a directory. */
  private async makeDirs(dir: string): Promise<void> {
    const root = resolve(this.root);
    let current = root;
    await mkdir(root, { recursive: true });
    for (const part of relative(root, dir).split(sep).filter((p) => p !== '')) {
      current = join(current, part);
      let info = await lstat(current).catch(() => undefined);
      if (info === undefined) {
        await mkdir(current).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
        info = await lstat(current);
      }
      if (info.isSymbolicLink()) throw this.refused(current, 'is a symbolic link; sky does not write through links on a node');
      if (!info.isDirectory()) throw this.refused(current, 'is not a directory');
    }
  }

  private refused(path: string, why: string): SkyError {
    return new SkyError('NODE_RUNTIME_ERROR', `cannot sync files to ${path} on local node ${this.root}: it ${why}`, {
      hint: 'Remove what is in the way on the node (or choose another destination) and launch again.',
    });
  }
}

const FILES_IN_FLIGHT = 8;

/** A streamed command that ended with another code than 0. */
export function streamFailed(where: string, code: number | null, signal: NodeJS.Signals | string | null | undefined, stderr: string): SkyError {
  const how = code !== null ? `exited with code ${code}` : `was killed by ${signal ?? 'a signal'}`;
  return new SkyError('NODE_RUNTIME_ERROR', `a streamed command on ${where} ${how}${stderr ? `: ${stderr}` : ''}`, {
    hint: 'The command ended on its own; check it on the node.',
  });
}
