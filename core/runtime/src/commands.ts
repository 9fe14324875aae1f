import { SkyError } from '@sky/protocol';
import { NODE_JOB_STATUSES, shellQuote, type RuntimeJobStatus } from './job.js';
import { NODE_SCRIPT_PATH } from './script.js';

/** How to call the script on a node. */
export interface CommandOptions {
  /** The script's path on the node. Default NODE_SCRIPT_PATH, relative: run the command in the node root. */
  script?: string;
  /** The POSIX shell to run it with (`sh`, `dash`, `busybox sh`). Default `sh`. */
  shell?: string;
}

const SHELL_WORDS = /^[A-Za-z0-9_./-]+( [A-Za-z0-9_./-]+)*$/;

function invocation(opts: CommandOptions): string {
  const shell = opts.shell ?? 'sh';
  if (!SHELL_WORDS.test(shell)) throw new SkyError('VALIDATION_FAILED', `node runtime: ${JSON.stringify(shell)} is not a shell command`);
  const script = shellQuote(opts.script ?? NODE_SCRIPT_PATH);
  // The detached runner is started with the same shell, through SKY_NODE_SH.
  return shell === 'sh' ? `sh ${script}` : `env SKY_NODE_SH=${shellQuote(shell)} ${shell} ${script}`;
}

function dirs(jobDirs: string | readonly string[]): string {
  const list = typeof jobDirs === 'string' ? [jobDirs] : jobDirs;
  if (list.length === 0) throw new SkyError('VALIDATION_FAILED', 'node runtime: no job directories given');
  return list.map(shellQuote).join(' ');
}

/**
 * Start a rank whose files are written; prints the runner's pid (parse with parseStartOutput).
 * The runner appends its events to `journal` (see journalPath). Idempotent.
 */
export function startCommand(jobDir: string, journal: string, opts: CommandOptions = {}): string {
  return `${invocation(opts)} start ${shellQuote(jobDir)} ${shellQuote(journal)}`;
}

/** Print the journal from byte `offset` on and keep following it (parse lines with parseEvent). */
export function followCommand(journal: string, offset: number, opts: CommandOptions = {}): string {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new SkyError('VALIDATION_FAILED', `node runtime: journal offset must be a whole number, got ${offset}`);
  return `${invocation(opts)} follow ${shellQuote(journal)} ${offset}`;
}

/**
 * A long-lived starter of ranks (`sky-node.sh launcher`): fed launcherRequest lines on stdin, it
 * starts each rank as `start` does and answers one line per rank (parse with parseLauncherAnswer).
 * For a caller on the node's machine that keeps it running between starts.
 */
export function launcherCommand(opts: CommandOptions = {}): string {
  return `${invocation(opts)} launcher`;
}

/**
 * One request to the launcher: the rank's job directory and the journal, absolute (`root` is the
 * node root's absolute path; relative paths are under it), one line each. The caller has made the
 * job directory private (mode 700).
 */
export function launcherRequest(root: string, jobDir: string, journal: string): string {
  if (!root.startsWith('/')) throw new SkyError('VALIDATION_FAILED', `node runtime: the node root ${JSON.stringify(root)} is not an absolute path`);
  const base = root.replace(/\/+$/, '');
  const under = (p: string): string => (p.startsWith('/') ? p : `${base}/${p}`);
  const lines = [under(jobDir), under(journal)];
  for (const line of lines) {
    if (/[\n\r\0]/.test(line)) throw new SkyError('VALIDATION_FAILED', `node runtime: the path ${JSON.stringify(line)} holds a line break or NUL, which the launcher cannot read`);
  }
  return `${lines.join('\n')}\n`;
}

/** The runner's pid from one answer line of the launcher; NODE_RUNTIME_ERROR with its reason when the rank did not start. */
export function parseLauncherAnswer(line: string): number {
  if (line.startsWith('! ')) throw new SkyError('NODE_RUNTIME_ERROR', `starting a rank failed: ${line.slice(2).trim()}`);
  return parseStartOutput(line);
}

