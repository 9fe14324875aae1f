import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { REPO_ROOT, SKY_BIN } from './daemon-process.js';

/** What one run of the built `sky` binary printed, and how it ended. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** HOME of the run (the CLI's ~/.sky, its token and generated files). */
  home: string;
  /** SKYPILOT_API_SERVER_ENDPOINT: the daemon the CLI talks to. */
  endpoint: string;
  /** More environment (wins over the above). */
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the run after this long (it then ends with code null). */
  timeoutMs?: number;
}

/** A run under way: its process, what it printed so far, and its end. */
export interface CliRun {
  child: ChildProcessByStdio<null, Readable, Readable>;
  out: { stdout: string; stderr: string };
  done: Promise<CliResult>;
}

/** Start the built `sky` CLI with `args`, without the caller's debug or node options. */
export function spawnSky(args: readonly string[], options: CliOptions): CliRun {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: options.home, SKYPILOT_API_SERVER_ENDPOINT: options.endpoint, ...options.env };
  delete env.SKY_DEBUG;
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, ['--', SKY_BIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out.stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, ...out })));
  return { child, out, done };
}

/** Run the built `sky` CLI to its end. */
export function runSky(args: readonly string[], options: CliOptions): Promise<CliResult> {
  return spawnSky(args, options).done;
}

/** A run as an assertion message: the command, its exit code and both streams. */
export function showRun(args: readonly string[], r: CliResult): string {
  return `sky ${args.join(' ')} exited ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}
