/**
 * The daemon's side of `sky daemon start`'s supervisor: the supervisor spawns it with an IPC
 * channel and SKY_SUPERVISOR_PID set to its own pid. The daemon says when it is ready (so the
 * supervisor knows the configuration works) and sends a heartbeat every second (so the supervisor
 * notices an event loop that stopped turning even if the in-process watchdog could not act).
 */

const ENV = 'SKY_SUPERVISOR_PID';
const HEARTBEAT_MS = 1_000;
/** Read once and removed: the processes the daemon starts (jobs, helpers) are not supervised by it. */
const GIVEN = process.env[ENV];
delete process.env[ENV];

/** The pid of the supervisor running this daemon, or undefined when none does. */
export function supervisorPid(): number | undefined {
  const value = GIVEN;
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const pid = Number(value);
  return pid === process.ppid && typeof process.send === 'function' ? pid : undefined;
}

function send(message: object): void {
  if (process.connected !== true || typeof process.send !== 'function') return;
  try {
    process.send(message, undefined, {}, () => undefined);
  } catch {
    // the supervisor went away: the daemon keeps serving on its own
  }
}

/** The IPC channel must not keep the process alive by itself. */
export function releaseSupervisorChannel(): void {
  process.channel?.unref();
}

/**
 * Start talking to the supervisor (if any): how long it may hear nothing, where the marker of
 * running plugin code is, then a heartbeat every second while the event loop turns.
 */
export function greetSupervisor(options: { stallSeconds: number; markerFile: string }): void {
  if (supervisorPid() === undefined) return;
  send({ type: 'hello', pid: process.pid, stallSeconds: options.stallSeconds, markerFile: options.markerFile });
  const beat = setInterval(() => send({ type: 'beat' }), HEARTBEAT_MS);
  beat.unref();
}

/** Tell the supervisor (if any) that the daemon serves: its configuration works. */
export function reportReady(): void {
  if (supervisorPid() === undefined) return;
  send({ type: 'ready', pid: process.pid });
}
