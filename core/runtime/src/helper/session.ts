import { spawn, type ChildProcess } from 'node:child_process';
import { HELPER_LIMITS, SkyError, type HelperRequest } from '@sky/protocol';
import { shellQuote as quote } from '../job.js';
import { firstExecutable, SCRIPT_PATHS, terminalUnder } from '../programs.js';
import type { Account } from './accounts.js';
import type { StreamSink } from './run.js';
import { accountEnv } from './workers.js';

type SessionRequest = Extract<HelperRequest, { op: 'session' }>;
type SessionInput = Extract<HelperRequest, { op: 'sessionInput' }>;

/** Where a session's output goes: stdout as `stream` chunks, stderr marked as such. */
export interface SessionSink extends StreamSink {
  stderr(data: Buffer): void;
}

/** How a session ended. */
export type SessionEnd = { code: number } | { signal: string };

const SHELLS = ['/bin/bash', '/bin/sh'];
const KILL_GRACE_MS = 2_000;

/**
 * One interactive session (`ssh CLUSTER`), run as the account exactly as `run` runs a command:
 * uid and gid set by the kernel before exec (no supplementary groups), the clean job environment
 * (HOME = the node directory), in a process group of its own, the shell changing into the node
 * directory itself. With a terminal, util-linux `script` gives it a pseudo-terminal, also started
 * as the account. Window sizes and signals are applied by short-lived processes of the account
 * too, so nothing of the session is ever touched as root, except ending its group when the
 * session is abandoned.
 */
export class AccountSession {
  private readonly child: ChildProcess;
  private ended = false;
  private killTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly account: Account,
    private readonly env: Record<string, string>,
    argv: readonly string[],
    sink: SessionSink,
    resolve: (end: SessionEnd) => void,
    reject: (err: Error) => void,
  ) {
    this.child = spawn('/bin/sh', ['-c', 'cd -- "$HOME" || exit 125\nexec "$@"', 'sky-session', ...argv], {
      cwd: '/',
      uid: account.uid,
      gid: account.gid,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const child = this.child;
    child.stdin!.on('error', () => undefined);
    const forward = (stream: NodeJS.ReadableStream & { pause(): void; resume(): void }, emit: (data: Buffer) => void): void => {
      stream.on('data', (data: Buffer) => {
        const max = HELPER_LIMITS.streamChunkBytes;
        for (let at = 0; at < data.length; at += max) emit(data.subarray(at, at + max));
        if (sink.congested()) {
          stream.pause();
          sink.onDrain(() => stream.resume());
        }
      });
    };
    forward(child.stdout!, (d) => sink.chunk(d));
    forward(child.stderr!, (d) => sink.stderr(d));
    child.on('error', (err) => {
      this.ended = true;
      reject(new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: cannot start a session as ${account.name}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      this.ended = true;
      if (this.killTimer) clearTimeout(this.killTimer);
      resolve(code !== null ? { code } : { signal: (signal ?? 'SIGKILL').replace(/^SIG/, '') });
    });
  }

  /** Start a session for `req` as `account` in `nodeDir`; resolves the returned promise when it ends. */
  static start(account: Account, nodeDir: string, req: SessionRequest, sink: SessionSink, jobPath: string): { session: AccountSession; ended: Promise<SessionEnd> } {
    const shell = firstExecutable(SHELLS) ?? '/bin/sh';
    const env: Record<string, string> = { ...(req.env ?? {}), ...accountEnv(account, nodeDir, jobPath), SHELL: shell };
    let argv: string[];
    if (req.pty === undefined) {
      argv = req.command === undefined ? [shell, '-l'] : [shell, '-c', req.command];
    } else {
      const script = firstExecutable(SCRIPT_PATHS);
      if (script === undefined) {
        throw new SkyError('NOT_SUPPORTED', 'this machine has no `script` (util-linux), which gives sessions on account nodes a terminal', {
          hint: 'Install bsdutils (util-linux) on the API server host, or connect without a terminal: ssh -T CLUSTER COMMAND.',
        });
      }
      env['TERM'] = req.pty.term;
      const inner = req.command === undefined ? `exec ${quote(shell)} -l` : `exec ${quote(shell)} -c ${quote(req.command)}`;
      argv = [script, '--quiet', '--return', '--flush', '--command', `stty rows ${req.pty.rows} cols ${req.pty.cols} 2>/dev/null; ${inner}`, '/dev/null'];
    }
    let session!: AccountSession;
    const ended = new Promise<SessionEnd>((resolve, reject) => {
      session = new AccountSession(account, env, argv, sink, resolve, reject);
    });
    return { session, ended };
  }

  /** Apply one sessionInput: stdin bytes (resolves once taken), end of stdin, a size, a signal. */
  async input(req: SessionInput, payload: Uint8Array): Promise<boolean> {
    if (this.ended) return false;
    const stdin = this.child.stdin!;
    if (payload.length > 0 && stdin.writable) {
      await new Promise<void>((resolve) => stdin.write(payload, () => resolve()));
    }
    if (req.eof === true) stdin.end();
    if (req.size !== undefined) this.resize(req.size.rows, req.size.cols);
    if (req.signal !== undefined) this.asAccount(['kill', '-s', req.signal.replace(/^SIG/, ''), '--', `-${this.child.pid}`]);
    return true;
  }

  /** End the whole process group (the session was abandoned): TERM, then KILL. */
  end(): void {
    const pid = this.child.pid;
    if (this.ended || pid === undefined) return;
    this.child.stdin!.destroy();
    const send = (signal: NodeJS.Signals): void => {
      try {
        process.kill(-pid, signal);
      } catch {
        // already gone
      }
    };
    send('SIGHUP');
    send('SIGTERM');
    this.killTimer ??= setTimeout(() => send('SIGKILL'), KILL_GRACE_MS);
  }

  private resize(rows: number, cols: number): void {
    if (this.child.pid === undefined) return;
    const tty = terminalUnder(this.child.pid);
    if (tty === undefined) return;
    // stty as the account: it opens the terminal, which is the account's own, and the kernel sends SIGWINCH.
    this.asAccount(['stty', '-F', tty, 'rows', String(rows), 'cols', String(cols)]);
  }

  /** A short command (argv, no shell) as the session's account, with its environment. */
  private asAccount(argv: readonly string[]): void {
    const [file, ...args] = argv;
    spawn(file!, args, { cwd: '/', uid: this.account.uid, gid: this.account.gid, env: this.env, stdio: 'ignore' }).on('error', () => undefined);
  }
}
