/** What a running daemon writes to <state_dir>/daemon.json once it listens (removed on a clean exit). */
export interface DaemonInfo {
  pid: number;
  host: string;
  port: number;
  url: string;
  startedAt: number;
  version: string;
}