/** One `STATUS EXIT_CODE` line per job directory, in order (parse with parseStatus). */
export function statusCommand(jobDirs: string | readonly string[], opts: CommandOptions = {}): string {
  return `${invocation(opts)} status ${dirs(jobDirs)}`;
}

/** End each job's process group (SIGTERM, SIGKILL after 5 s); prints each job's status line afterwards. */
export function cancelCommand(jobDirs: string | readonly string[], opts: CommandOptions = {}): string {
  return `${invocation(opts)} cancel ${dirs(jobDirs)}`;
}

/** Remove finished jobs whose status is older than `days` days; prints `removed N`. */
export function gcCommand(nodeRoot: string, days = 30, opts: CommandOptions = {}): string {
  if (!Number.isInteger(days) || days < 0) throw new SkyError('VALIDATION_FAILED', `node runtime: gc days must be a whole number, got ${days}`);
  return `${invocation(opts)} gc ${shellQuote(nodeRoot)} ${days}`;
}

/** Print the runtime version (compare with RUNTIME_VERSION to decide whether to upload the script again). */
export function versionCommand(opts: CommandOptions = {}): string {
  return `${invocation(opts)} version`;
}

export interface JobState {
  status: RuntimeJobStatus;
  /** The exit code of the step that ended the job (setup or run); null until known. */
  exitCode: number | null;
}

const STATUSES = new Set<string>([...NODE_JOB_STATUSES, 'MISSING']);

function unreadable(what: string, text: string): SkyError {
  return new SkyError('NODE_RUNTIME_ERROR', `node runtime: cannot read ${what} from ${JSON.stringify(text.slice(0, 200))}`, {
    hint: 'The script on the node may be from another sky version; upload the current one.',
  });
}

/** Parse one `STATUS EXIT_CODE` line of `status` or `cancel`. */
export function parseStatus(line: string): JobState {
  const [status, code, ...rest] = line.trim().split(/\s+/);
  if (status === undefined || !STATUSES.has(status) || code === undefined || rest.length > 0) throw unreadable('a job status', line);
  if (code === '-') return { status: status as RuntimeJobStatus, exitCode: null };
  if (!/^\d{1,3}$/.test(code)) throw unreadable('an exit code', line);
  return { status: status as RuntimeJobStatus, exitCode: Number(code) };
}

/** Parse the output of `status`/`cancel` for `count` job directories. */
export function parseStatusOutput(output: string, count: number): JobState[] {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== count) throw unreadable(`${count} status lines`, output);
  return lines.map(parseStatus);
}

/** One line of a node's event journal: a rank entered a phase or ended. */
export interface JobEvent {
  /** The rank's directory name (see rankDirName). */
  name: string;
  rank: number;
  status: Exclude<RuntimeJobStatus, 'MISSING' | 'PENDING'>;
  /** The exit code of the step that ended the rank; null for phases and unknown codes. */
  exitCode: number | null;
}

const EVENT_STATUSES = new Set<string>(['SETTING_UP', 'RUNNING', 'SUCCEEDED', 'FAILED', 'FAILED_SETUP', 'CANCELLED']);
const EVENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Parse one journal line (`NAME RANK STATUS EXIT_CODE`); undefined for a line that is not an
 * event (a follower skips it: a journal is also written by jobs of the node's account).
 */
export function parseEvent(line: string): JobEvent | undefined {
  const parts = line.trim().split(' ');
  if (parts.length !== 4) return undefined;
  const [name, rank, status, code] = parts as [string, string, string, string];
  if (!EVENT_NAME.test(name) || !/^\d{1,4}$/.test(rank) || !EVENT_STATUSES.has(status)) return undefined;
  if (code !== '-' && !/^\d{1,3}$/.test(code)) return undefined;
  return { name, rank: Number(rank), status: status as JobEvent['status'], exitCode: code === '-' ? null : Number(code) };
}

/** The runner's pid (and process group) from the output of `start`. */
export function parseStartOutput(output: string): number {
  const last = output.trim().split('\n').at(-1)?.trim() ?? '';
  const pid = Number(last);
  if (!/^\d+$/.test(last) || pid <= 1) throw unreadable('the runner pid', output);
  return pid;
}
