#!/usr/bin/env node
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { SkyError } from '@sky/protocol';
import { daemonPaths, loadDaemonConfig } from './config/load.js';
import { createLogger, writeStderr } from './logging.js';
import { compose } from './compose.js';
import { loadStore } from './store-factory.js';
import { Daemon } from './daemon.js';
import { installProcessGuards } from './process-guards.js';
import { followStoreHealth, Readiness } from './readiness.js';
import { resolveReplicaId } from './replica.js';
import { isStoreRefusal, STORE_REFUSED_EXIT_CODE } from './store-open.js';
import { importStateFile } from './state-import.js';
import { PluginGuard } from './plugins/guard.js';
import { guardProcessExit } from './exit-guard.js';
import { CallMarker, markerFile } from './plugins/call-marker.js';
import { greetSupervisor, releaseSupervisorChannel, reportReady } from './supervised.js';

/**
 * Everything the daemon creates (state store, log, key files, daemon.json) is private to its
 * account. Jobs on local nodes get back the umask the daemon was started with.
 */
const startedUmask = process.umask(0o077);

const USAGE = `usage: sky-daemon [--config FILE] [--host HOST] [--port PORT] [--auth none|basic|token|proxy] [--tls-cert FILE --tls-key FILE] [--allow-remote-without-auth] [--log-stdout] [--import FILE]
  Runs the sky API server in the foreground. SIGTERM drains and stops it.
  --import FILE  first load a state file (sky api export) into the configured store, which must be empty`;

function fail(err: unknown, exitCode: number): never {
  if (err instanceof SkyError) {
    process.stderr.write(`sky daemon: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
  } else {
    process.stderr.write(`sky daemon: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(exitCode);
}

function parseFlags(): { configFile?: string; importFile?: string; overrides: Record<string, unknown> } {
  let values: {
    config?: string;
    host?: string;
    port?: string;
    auth?: string;
    'tls-cert'?: string;
    'tls-key'?: string;
    'allow-remote-without-auth'?: boolean;
    'log-stdout'?: boolean;
    import?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      options: {
        config: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        auth: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'allow-remote-without-auth': { type: 'boolean' },
        'log-stdout': { type: 'boolean' },
        import: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail(new SkyError('USAGE', `${(err as Error).message}\n${USAGE}`), 2);
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const listen: Record<string, unknown> = {};
  if (values.host !== undefined) listen.host = values.host;
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) fail(new SkyError('USAGE', `--port must be an integer 0-65535, got "${values.port}"`), 2);
    listen.port = port;
  }
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined)) fail(new SkyError('USAGE', `--tls-cert and --tls-key go together (the certificate and its private key)\n${USAGE}`), 2);
  if (cert !== undefined && key !== undefined) listen.tls = { cert, key };
  const overrides: Record<string, unknown> = {};
  if (values['allow-remote-without-auth']) listen.allow_remote_without_auth = true;
  if (Object.keys(listen).length > 0) overrides.listen = listen;
  if (values['log-stdout']) overrides.log = { stdout: true };
  if (values.auth !== undefined) {
    if (!['none', 'basic', 'token', 'proxy'].includes(values.auth)) fail(new SkyError('USAGE', `--auth must be none, basic, token or proxy, got "${values.auth}"`), 2);
    overrides.auth = { mode: values.auth };
  }
  const configFile = values.config ?? process.env.SKY_DAEMON_CONFIG;
  const importFile = values.import === undefined ? {} : { importFile: values.import };
  return configFile !== undefined ? { configFile, overrides, ...importFile } : { overrides, ...importFile };
}

async function main(): Promise<void> {
  releaseSupervisorChannel();
  const flags = parseFlags();
  const config = loadDaemonConfig(flags);
  const paths = daemonPaths(config);
  const replicaId = resolveReplicaId(config.replica_id);
  const created = createLogger(paths.logFile, config.log.level, config.log.stdout);
  const { file } = created;
  // Every line names the replica, for logs gathered from several replicas in one place.
  const logger = created.logger.child({ replica: replicaId });
  const marker = new CallMarker(markerFile(paths.stateDir));
  const pluginGuard = new PluginGuard(logger.child({ component: 'plugins' }), marker);
  greetSupervisor({ stallSeconds: config.watchdog.stall_seconds, markerFile: marker.file });
  installProcessGuards({
    logger,
    logFailing: () => file.dropping > 0,
    stderr: writeStderr,
    exit: (code) => process.exit(code),
    attribute: (kind, err) => pluginGuard.attribute(kind, err),
  });
  guardProcessExit(pluginGuard);
  const readiness = new Readiness();
  const store = await loadStore(config, paths, logger, followStoreHealth(readiness));
  if (flags.importFile !== undefined) {
    try {
      const report = await importStateFile(store, flags.importFile, logger);
      const counts = Object.entries(report.summary).map(([type, n]) => `${n} ${type}`).join(', ');
      process.stdout.write(`imported ${flags.importFile} (from a ${report.from.storeKind} store) into the ${report.into} store: ${counts}\n`);
    } catch (err) {
      logger.error({ err }, 'state import failed');
      fail(err, 1);
    }
  }
  const daemon = compose({ config, paths, logger, jobUmask: startedUmask, store, readiness, replicaId, pluginGuard }).resolve(Daemon);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutdown requested');
    daemon.stop().then(
      () => {
        marker.close();
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    const listening = await daemon.start();
    process.stdout.write(`sky API server listening on ${listening.url} (pid ${process.pid}, replica ${replicaId})${readiness.ready ? '' : ', not ready: waiting for the state store'}\n`);
  } catch (err) {
    logger.error({ err }, 'start failed');
    fail(err, isStoreRefusal(err) ? STORE_REFUSED_EXIT_CODE : 1);
  }
  try {
    await daemon.whenReady();
  } catch (err) {
    // The store refused the daemon while it listened as not ready (or what runs on it failed to start).
    logger.error({ err }, 'start failed');
    stopping = true;
    await daemon.stop().catch((stopErr: unknown) => logger.error({ err: stopErr }, 'shutdown failed'));
    fail(err, isStoreRefusal(err) ? STORE_REFUSED_EXIT_CODE : 1);
  }
  reportReady();
}

main().catch((err: unknown) => fail(err, 1));
