import { mkdir } from 'node:fs/promises';
import type { Driver, DriverPlugin, NodeHelper, PluginDocuments, PluginSsh } from '@sky/plugin-api';
import { SkyError, toSkyError } from '@sky/protocol';
import { settleWithin } from './deadline.js';
import { pluginLogger } from './logger.js';
import { describeThrown } from './thrown.js';
import type { LoaderLogger } from './types.js';

export interface InitRequest {
  readonly id: string;
  readonly packageName: string;
  readonly plugin: DriverPlugin<unknown>;
  readonly config: unknown;
  readonly dataDir: string;
  readonly timeoutMs: number;
  readonly logger: LoaderLogger;
  /** The daemon's SSH connections, lent to the plugin. */
  readonly ssh?: PluginSsh | undefined;
  /** Whether the daemon serves a team (auth other than none). */
  readonly multiUser?: boolean;
  /** The daemon's connection to sky-node-helper, lent to the plugin. */
  readonly nodeHelper?: NodeHelper | undefined;
  /** The plugin's documents in the state store, when the store keeps them. */
  readonly documents?: PluginDocuments | undefined;
  /** The daemon's shutdown signal. */
  readonly signal?: AbortSignal | undefined;
  /** Runs the plugin's init call (marked for the watchdog). */
  readonly run?: <T>(fn: () => T) => T;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

function closeQuietly(driver: Driver, onError: (error: unknown) => void): void {
  try {
    Promise.resolve(driver.close?.()).catch(onError);
  } catch (error) {
    onError(error);
  }
}

/**
 * Run a plugin's init, time-boxed. On timeout the signal handed to init is aborted and we return
 * at once with PLUGIN_INIT_TIMEOUT; a driver that still turns up later is closed, not leaked.
 */
export async function initDriver(req: InitRequest): Promise<Driver> {
  const { id, packageName, logger } = req;
  const controller = new AbortController();
  const forwardShutdown = (): void => controller.abort(req.signal?.reason);
  req.signal?.addEventListener('abort', forwardShutdown, { once: true });

  try {
    try {
      await mkdir(req.dataDir, { recursive: true });
    } catch (error) {
      throw new SkyError('PLUGIN_INIT_FAILED', `drivers.${id}: cannot create the data directory ${req.dataDir} for ${packageName} (${describeThrown(error)})`, {
        hint: `Make the daemon's data directory writable by the user the daemon runs as.`,
        details: { plugin: id, package: packageName, dataDir: req.dataDir },
        cause: error,
      });
    }

    const run = req.run ?? (<T>(fn: () => T): T => fn());
    const outcome = await settleWithin(
      () =>
        run(() => req.plugin.init({
          id,
          config: req.config,
          logger: pluginLogger(logger, id),
          dataDir: req.dataDir,
          signal: controller.signal,
          multiUser: req.multiUser ?? false,
          ...(req.ssh ? { ssh: req.ssh } : {}),
          ...(req.nodeHelper ? { nodeHelper: req.nodeHelper } : {}),
          ...(req.documents ? { documents: req.documents } : {}),
        })),
      {
        ms: req.timeoutMs,
        signal: req.signal,
        onLate: (late) => {
          if (late.kind === 'value' && typeof late.value === 'object' && late.value !== null) {
            logger.warn({ plugin: id }, `drivers.${id}: ${packageName} finished init after it was abandoned; closing the late driver`);
            closeQuietly(late.value, (error) =>
              logger.warn({ plugin: id, err: describeThrown(error) }, `drivers.${id}: closing the late driver failed`),
            );
          } else if (late.kind === 'error') {
            logger.warn({ plugin: id, err: describeThrown(late.error) }, `drivers.${id}: ${packageName} init failed after it was abandoned`);
          }
        },
      },
    );

    switch (outcome.kind) {
      case 'value': {
        const driver: unknown = outcome.value;
        if (typeof driver !== 'object' || driver === null) {
          throw new SkyError(
            'PLUGIN_INIT_FAILED',
            `drivers.${id}: init of ${packageName} returned ${driver === null ? 'null' : typeof driver} instead of a driver object: this is a bug in ${packageName}; report it to its authors`,
            { hint: `Report this to the authors of ${packageName}, or pin a release that works.`, details: { plugin: id, package: packageName } },
          );
        }
        return driver as Driver;
      }
      case 'error': {
        // A plugin that refuses its config for this daemon (e.g. the local driver on a team
        // server without accounts) says so with CONFIG_INVALID: keep that code and its hint.
        const refusal = toSkyError(outcome.error);
        if (refusal?.code === 'CONFIG_INVALID') {
          throw new SkyError('CONFIG_INVALID', `drivers.${id}: ${refusal.message}`, {
            ...(refusal.hint !== undefined ? { hint: refusal.hint } : {}),
            details: { plugin: id, package: packageName },
            cause: outcome.error,
          });
        }
        throw new SkyError(
          'PLUGIN_INIT_FAILED',
          `drivers.${id}: init of ${packageName} failed: ${describeThrown(outcome.error)}`,
          {
            hint: `Check the drivers.${id} settings and what ${packageName} connects to (credentials, hosts, network); its log lines are tagged plugin=${id}.`,
            details: { plugin: id, package: packageName },
            cause: outcome.error,
          },
        );
      }
      case 'timeout':
        controller.abort(new SkyError('PLUGIN_INIT_TIMEOUT', `init of ${packageName} exceeded ${seconds(req.timeoutMs)}`));
        throw new SkyError(
          'PLUGIN_INIT_TIMEOUT',
          `drivers.${id}: init of ${packageName} did not finish within ${seconds(req.timeoutMs)}: check what it connects to, or raise drivers.${id}.init_timeout_seconds`,
          {
            hint: `Check that the services ${packageName} connects to are reachable, or raise drivers.${id}.init_timeout_seconds.`,
            details: { plugin: id, package: packageName, timeoutSeconds: req.timeoutMs / 1000 },
          },
        );
      default:
        // 'aborted': the daemon's shutdown signal fired while init ran.
        throw new SkyError('CANCELLED', `drivers.${id}: init of ${packageName} was abandoned because the daemon is shutting down`, {
          details: { plugin: id, package: packageName },
        });
    }
  } finally {
    req.signal?.removeEventListener('abort', forwardShutdown);
  }
}
