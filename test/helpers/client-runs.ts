import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from './daemon-process.js';

/** What one client program (ssh, scp, rsync, the sky CLI) printed, and how it ended. */
export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Client programs a test file starts, tracked so its `after` can kill what is left:
 * `run` feeds `input` on stdin, kills the program after `timeoutMs`, and calls `onStdout` with
 * all of stdout so far on every chunk.
 */
export function clientRuns(): {
  children: Set<ChildProcess>;
  run: (command: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: string, timeoutMs?: number, onStdout?: (text: string) => void) => Promise<RunResult>;
} {
  const children = new Set<ChildProcess>();
  const run = (command: string, args: readonly string[], env: NodeJS.ProcessEnv, input = '', timeoutMs = 60_000, onStdout?: (text: string) => void): Promise<RunResult> => {
    const full: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete full.SKY_DEBUG;
    delete full.NODE_OPTIONS;
    const child = spawn(command, args, { cwd: REPO_ROOT, env: full, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      onStdout?.(stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    return new Promise((resolve) =>
      child.on('close', (code) => {
        clearTimeout(timer);
        children.delete(child);
        resolve({ code, stdout, stderr });
      }),
    );
  };
  return { children, run };
}
