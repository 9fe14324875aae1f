import { spawn } from 'node:child_process';
import { HELPER_LIMITS, SkyError } from '@sky/protocol';
import { accountEnv } from './workers.js';
import type { Account } from './accounts.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const KILL_GRACE_MS = 2_000;

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
    let killTimer: NodeJS.Timeout | undefined;
    const end = (): void => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      killTimer ??= setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, KILL_GRACE_MS);
    };
    const timeout = options.timeoutMs !== undefined ? setTimeout(end, options.timeoutMs) : undefined;
    options.signal?.addEventListener('abort', end, { once: true });
    child.on('error', (err) => {
      if (timeout) clearTimeout(timeout);
      options.signal?.removeEventListener('abort', end);
      reject(new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: cannot run a command as ${account.name}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      if (timeout) clearTimeout(timeout);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', end);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}
