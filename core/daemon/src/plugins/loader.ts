import { pathToFileURL } from 'node:url';
import { PLUGIN_API_VERSION } from '@sky/plugin-api';
import { SkyError, type PluginState } from '@sky/protocol';
import { isBlockProblem, parseBlock, type PluginBlock } from './block.js';
import { settleWithin } from './deadline.js';
import { initDriver } from './init.js';
import { resolvePackage } from './resolve.js';
import { describeThrown } from './thrown.js';
import type { FailurePolicy, LoadedDriver, LoadedPlugins, PluginLoaderOptions } from './types.js';
import { checkApiVersion, checkDriverPlugin, pickExport, validateConfig } from './validate.js';

interface Running extends LoadedDriver {
  readonly closeTimeoutMs: number;
}

/** What we learned about a plugin before it failed, for its PluginState. */
interface Progress {
  version?: string;
  apiVersion?: string;
}

function cancelled(id: string): SkyError {
  return new SkyError('CANCELLED', `plugin loading stopped at drivers.${id} because the daemon is shutting down`, {
    details: { plugin: id },
  });
}

/**
 * Loads the `drivers` config map: resolves each package by name, imports it, checks brand, kind and
 * plugin-API range, validates its config block and time-boxes its init. Each driver's `on_failure`
 * decides whether a failure rejects the whole load ('abort', after closing drivers already up) or is
 * logged and reported as a skipped state ('skip'). Nothing a plugin throws escapes any other way.
 */
export class PluginLoader {
  private readonly apiVersion: string;
  private readonly results: LoadedPlugins[] = [];

  constructor(private readonly options: PluginLoaderOptions) {
    this.apiVersion = options.apiVersion ?? PLUGIN_API_VERSION;
  }

  async load(drivers: Readonly<Record<string, unknown>> | undefined): Promise<LoadedPlugins> {
    const running = new Map<string, Running>();
    const states: PluginState[] = [];
    const result = this.result(running, states);
    this.results.push(result);
    const { logger, signal } = this.options;

    // Check every block's own keys before running any plugin code, so a typo fails fast.
    const blocks = Object.entries(drivers ?? {}).map(([id, raw]) => parseBlock(id, raw));

    for (const block of blocks) {
      const { id, packageName } = block;
      if (signal?.aborted === true) {
        await result.closeAll();
        throw cancelled(id);
      }
      if (isBlockProblem(block)) {
        await this.fail(block.id, packageName, block.onFailure, block.error, {}, states, result);
        continue;
      }
      if (!block.enabled) {
        logger.info({ plugin: id, package: packageName }, `drivers.${id}: ${packageName} is disabled (enabled: false); not loading it`);
        states.push({ id, kind: 'driver', package: packageName, state: 'skipped' });
        continue;
      }

      const progress: Progress = {};
      let loaded: Running;
      try {
        loaded = await this.loadOne(block, progress);
      } catch (thrown) {
        const error =
          thrown instanceof SkyError
            ? thrown
            : new SkyError('INTERNAL', `drivers.${id}: unexpected error while loading ${packageName}: ${describeThrown(thrown)}`, {
                details: { plugin: id, package: packageName },
                cause: thrown,
              });
        if (error.code === 'CANCELLED') {
          await result.closeAll();
          throw error;
        }
        if (error.code === 'PLUGIN_FAILED') {
          // Quarantined after it took a daemon down: never a reason to refuse to start (that
          // would turn one bad plugin into a crash loop), whatever on_failure says.
          logger.error({ plugin: id, package: packageName, version: progress.version, code: error.code, hint: error.hint }, error.message);
          const state: PluginState = { id, kind: 'driver', package: packageName, state: 'failed', error: { code: error.code, message: error.message } };
          if (progress.version !== undefined) state.version = progress.version;
          states.push(state);
          continue;
        }
        await this.fail(id, packageName, block.onFailure, error, progress, states, result);
        continue;
      }
      running.set(id, loaded);
      const state: PluginState = { id, kind: 'driver', package: packageName, state: 'loaded' };
      if (loaded.version !== undefined) state.version = loaded.version;
      state.apiVersion = loaded.plugin.apiVersion;
      states.push(state);
      logger.info(
        { plugin: id, package: packageName, version: loaded.version },
        `drivers.${id}: loaded ${packageName}${loaded.version === undefined ? '' : `@${loaded.version}`}`,
      );
    }
    return result;
  }

  /** Close the drivers of every load() so far. */
  async closeAll(): Promise<void> {
    await Promise.all(this.results.map((r) => r.closeAll()));
  }

