import { resolve } from 'node:path';
import { SkyClient, isPidAlive, parseEndpoint, probeHealth, readDaemonInfo, skyPaths, spawnDaemon, type DaemonInfo } from '@sky/client';
import type { Health } from '@sky/protocol';
import { connect, daemonMainPath } from '../context.js';
import { age } from '../format.js';
import { print } from '../output.js';
import { reachableHost, reportIfRunning, runInForeground, stopServer } from '../server-control.js';
import { UsageError, type CliOptions, type Invocation } from '../usage.js';

/** `sky daemon <action>`: the API server of this machine, as an administrator runs it. */
export async function run({ action, options }: Invocation): Promise<number> {
  switch (action.name) {
    case 'start':
      return start(options);
    case 'stop':
      return stopServer();
    case 'status':
      return status();
    default:
      throw new UsageError(`unknown action '${action.name}' for sky daemon`, 'sky daemon --help');
  }
}

/** A client for the URL a daemon wrote to daemon.json (a wildcard listen address is reached over loopback). */
async function clientFor(info: DaemonInfo, as: SkyClient): Promise<SkyClient> {
  const url = new URL(info.url);
  url.hostname = reachableHost(url.hostname);
  return new SkyClient({ endpoint: await parseEndpoint(url.toString(), 'daemon.json'), identity: as.identity });
}

async function start(options: CliOptions): Promise<number> {
  if (await reportIfRunning()) return 0;
  const args: string[] = [];
  if (options.config !== undefined) args.push('--config', resolve(options.config));
  if (options.host !== undefined) args.push('--host', options.host);
  if (options.port !== undefined) args.push('--port', String(options.port));
  if (options.auth !== undefined) args.push('--auth', options.auth);
  if (options.foreground === true) return runInForeground(args);
  const as = await connect();
  const clients = new Map<string, SkyClient>();
  // The listen address may come from the config file: learn it from the daemon.json the new process writes.
  const probe = async (pid: number): Promise<Health | undefined> => {
    const info = await readDaemonInfo();
    if (info === undefined || info.pid !== pid) return undefined;
    let client = clients.get(info.url);
    if (client === undefined) {
      client = await clientFor(info, as);
      clients.set(info.url, client);
    }
    return probeHealth(client);
  };
  try {
    const started = await spawnDaemon({ daemonMain: await daemonMainPath(), args, probe });
    const info = await readDaemonInfo();
    print(`API server started at ${info?.url ?? '?'} (pid ${started.pid}, version ${started.health.version}).`);
    print(`Logs: ${skyPaths().serverLog}`);
    return 0;
  } finally {
    for (const client of clients.values()) client.close();
    as.close();
  }
}

async function status(): Promise<number> {
  const info = await readDaemonInfo();
  if (info === undefined || !isPidAlive(info.pid)) {
    print('No API server running on this machine.');
    return 1;
  }
  const as = await connect();
  const client = await clientFor(info, as);
  try {
    const health = await probeHealth(client).catch(() => undefined);
    print(`API server: running (pid ${info.pid}), ${health === undefined ? 'not answering' : health.status}`);
    print(`URL: ${info.url}  Dashboard: ${info.url}/dashboard`);
    if (health !== undefined) print(`Version: ${health.version} (commit ${health.commit}, API v${health.apiVersion})`);
    print(`Started: ${new Date(info.startedAt).toISOString()} (${age(info.startedAt)})`);
    print(`Log: ${skyPaths().serverLog}`);
    return health === undefined ? 1 : 0;
  } finally {
    client.close();
    as.close();
  }
}
