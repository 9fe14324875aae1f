import { daemonNodeArgs, SkyClient, checkLocalDaemon, liveSupervisor, ensureDaemon, parseEndpoint, reachableHost, removeStaleDaemonFile, skyPaths, stopLocalDaemon } from '@sky/client';
import { daemonMainPath } from './context.js';
import { note, print } from './output.js';

export function hostForUrl(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** A client for a server about to listen at host:port, speaking as `as` does. */
export async function clientAt(as: SkyClient, host: string, port: number): Promise<SkyClient> {
  const endpoint = await parseEndpoint(`http://${hostForUrl(reachableHost(host))}:${port}`, '--host/--port');
  return new SkyClient({ endpoint, identity: as.identity });
}

/** Start the API server in the background at host:port unless one answers there already. */
export async function startInBackground(as: SkyClient, host: string, port: number): Promise<number> {
  const client = await clientAt(as, host, port);
  try {
    const { started, health } = await ensureDaemon(client, {
      daemonMain: await daemonMainPath(),
      listenArgs: ['--host', host, '--port', String(port)],
      explicit: true,
    });
    const what = started ? 'API server started' : 'API server already running';
    print(`${what} at ${client.endpoint.url} (pid ${health.pid}, version ${health.version}).`);
    if (started) print(`Logs: ${skyPaths().serverLog} (or: sky api logs --server-logs)`);
    return 0;
  } finally {
    client.close();
  }
}

/**
 * Run the daemon attached to this terminal until it exits. Ctrl-C reaches it through the
 * terminal's process group; SIGTERM and SIGHUP sent to this process are passed on.
 */
export async function runInForeground(args: readonly string[]): Promise<number> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [...daemonNodeArgs(process.env), await daemonMainPath(), ...args], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => (): void => {
    child.kill(signal);
  };
  const onTerm = forward('SIGTERM');
  const onHup = forward('SIGHUP');
  const onInt = (): void => undefined;
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  process.on('SIGINT', onInt);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' || signal === 'SIGTERM' ? 0 : 1)));
    });
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    process.off('SIGINT', onInt);
  }
}

/**
 * `sky api stop` / `sky daemon stop`: only a daemon proven to be the one daemon.json names (its
 * pid and start time, and its health answer) is signalled. A stale daemon.json is removed.
 */
export async function stopServer(): Promise<number> {
  const outcome = await stopLocalDaemon({
    onDraining: (info) => note(`Waiting for the API server (pid ${info.pid}) to drain and exit...`),
  });
  const file = skyPaths().daemonFile;
  switch (outcome.kind) {
    case 'not-running':
      print('No API server running.');
      return 0;
    case 'stale':
      print(`No API server running: ${file} is stale (${outcome.reason}); nothing was signalled${outcome.removed ? ` and the stale file was removed` : ''}.`);
      return 0;
    case 'unverified':
      note(`Not stopping pid ${outcome.info.pid}: ${outcome.reason}.`);
      note(`  hint: if it is a hung API server, stop it with: kill ${outcome.info.pid}; if it is not, remove ${file}.`);
      return 1;
    case 'stopped':
      print(`API server at ${outcome.info.url} (pid ${outcome.info.pid}) stopped.`);
      return 0;
    case 'stopped-supervised':
      print(
        outcome.info === undefined
          ? `API server supervisor (pid ${outcome.supervisor}) stopped; no API server was running under it.`
          : `API server at ${outcome.info.url} (pid ${outcome.info.pid}) and its supervisor (pid ${outcome.supervisor}) stopped.`,
      );
      return 0;
  }
}

/**
 * Before starting: whether the daemon named in daemon.json is already up (says so and returns the
 * exit code), or undefined to go ahead. A stale daemon.json is removed, never trusted.
 */
export async function reportIfRunning(): Promise<number | undefined> {
  const supervisor = await liveSupervisor();
  if (supervisor !== undefined) {
    const check = await checkLocalDaemon();
    if (check.kind === 'running') note(`API server already running at ${check.info.url} (pid ${check.info.pid}, supervisor pid ${supervisor.pid}).`);
    else note(`API server supervisor already running (pid ${supervisor.pid}, with: ${supervisor.args.join(' ') || 'the default configuration'}); it is restarting the API server (see ${skyPaths().serverLog}).`);
    note('  hint: to start it with other settings, stop it first: sky daemon stop');
    return check.kind === 'running' ? 0 : 1;
  }
  const check = await checkLocalDaemon();
  switch (check.kind) {
    case 'none':
      return undefined;
    case 'running':
      note(`API server already running at ${check.info.url} (pid ${check.info.pid}).`);
      return 0;
    case 'unresponsive':
      note(`API server already running, but ${check.reason}.`);
      note(`  hint: stop it with sky daemon stop (or kill ${check.info.pid}) and start it again.`);
      return 1;
    case 'stale':
      if (await removeStaleDaemonFile(check.info)) note(`Removed a stale ${skyPaths().daemonFile} (${check.reason}).`);
      return undefined;
    case 'unverified':
      note(`Note: ${check.reason}; starting a new API server.`);
      return undefined;
  }
}
