import { spawn, type ChildProcess } from 'node:child_process';
import { HELPER_LIMITS, SkyError } from '@sky/protocol';
import { streamScript } from '../stream-script.js';
import { accountEnv } from './workers.js';
import type { Account } from './accounts.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const KILL_GRACE_MS = 2_000;

/**
 * Ending a child's whole process group: `end` sends SIGTERM now and SIGKILL after KILL_GRACE_MS
 * (once, however often it is called); `settle` drops the pending SIGKILL once the child is gone.
 */
function groupEnder(child: ChildProcess): { end: () => void; settle: () => void } {
  let killTimer: NodeJS.Timeout | undefined;
  const signal = (name: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // already gone
    }
  };
  return {
    end: () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      signal('SIGTERM');
      killTimer ??= setTimeout(() => signal('SIGKILL'), KILL_GRACE_MS);
    },
    settle: () => {
      if (killTimer) clearTimeout(killTimer);
    },
  };
}

/**
 * `/bin/sh -c command` as the account: uid and gid set by the kernel before exec (and with
 * them no supplementary groups: libuv drops root's with setgroups(0)), a clean environment
 * (HOME = the node directory, USER, LOGNAME, PATH), in a session of its own. The shell changes
 * into the node directory itself, as the account, so root never follows a path a job controls.
 * A timeout or abort ends the whole process group: SIGTERM, then SIGKILL.
 */
export function runAs(
  account: Account,
  nodeDir: string,
  command: string,
  options: { jobPath: string; timeoutMs?: number; signal?: AbortSignal },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new SkyError('CANCELLED', 'the command was abandoned before it started'));
      return;
    }
    const child = spawn('/bin/sh', ['-c', `cd -- "$HOME" || exit 125\n${command}`], {
      cwd: '/',
      uid: account.uid,
      gid: account.gid,
      env: accountEnv(account, nodeDir, options.jobPath),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    const max = HELPER_LIMITS.outputBytes;
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      if (stdout.length < max) stdout += c.slice(0, max - stdout.length);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      if (stderr.length < max) stderr += c.slice(0, max - stderr.length);
    });
    const ender = groupEnder(child);
    const end = ender.end;
    const timeout = options.timeoutMs !== undefined ? setTimeout(end, options.timeoutMs) : undefined;
    options.signal?.addEventListener('abort', end, { once: true });
    child.on('error', (err) => {
      if (timeout) clearTimeout(timeout);
      options.signal?.removeEventListener('abort', end);
      reject(new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: cannot run a command as ${account.name}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      if (timeout) clearTimeout(timeout);
      ender.settle();
      options.signal?.removeEventListener('abort', end);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** Where a stream's output goes: the connection it was asked on. */
export interface StreamSink {
  /** One piece of stdout (at most HELPER_LIMITS.streamChunkBytes). */
  chunk(data: Buffer): void;
  /** Whether the connection holds more unsent bytes than a stream may add to. */
  congested(): boolean;
  /** Call `fn` once the connection has sent what it held. */
  onDrain(fn: () => void): void;
}

/**
 * `/bin/sh -c command` as the account (the same identity, environment and directory as runAs)
 * under the stream script, its stdout passed to `sink` as it comes; resolves with the exit code
 * and the end of stderr. The command pauses while the connection is congested. Aborting ends the
 * process group (TERM, then KILL); so does the helper's death, through the script's watcher.
 */
export function streamAs(
  account: Account,
  nodeDir: string,
  command: string,
  sink: StreamSink,
  options: { jobPath: string; signal: AbortSignal },
): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) {
      reject(new SkyError('CANCELLED', 'the command was abandoned before it started'));
      return;
    }
    const child = spawn('/bin/sh', ['-c', `cd -- "$HOME" || exit 125\n${streamScript(command)}`], {
      cwd: '/',
      uid: account.uid,
      gid: account.gid,
      env: accountEnv(account, nodeDir, options.jobPath),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdin.on('error', () => undefined);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr = (stderr + c).slice(-STREAM_STDERR_KEEP);
    });
    const max = HELPER_LIMITS.streamChunkBytes;
    child.stdout.on('data', (data: Buffer) => {
      for (let at = 0; at < data.length; at += max) sink.chunk(data.subarray(at, at + max));
      if (sink.congested()) {
        child.stdout.pause();
        sink.onDrain(() => child.stdout.resume());
      }
    });
    const ender = groupEnder(child);
    const end = (): void => {
      child.stdin.destroy();
      ender.end();
    };
    options.signal.addEventListener('abort', end, { once: true });
    child.on('error', (err) => {
      options.signal.removeEventListener('abort', end);
      reject(new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: cannot run a command as ${account.name}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      ender.settle();
      child.stdin.destroy();
      options.signal.removeEventListener('abort', end);
      resolve({ code: code ?? (signal ? 128 : 1), stderr });
    });
  });
}

const STREAM_STDERR_KEEP = 2048;
