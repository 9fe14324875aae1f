import { constants } from 'node:os';
import { shellQuote } from '@sky/runtime';
import { SkyError } from '@sky/protocol';
import type { CommandResult } from './transport.js';
import type { ClientChannel } from 'ssh2';
import type { SshConnection } from './ssh-connection.js';

const MAX_OUTPUT = 4 * 1024 * 1024;

/** Exit code of a command killed by its deadline (as coreutils' `timeout`). */
export const TIMEOUT_EXIT_CODE = 124;

export interface RunOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * How commands reach a node over its SSH connection. Today one exec channel per command; a
 * persistent shell channel per node (DESIGN §4: exec pays the remote login shell's start-up on
 * every call) can replace it behind this interface without touching the transport.
 */
export interface SshCommandRunner {
  run(command: string, options?: RunOptions): Promise<CommandResult>;
  close(): Promise<void>;
}

function signalExitCode(name: string | undefined): number {
  if (!name) return 128;
  const n = (constants.signals as Record<string, number | undefined>)[name.startsWith('SIG') ? name : `SIG${name}`];
  return 128 + (n ?? 0);
}

/** How long a timed-out or cancelled command gets between TERM and KILL. */
const KILL_GRACE_S = 2;

/**
 * The command line sent for `command`: a POSIX sh that first reports its pid on stderr (the
 * runner strips that line) and then runs the command. sshd makes each session's process the
 * leader of a new session and process group, so that pid names the group that a timeout or
 * cancel ends — the command and everything it started, not just the shell.
 */
export function execLine(command: string): string {
  return `sh -c ${shellQuote(`echo "$$" >&2
${command}`)}`;
}

/**
 * Ends the process group of `pid` (or the process alone when its group cannot be found): TERM,
 * then KILL after a grace period. The group comes from `ps`, else /proc (a login shell that
 * forks instead of exec'ing leaves the reported shell a member, not the leader). `kill -SIG -PGID`
 * is the form every POSIX sh's builtin takes (dash has no `--`).
 */
export function killLine(pid: number): string {
  if (!Number.isInteger(pid) || pid <= 1) throw new SkyError('VALIDATION_FAILED', `not a process id: ${pid}`);
  const p = String(pid);
  const script = [
    `g=$(ps -o pgid= -p ${p} 2>/dev/null | tr -d ' ')`,
    `[ -n "$g" ] || g=$(sed 's/.*) //' /proc/${p}/stat 2>/dev/null | cut -d' ' -f3)`,
    `case "$g" in ''|0|1|*[!0-9]*) g= ;; esac`,
    `end() { if [ -n "$g" ]; then kill -$1 -$g 2>/dev/null || kill -$1 ${p} 2>/dev/null; else kill -$1 ${p} 2>/dev/null; fi; }`,
    `end TERM; sleep ${KILL_GRACE_S}; end KILL; true`,
  ].join('\n');
  return `sh -c ${shellQuote(script)}`;
}

/** Each command is a POSIX `sh -c` on its own exec channel of the shared connection. */
export class ExecRunner implements SshCommandRunner {
  constructor(private readonly connection: SshConnection) {}

  async run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    const { signal, timeoutMs } = options;
    const label = this.connection.label;
    if (signal?.aborted) throw new SkyError('CANCELLED', `command on ${label} cancelled before it started`);
    let stdout = '';
    let stderr = '';
    let pidLine: string | undefined = '';
    let pid: number | undefined;
    let exitCode: number | undefined;
    let stopped: 'timeout' | 'abort' | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    let channel: ClientChannel | undefined;
    let channelClosed = false;
    let lost: () => SkyError | undefined = () => undefined;
    let closed!: () => void;
    const whenClosed = new Promise<void>((resolve) => (closed = resolve));

    const stop = (why: 'timeout' | 'abort'): void => {
      if (stopped || settled) return;
      stopped = why;
      if (pid !== undefined) {
        // A second channel ends the process group; this one closes once its output pipes do.
        void this.connection
          .exec(
            killLine(pid),
            (killer) => {
              killer.on('error', () => undefined);
              killer.resume();
              killer.stderr.resume();
            },
            true,
          )
          .then(
            ({ channel: killer, done }) => killer.once('close', done),
            () => undefined,
          );
      }
      try {
        channel?.signal('TERM');
      } catch {
        // the channel is closing already
      }
      // Answer within the grace period even if the command ignores TERM; the slot is freed when the channel closes.
      setTimeout(closed, (KILL_GRACE_S + 1) * 1000).unref();
    };
    const onAbort = (): void => stop('abort');

    const attach = (ch: ClientChannel): void => {
      channel = ch;
      ch.setEncoding('utf8');
      ch.stderr.setEncoding('utf8');
      ch.on('data', (chunk: string) => {
        if (stdout.length < MAX_OUTPUT) stdout += chunk;
      });
      ch.stderr.on('data', (chunk: string) => {
        if (pidLine !== undefined) {
          pidLine += chunk;
          const nl = pidLine.indexOf('\n');
          if (nl < 0) return;
          const first = pidLine.slice(0, nl);
          chunk = pidLine.slice(nl + 1);
          pidLine = undefined;
          if (/^\d+$/.test(first)) pid = Number(first);
          else chunk = `${first}\n${chunk}`;
          if (stopped && pid !== undefined) {
            // Stopped before the pid was known: now the group can be ended.
            const why = stopped;
            stopped = undefined;
            stop(why);
          }
        }
        if (stderr.length < MAX_OUTPUT) stderr += chunk;
      });
      ch.on('exit', (code: number | null, signalName?: string) => {
        exitCode = typeof code === 'number' ? code : signalExitCode(signalName);
      });
      ch.on('error', () => undefined);
      // No input: commands see EOF on stdin at once (as /dev/null locally), so none waits for it.
      ch.end();
      ch.once('close', () => {
        channelClosed = true;
        if (pidLine) stderr += pidLine;
        pidLine = undefined;
        closed();
      });
    };

    if (timeoutMs !== undefined && timeoutMs > 0) timer = setTimeout(() => stop('timeout'), timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const opened = await this.connection.exec(execLine(command), attach);
      lost = opened.lost;
      // The slot is freed when the channel really closes (also after an early answer).
      if (channelClosed) opened.done();
      else opened.channel.once('close', opened.done);
      await whenClosed;
    } finally {
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    const dropped = lost();
    if (stopped === 'abort') throw new SkyError('CANCELLED', `command on ${label} cancelled`);
    if (stopped === 'timeout') return { code: TIMEOUT_EXIT_CODE, stdout, stderr: `${stderr}sky: command timed out after ${timeoutMs} ms on ${label}\n` };
    if (exitCode !== undefined) return { code: exitCode, stdout, stderr };
    if (dropped) throw dropped;
    // The server closed the channel without an exit status (as ssh does, report 255).
    return { code: 255, stdout, stderr };
  }

  async close(): Promise<void> {
    // exec channels close with their commands; nothing is held between runs
  }
}