  private async fail(
    id: string,
    packageName: string,
    policy: FailurePolicy,
    error: SkyError,
    progress: Progress,
    states: PluginState[],
    result: LoadedPlugins,
  ): Promise<void> {
    if (policy === 'abort') {
      await result.closeAll();
      throw error;
    }
    this.options.logger.error(
      { plugin: id, code: error.code, hint: error.hint },
      `${error.message} (drivers.${id} is skipped: on_failure is "skip")`,
    );
    const state: PluginState = {
      id,
      kind: 'driver',
      package: packageName,
      state: 'skipped',
      error: { code: error.code, message: error.message },
    };
    if (progress.version !== undefined) state.version = progress.version;
    if (progress.apiVersion !== undefined) state.apiVersion = progress.apiVersion;
    states.push(state);
  }

  private async loadOne(block: PluginBlock, progress: Progress): Promise<Running> {
    const { id, packageName, initTimeoutMs: ms } = block;
    const { signal } = this.options;
    const resolved = await resolvePackage(id, packageName, this.options);
    if (resolved.version !== undefined) progress.version = resolved.version;
    const refusal = this.options.refuse?.(id, packageName, resolved.version);
    if (refusal !== undefined) throw refusal;
    const identity = { id, packageName, version: resolved.version };
    const { guard } = this.options;
    guard?.register(identity, resolved.dir);

    const imported = await settleWithin(() => import(pathToFileURL(resolved.entry).href) as Promise<Record<string, unknown>>, {
      ms,
      signal,
    });
    if (imported.kind === 'aborted') throw cancelled(id);
    if (imported.kind !== 'value') {
      const why =
        imported.kind === 'timeout'
          ? `did not finish importing within ${ms / 1000}s (a top-level await that never settles?)`
          : `failed to import: ${describeThrown(imported.error)}`;
      throw new SkyError('PLUGIN_LOAD_FAILED', `drivers.${id}: ${packageName} (${resolved.entry}) ${why}: reinstall ${packageName}`, {
        hint: `Reinstall the plugin and its dependencies (\`npm install ${packageName}\`); if it is a local plugin, build it and install its dependencies.`,
        details: { plugin: id, package: packageName, entry: resolved.entry },
        cause: imported.kind === 'error' ? imported.error : undefined,
      });
    }

    const plugin = checkDriverPlugin(id, packageName, resolved.entry, pickExport(imported.value));
    progress.apiVersion = plugin.apiVersion;
    checkApiVersion(id, packageName, plugin.apiVersion, this.apiVersion);

    const validated = await settleWithin(() => validateConfig(id, packageName, plugin.configSchema, block.config), { ms, signal });
    if (validated.kind === 'aborted') throw cancelled(id);
    if (validated.kind === 'error') throw validated.error;
    if (validated.kind === 'timeout') {
      throw new SkyError('PLUGIN_CONFIG_INVALID', `drivers.${id}: the config schema of ${packageName} did not answer within ${ms / 1000}s, which is a bug in the plugin`, {
        hint: `Report this to the authors of ${packageName}, or pin a release that works.`,
        details: { plugin: id, package: packageName },
      });
    }

    const driver = await initDriver({
      id,
      packageName,
      plugin,
      config: validated.value,
      dataDir: this.options.dataDir(id),
      timeoutMs: ms,
      logger: this.options.logger,
      ssh: this.options.ssh,
      multiUser: this.options.multiUser ?? false,
      nodeHelper: this.options.nodeHelper,
      documents: this.options.documents?.(id),
      signal,
      ...(guard === undefined ? {} : { run: <T>(fn: () => T): T => guard.run(id, 'init', fn) }),
    });
    return { id, packageName, version: resolved.version, plugin, driver: guard === undefined ? driver : guard.wrap(identity, driver), closeTimeoutMs: ms };
  }

  private result(running: ReadonlyMap<string, Running>, states: readonly PluginState[]): LoadedPlugins {
    const { logger } = this.options;
    const closes = new Map<Running, Promise<void>>();
    const closeOne = async (entry: Running): Promise<void> => {
      const { id, packageName, driver } = entry;
      const outcome = await settleWithin(() => driver.close?.(), {
        ms: entry.closeTimeoutMs,
        onLate: (late) => {
          if (late.kind === 'error') logger.warn({ plugin: id, err: describeThrown(late.error) }, `drivers.${id}: ${packageName} close failed late`);
        },
      });
      if (outcome.kind === 'error') {
        logger.error({ plugin: id, err: describeThrown(outcome.error) }, `drivers.${id}: closing ${packageName} failed: ${describeThrown(outcome.error)}`);
      } else if (outcome.kind === 'timeout') {
        logger.warn({ plugin: id }, `drivers.${id}: ${packageName} did not close within ${entry.closeTimeoutMs / 1000}s; moving on`);
      }
    };
    return {
      drivers: running,
      states,
      closeAll: async () => {
        // Each driver is closed once; a repeated call waits for the same closes.
        const pending = [...running.values()].reverse().map((entry) => {
          let close = closes.get(entry);
          if (close === undefined) {
            close = closeOne(entry);
            closes.set(entry, close);
          }
          return close;
        });
        await Promise.all(pending);
      },
    };
  }
}
