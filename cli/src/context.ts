import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SkyClient, SkyError, ensureDaemon, isConnectionRefused } from '@sky/client';
import { note, rememberSecrets } from './output.js';

/** The client for this environment's endpoint and user. */
export async function connect(): Promise<SkyClient> {
  const client = await SkyClient.fromEnvironment();
  rememberSecrets(client.endpoint.secrets);
  return client;
}

/** Path of the daemon's entry point; the CLI spawns it and never imports it. */
export async function daemonMainPath(): Promise<string> {
  const path = fileURLToPath(import.meta.resolve('@sky/daemon/main'));
  if (!existsSync(path)) {
    throw new SkyError('SERVER_START_FAILED', `the API server is not built: ${path} does not exist`, {
      hint: 'Build it with: npm run build',
    });
  }
  return path;
}

/**
 * Run `call`; when it finds nothing listening at the default local endpoint, start the API
 * server (at most one process does, whatever the concurrency) and run it again. Any other
 * endpoint is never started: its error ("no API server at URL", with hints) passes through.
 */
export async function withServer<T>(client: SkyClient, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!client.endpoint.autoStart || !isConnectionRefused(err)) throw err;
  }
  const { started, health } = await ensureDaemon(client, { daemonMain: await daemonMainPath() });
  if (started) note(`Started a local API server at ${client.endpoint.url} (pid ${health.pid}).`);
  return call();
}
