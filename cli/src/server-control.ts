import { SkyClient, ensureDaemon, isPidAlive, parseEndpoint, readDaemonInfo, skyPaths, stopLocalDaemon } from '@sky/client';
import { daemonMainPath } from './context.js';
import { note, print } from './output.js';

/** Where to reach a server listening on `host`: a wildcard address is reached over loopback. */
export function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

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
  const child = spawn(process.execPath, [await daemonMainPath(), ...args], { stdio: 'inherit' });
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

/** `sky api stop` / `sky daemon stop`. */
export async function stopServer(): Promise<number> {
  const outcome = await stopLocalDaemon({
    onDraining: (info) => note(`Waiting for the API server (pid ${info.pid}) to drain and exit...`),
  });
  if (outcome.kind === 'not-running') print('No API server running.');
  else if (outcome.kind === 'stale') print(`No API server running (pid ${outcome.info.pid} in ${skyPaths().daemonFile} has exited).`);
  else print(`API server at ${outcome.info.url} (pid ${outcome.info.pid}) stopped.`);
  return 0;
}

/** Whether the daemon named in daemon.json is already up; says so and returns true if it is. */
export async function reportIfRunning(): Promise<boolean> {
  const info = await readDaemonInfo();
  if (info === undefined) return false;
  if (!isPidAlive(info.pid)) return false;
  note(`API server already running at ${info.url} (pid ${info.pid}).`);
  return true;
}
