import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SkyClient, checkLocalDaemon, clientForDaemon, probeHealth, readDaemonInfo, skyPaths, spawnDaemon, writeStartRecord, type StartRecord } from '@sky/client';
import type { Health } from '@sky/protocol';
import { connect, daemonMainPath } from '../context.js';
import { age } from '../format.js';
import { note, print } from '../output.js';
import { reportIfRunning, runInForeground, stopServer } from '../server-control.js';
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

async function start(options: CliOptions): Promise<number> {
  const running = await reportIfRunning();
  if (running !== undefined) return running;
  const args: string[] = [];
  // The config file is named explicitly (also one from SKY_DAEMON_CONFIG), so a restart finds it whatever the environment.
  const configFile = options.config ?? process.env.SKY_DAEMON_CONFIG;
  const config = configFile === undefined || configFile === '' ? undefined : resolve(configFile);
  if (config !== undefined) args.push('--config', config);
  if (options.host !== undefined) args.push('--host', options.host);
  if (options.port !== undefined) args.push('--port', String(options.port));
  if (options.auth !== undefined) args.push('--auth', options.auth);
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together (the certificate and its private key)', 'sky daemon start --help');
  }
  if (options.tlsCert !== undefined && options.tlsKey !== undefined) args.push('--tls-cert', resolve(options.tlsCert), '--tls-key', resolve(options.tlsKey));
  // Recorded for commands that find the server down: they start it again with these flags (an
  // import is done once, so it is not among them), or say how to start it.
  const recorded = { args: [...args], ...(config === undefined ? {} : { config }), cwd: process.cwd(), recordedAt: Date.now() };
  if (options.importFile !== undefined) args.push('--import', resolve(options.importFile));
  if (options.foreground === true) {
    await recordStart({ mode: 'foreground', ...recorded });
    return runInForeground(args);
  }
  await recordStart({ mode: 'supervised', ...recorded });
  const as = await connect();
  const clients = new Map<string, SkyClient>();
  // The listen address may come from the config file: learn it from the daemon.json the new
  // process writes, and accept only an answer from that process (its pid and start time).
  const probe = async (pid: number): Promise<Health | undefined> => {
    const info = await readDaemonInfo();
    if (info === undefined || (info.pid !== pid && info.supervisor !== pid)) return undefined;
    const key = `${info.url} ${info.tlsFingerprint256 ?? ''}`;
    let client = clients.get(key);
    if (client === undefined) {
      client = await clientForDaemon(info, as.identity);
      clients.set(key, client);
    }
    const health = await probeHealth(client);
    return health !== undefined && health.pid === info.pid && health.startedAt === info.startedAt ? health : undefined;
  };
  try {
    const started = await spawnDaemon({ daemonMain: await daemonMainPath(), args, probe, supervised: true });
    const info = await readDaemonInfo();
    print(`API server started at ${info?.url ?? '?'} (pid ${started.pid}, supervisor pid ${info?.supervisor ?? '?'}, version ${started.health.version}).`);
    print(`Logs: ${skyPaths().serverLog}`);
    return 0;
  } finally {
    for (const client of clients.values()) client.close();
    as.close();
  }
}

async function recordStart(record: StartRecord): Promise<void> {
  const dir = skyPaths().apiServerDir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeStartRecord(record);
}

async function status(): Promise<number> {
  const check = await checkLocalDaemon();
  if (check.kind === 'none') {
    print('No API server running on this machine.');
    return 1;
  }
  if (check.kind === 'stale' || check.kind === 'unverified') {
    print(`No API server running on this machine (${skyPaths().daemonFile} is stale: ${check.reason}).`);
    return 1;
  }
  const { info } = check;
  const health = check.kind === 'running' ? check.health : undefined;
  print(`API server: running (pid ${info.pid}), ${health === undefined ? 'not answering' : health.status}`);
  if (info.supervisor !== undefined) print(`Supervisor: pid ${info.supervisor} (restarts it with the same configuration if it dies)`);
  if (check.kind === 'unresponsive') note(`  ${check.reason}`);
  print(`URL: ${info.url}  Dashboard: ${info.url}/dashboard`);
  if (health !== undefined) print(`Version: ${health.version} (commit ${health.commit}, API v${health.apiVersion})`);
  print(`Started: ${new Date(info.startedAt).toISOString()} (${age(info.startedAt)})`);
  print(`Log: ${skyPaths().serverLog}`);
  return health === undefined ? 1 : 0;
}
