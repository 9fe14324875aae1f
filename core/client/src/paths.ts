import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where sky keeps its per-user files; everything hangs off $HOME/.sky. */
export interface SkyPaths {
  readonly home: string;
  readonly skyDir: string;
  readonly configFile: string;
  readonly userHashFile: string;
  readonly apiServerDir: string;
  /** Written by the daemon once listening: {pid, host, port, url, startedAt, version}. */
  readonly daemonFile: string;
  readonly serverLog: string;
  readonly autostartLock: string;
  /** The personal daemon's local token (0600): sent to loopback endpoints only. */
  readonly localTokenFile: string;
  /** Written by the supervisor `sky daemon start` leaves running: {pid, procStart, startedAt, args}. */
  readonly supervisorFile: string;
  /** How `sky daemon start` last started the API server (its flags, config file, working directory), for commands that start it again. */
  readonly startRecordFile: string;
}

export function skyPaths(home: string = homedir()): SkyPaths {
  const skyDir = join(home, '.sky');
  const apiServerDir = join(skyDir, 'api_server');
  return {
    home,
    skyDir,
    configFile: join(skyDir, 'config.yaml'),
    userHashFile: join(skyDir, 'user_hash'),
    apiServerDir,
    daemonFile: join(apiServerDir, 'daemon.json'),
    serverLog: join(apiServerDir, 'server.log'),
    autostartLock: join(apiServerDir, 'autostart.lock'),
    localTokenFile: join(apiServerDir, 'local_token'),
    supervisorFile: join(apiServerDir, 'supervisor.json'),
    startRecordFile: join(apiServerDir, 'daemon-start.json'),
  };
}
