import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { SkyError } from '@sky/protocol';
import { launcherRequest, parseLauncherAnswer } from '@sky/runtime';

/** How long a launcher with nothing to start is kept before its stdin is closed (it exits). */
const IDLE_MS = 15_000;

/** A child's stdio stream is a pipe socket, which can be ref'd and unref'd like any handle. */
function pipe(stream: Readable | Writable): Socket {
  return stream as Socket;
}

interface Waiter {
  resolve: (pid: number) => void;
  reject: (err: Error) => void;
}

/**
 * The node runtime's `launcher` on one local node: a small shell, started on the first rank and
 * kept while ranks come, that starts each rank's runner as `start` does. A spawn from the daemon
 * forks the whole daemon and holds its event loop until the child has exec'd (milliseconds per
 * rank under load); the launcher's forks are a small shell's. Requests go in order and answers come
 * back in the same order, one line each. It exits when idle (its stdin is closed) and when the
 * daemon exits (the pipe closes); it never keeps the daemon alive.
 */
export class LocalLauncher {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly waiting: Waiter[] = [];
  private partial = '';
  private idle: NodeJS.Timeout | undefined;

  /**
   * `root`: the node root (the launcher's working directory); `shellArgs`: the arguments of
   * `/bin/sh` that run the launcher command (the transport's umask in front).
   */
  constructor(
    private readonly root: string,
    private readonly shellArgs: readonly string[],
    private readonly idleMs = IDLE_MS,
  ) {}

  /** Start the rank in `jobDir` (made private by the caller) with its events going to `journal`; resolves with the runner's pid. */
  start(jobDir: string, journal: string): Promise<number> {
    const request = launcherRequest(this.root, jobDir, journal);
    const child = this.running();
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.idle = undefined;
    // Held while an answer is due, so a caller with nothing else to wait for still gets it (or the exit).
    child.ref();
    pipe(child.stdout).ref();
    return new Promise<number>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      child.stdin.write(request);
    });
  }

  /** Close the launcher now (ranks it started keep running). */
  close(): void {
    if (this.idle !== undefined) clearTimeout(this.idle);
    this.idle = undefined;
    this.child?.stdin.end();
  }

  private running(): ChildProcessWithoutNullStreams {
    if (this.child !== undefined) return this.child;
    const child = spawn('/bin/sh', [...this.shellArgs], { cwd: this.root, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.unrefAll(child);
    let stderr = '';
    child.stdin.on('error', () => undefined);
    child.stdout.setEncoding('utf8').on('data', (text: string) => this.answers(text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      if (stderr.length < 4096) stderr += text;
    });
    const gone = (why: string): void => {
      if (this.child !== child) return;
      this.child = undefined;
      this.partial = '';
      const detail = stderr.trim().split('\n').slice(-3).join(' | ');
      const err = new SkyError('NODE_RUNTIME_ERROR', `the rank launcher of local node ${this.root} ${why}${detail ? `: ${detail}` : ''}`, {
        hint: 'Whether those ranks started shows in their job directories; the next start runs a new launcher.',
      });
      for (const waiter of this.waiting.splice(0)) waiter.reject(err);
    };
    child.on('error', (err) => gone(`could not run (${err.message})`));
    child.on('close', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
    return child;
  }

  private answers(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const waiter = this.waiting.shift();
      if (waiter === undefined) continue;
      try {
        waiter.resolve(parseLauncherAnswer(line));
      } catch (err) {
        waiter.reject(err as Error);
      }
    }
    if (this.waiting.length === 0 && this.child !== undefined) {
      this.child.unref();
      pipe(this.child.stdout).unref();
      this.idle = setTimeout(() => this.close(), this.idleMs);
      this.idle.unref();
    }
  }

  /** The process and its pipes hold no reference while idle: the daemon exits when it has nothing else to do. */
  private unrefAll(child: ChildProcessWithoutNullStreams): void {
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) pipe(stream).unref();
  }
}
