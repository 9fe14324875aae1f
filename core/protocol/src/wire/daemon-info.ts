/** What a running daemon writes to <state_dir>/daemon.json once it listens (removed on a clean exit). */
export interface DaemonInfo {
  pid: number;
  host: string;
  port: number;
  url: string;
  startedAt: number;
  version: string;
  /**
   * The process start time of `pid` (field 22 of /proc/<pid>/stat: clock ticks after boot), so a
   * reader can tell the daemon from an unrelated process that got the same pid later. Absent
   * where /proc is not available.
   */
  procStart?: string;
  /** With listen.tls: the SHA-256 fingerprint of the served certificate (AA:BB:…), pinned by local probes. */
  tlsFingerprint256?: string;
  /** Under `sky daemon start`: the pid of the sky supervisor that runs this daemon and restarts it. */
  supervisor?: number;
}

/**
 * Field 22 (starttime) of a /proc/<pid>/stat line, or undefined when the text is not one. The
 * command name (field 2) is in parentheses and may itself contain spaces and parentheses, so
 * fields are counted from the last ')'.
 */
export function procStartTime(statText: string): string | undefined {
  const close = statText.lastIndexOf(')');
  if (close === -1) return undefined;
  // After ") " come field 3 (state), 4 (ppid), …: field 22 is the 20th of them.
  const fields = statText.slice(close + 1).trim().split(/\s+/);
  const value = fields[19];
  return value !== undefined && /^\d+$/.test(value) ? value : undefined;
}
