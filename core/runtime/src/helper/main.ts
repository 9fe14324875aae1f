import { readFileSync } from 'node:fs';
import { SkyError, toSkyError } from '@sky/protocol';
import { AccountBook, lookupAccount } from './accounts.js';
import { CallLog } from './call-log.js';
import { loadHelperConfig } from './config.js';
import { NodePaths } from './paths.js';
import { HelperServer } from './server.js';
import { WorkerPool } from './workers.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function report(err: unknown): number {
  const e = toSkyError(err);
  if (e?.code === 'USAGE' && e.message.startsWith('usage:')) {
    process.stdout.write(`${e.message}\n`);
    return 0;
  }
  if (e !== undefined) process.stderr.write(`${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ''}`);
  else process.stderr.write(`sky-node-helper: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return e?.code === 'USAGE' ? 2 : 1;
}

/**
 * Start the helper: check it runs as root, load the config, look the daemon's account up,
 * listen; resolves with the exit code once SIGTERM or SIGINT has stopped it.
 */
export async function main(argv: readonly string[]): Promise<number> {
  let server: HelperServer;
  let log: CallLog;
  try {
    const config = loadHelperConfig(argv);
    if (process.getuid?.() !== 0) {
      throw new SkyError('CONFIG_INVALID', 'sky-node-helper must run as root: it starts jobs as other accounts', {
        hint: 'Start it as root (e.g. the systemd unit in plugins/driver-local/README.md); run the daemon itself as an unprivileged account.',
      });
    }
    const owner = await lookupAccount(config.socketOwner);
    if (owner === undefined) throw new SkyError('CONFIG_INVALID', `sky-node-helper: the socket owner ${config.socketOwner} is not an account on this machine`);
    log = new CallLog(config.logFile);
    if (owner.uid === 0) log.write({ event: 'warning', message: 'the daemon runs as root: the helper keeps jobs off root, but the daemon itself is not confined' });
    const paths = new NodePaths(config.nodeRoot);
    const accounts = new AccountBook(config, owner.uid);
    const workers = new WorkerPool({ idleMs: config.workerIdleSeconds * 1000, jobPath: config.jobPath, homeOf: (a) => paths.accountDir(a.name) });
    server = new HelperServer({ config, accounts, paths, workers, log, version: version() });
    await server.listen(owner);
  } catch (err) {
    return report(err);
  }
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.write({ event: 'stopping', signal, dropped: log.dropped || undefined });
  await server.close();
  await log.close();
  return 0;
}
