import { closeSync, fstatSync, openSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import type { Health } from '@sky/protocol';
import { SkyError } from '@sky/protocol/wire';
import type { SkyClient } from './client.js';
import { isSkyError } from './errors.js';
import { readDaemonInfo, tailLines } from './local-daemon.js';
import { liveSupervisor, readStartRecord, recordRefusal, supervisorMainNear, supervisorSpec } from './supervisor.js';
import { tryLock } from './lock.js';
import { skyPaths } from './paths.js';
import { sleep } from './process.js';

const POLL_MS = 100;
const LOCK_STALE_MS = 60_000;
const DEFAULT_START_TIMEOUT_MS = 30_000;
const LOG_TAIL_LINES = 15;

export interface SpawnDaemonOptions {
  /** Path of the daemon entry point (the CLI resolves @sky/daemon/main). */
  daemonMain: string;
  args: readonly string[];
  home?: string;
  env?: NodeJS.ProcessEnv;
  /** Health of the started daemon, or undefined while it does not answer yet. */
  probe: (pid: number) => Promise<Health | undefined>;
  timeoutMs?: number;
  /**
   * Run the daemon under sky's supervisor, which restarts it with these args when it dies; the
   * pid handed to `probe` is then the supervisor's (daemon.json names it as `supervisor`).
   */
  supervised?: boolean;
  /** The working directory of the started process (default: this one's). */
  cwd?: string;
}

export interface StartedDaemon {
  pid: number;
  health: Health;
  /** Whether the answer came from the process spawned here (not from another start that won the race). */
  own: boolean;
}

/**
 * The error for a daemon that did not come up, quoting what it logged since `from`. The daemon
 * prints why it cannot start on stderr as plain text; the JSON lines of its log repeat that with
 * a stack, so plain lines are preferred when there are any.
 */
async function startFailed(what: string, logFile: string, from = 0): Promise<SkyError> {
  const all = await tailLines(logFile, 200, from);
  const plain = all.filter((l) => !l.startsWith('{'));
  const lines = (plain.length > 0 ? plain : all).slice(-LOG_TAIL_LINES);
  const tail = lines.length === 0 ? ` (${logFile} is empty)` : `; last lines of ${logFile}:\n${lines.map((l) => `    ${l}`).join('\n')}`;
  return new SkyError('SERVER_START_FAILED', `${what}${tail}`, {
    hint: 'Fix the cause above and retry, or run the server in the foreground to watch it start: sky api start --foreground',
    details: { log: logFile },
  });
}

/**
 * Node flags the daemon runs with. V8 sizes a heap for throughput: a young generation of
 * 3 x 16 MB, and an old generation it lets grow to many times what is live between full
 * collections (native memory held by garbage waits for those too), so a daemon whose live heap
 * is ~20 MB sat at 90 MB idle and climbed past 300 MB under a stream of requests. A 2 MB
 * semi-space (both halves of the young generation stay committed until V8's memory reducer runs,
 * ~8 s after the last full collection; 2 MB gave the same job and request rates as 4 MB) and a
 * 128 MB old-space ceiling keep it small and bounded (bench/README.md, Memory).
 * SKY_DAEMON_NODE_ARGS replaces them (e.g. a larger --max-old-space-size for a very large fleet).
 */
export const DAEMON_NODE_ARGS: readonly string[] = ['--max-semi-space-size=2', '--max-old-space-size=128'];

/** The supervisor holds a few timers and one child: a small heap is plenty. */
const SUPERVISOR_NODE_ARGS: readonly string[] = ['--max-semi-space-size=1', '--max-old-space-size=32'];

export function daemonNodeArgs(env: NodeJS.ProcessEnv): readonly string[] {
  const given = env.SKY_DAEMON_NODE_ARGS;
  return given === undefined ? DAEMON_NODE_ARGS : given.split(/\s+/).filter((a) => a.length > 0);
}

/**
 * Spawn the daemon detached (it outlives this process; stdout and stderr append to
 * server.log) and wait until `probe` answers. Fails with SERVER_START_FAILED, quoting the log,
 * when it exits first or stays unhealthy past the timeout.
 */
export async function spawnDaemon(options: SpawnDaemonOptions): Promise<StartedDaemon> {
  const paths = skyPaths(options.home);
  await privateDir(paths.apiServerDir);
  const { spawn } = await import('node:child_process');
  const log = openSync(paths.serverLog, 'a', 0o600);
  const logStart = fstatSync(log).size;
  let exit: string | undefined;
  const nodeArgs = daemonNodeArgs(options.env ?? process.env);
  const argv =
    options.supervised === true
      ? [...SUPERVISOR_NODE_ARGS, supervisorMainNear(options.daemonMain), supervisorSpec(options.daemonMain, nodeArgs, options.args, options.home)]
      : [...nodeArgs, options.daemonMain, ...options.args];
  const child = spawn(process.execPath, argv, {
    detached: true,
    stdio: ['ignore', log, log],
    env: options.env ?? process.env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  closeSync(log);
  child.once('exit', (code, signal) => {
    exit = signal === null ? `exited with code ${code ?? '?'}` : `was killed by ${signal}`;
  });
  child.once('error', (err) => {
    exit = `could not be spawned: ${err.message}`;
  });
  child.unref();
  const pid = child.pid ?? -1;
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  try {
    for (;;) {
      const health = await options.probe(pid);
      if (health !== undefined) return { pid: health.pid, health, own: health.pid === pid || options.supervised === true };
      if (exit !== undefined) {
        // Another start may have won the race for the port; then its answer is as good.
        const other = await options.probe(pid);
        if (other !== undefined) return { pid: other.pid, health: other, own: false };
        throw await startFailed(`the API server did not start: it ${exit}`, paths.serverLog, logStart);
      }
      if (Date.now() >= deadline) {
        child.kill('SIGTERM');
        throw await startFailed(`the API server (pid ${pid}) did not become healthy within ${Math.round((options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS) / 1000)} s and was stopped`, paths.serverLog, logStart);
      }
      await sleep(POLL_MS);
    }
  } finally {
    child.removeAllListeners();
  }
}

/** Wait for the API server a live supervisor is (re)starting to answer at the client's endpoint. */
async function waitForSupervised(client: SkyClient, supervisor: number, deadline: number, logFile: string): Promise<Health> {
  for (;;) {
    const health = await probeHealth(client);
    if (health !== undefined) return health;
    if (Date.now() >= deadline) {
      throw await startFailed(`the API server's supervisor (pid ${supervisor}, from sky daemon start) is restarting it, and it did not answer at ${client.endpoint.url} in time`, logFile);
    }
    await sleep(POLL_MS);
  }
}

/**
 * Health of a server started from the start record: at the client's endpoint; and when the
 * server it started (daemon.json names the supervisor) listens elsewhere, an error saying where.
 */
async function probeRecorded(client: SkyClient, supervisor: number, home?: string): Promise<Health | undefined> {
  const health = await probeHealth(client);
  if (health !== undefined) return health;
  const info = await readDaemonInfo(home);
  if (info?.supervisor === supervisor && new URL(info.url).port !== String(client.endpoint.port)) {
    throw new SkyError('SERVER_START_FAILED', `the API server was started again with the configuration sky daemon start recorded, and it listens at ${info.url}, not at ${client.endpoint.url}`, {
      hint: `Point this client at it: sky api login -e ${info.url} (or set SKYPILOT_API_SERVER_ENDPOINT).`,
    });
  }
  return undefined;
}

/** The local daemon's directory (state, log, keys), created readable by this account only. */
async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Health of the client's endpoint, or undefined when nothing answers there. */
export async function probeHealth(client: SkyClient): Promise<Health | undefined> {
  try {
    return await client.health();
  } catch (err) {
    if (isSkyError(err) && err.code === 'SERVER_UNREACHABLE') return undefined;
    throw err;
  }
}

export interface EnsureDaemonOptions {
  daemonMain: string;
  /** Where the spawned daemon listens (default: --host/--port of the endpoint). */
  listenArgs?: readonly string[];
  home?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /**
   * The user asked for a server at this endpoint (sky api start --port N): start one on any local
   * endpoint. Without it only the default endpoint (http://127.0.0.1:46580, localhost:46580) is
   * started; any other URL that does not answer is an error.
   */
  explicit?: boolean;
}

export interface EnsuredDaemon {
  /** Whether this call started it. */
  started: boolean;
  health: Health;
}

/**
 * Make sure an API server answers at the client's endpoint, starting one for the default local
 * endpoint (or, with `explicit`, any local one). Concurrent callers serialise on
 * ~/.sky/api_server/autostart.lock, so exactly one spawns; the others wait for it to become
 * healthy. A remote endpoint is never started.
 */
export async function ensureDaemon(client: SkyClient, options: EnsureDaemonOptions): Promise<EnsuredDaemon> {
  const { endpoint } = client;
  // A failure of an endpoint that is not started passes through as is: it says why and what to do.
  if (!endpoint.local || endpoint.protocol !== 'http:' || (!endpoint.autoStart && options.explicit !== true)) return { started: false, health: await client.health() };
  const first = await probeHealth(client);
  if (first !== undefined) return { started: false, health: first };
  const paths = skyPaths(options.home);
  await privateDir(paths.apiServerDir);
  const timeoutMs = options.timeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  // sky daemon start's supervisor is restarting it: never start a second one beside it.
  const supervisor = await liveSupervisor(options.home);
  if (supervisor !== undefined) return { started: false, health: await waitForSupervised(client, supervisor.pid, deadline, paths.serverLog) };
  // sky daemon start recorded how this machine's server runs: start it that way, or say how to.
  const record = options.explicit === true ? undefined : await readStartRecord(options.home);
  if (record !== undefined) {
    const refusal = recordRefusal(record, options.home);
    if (refusal !== undefined) throw refusal;
  }
  for (;;) {
    const lock = await tryLock(paths.autostartLock, LOCK_STALE_MS);
    if (lock !== undefined) {
      try {
        const already = await probeHealth(client);
        if (already !== undefined) return { started: false, health: already };
        const started = await spawnDaemon({
          daemonMain: options.daemonMain,
          args: record?.args ?? options.listenArgs ?? ['--host', endpoint.host, '--port', String(endpoint.port)],
          probe: record === undefined ? () => probeHealth(client) : (pid) => probeRecorded(client, pid, options.home),
          timeoutMs: Math.max(deadline - Date.now(), 1_000),
          home: options.home,
          env: options.env,
          ...(record === undefined ? {} : { supervised: true, cwd: record.cwd }),
        });
        return { started: started.own, health: started.health };
      } finally {
        await lock.release();
      }
    }
    await sleep(POLL_MS);
    const health = await probeHealth(client);
    if (health !== undefined) return { started: false, health };
    if (Date.now() >= deadline) {
      throw await startFailed(
        `another sky command is starting the API server at ${endpoint.url}, and it did not become healthy within ${Math.round(timeoutMs / 1000)} s`,
        paths.serverLog,
      );
    }
  }
}
