import { SkyError, type PluginState } from '@sky/protocol';
import type { PluginRegistry } from '../tokens.js';

/** Configured drivers whose plugin serves nothing: it failed to load (on_failure: skip), was quarantined, or was stopped after a fault. */
export function unavailableDrivers(plugins: PluginRegistry): PluginState[] {
  return plugins.states().filter((s) => s.kind === 'driver' && (s.state === 'failed' || (s.state === 'skipped' && s.error !== undefined)));
}

/** The unavailable driver `id`, if it is one. */
export function unavailableDriver(plugins: PluginRegistry, id: string): PluginState | undefined {
  return unavailableDrivers(plugins).find((s) => s.id === id);
}

/** `failed to load` or `was stopped after a fault`, for messages. */
export function whatWentWrong(state: PluginState): string {
  if (state.state === 'skipped') return 'failed to load';
  return state.error?.code === 'PLUGIN_FAILED' && state.error.message.includes('quarantined') ? 'is quarantined' : 'was stopped after a fault in its code';
}

/** The error for work sent to a driver whose plugin is configured but serves nothing: what failed and why. */
export function driverUnavailable(state: PluginState): SkyError {
  const pkg = `${state.package}${state.version === undefined ? '' : `@${state.version}`}`;
  const why = state.error?.message ?? 'no reason was recorded';
  return new SkyError('PLUGIN_FAILED', `driver ${state.id} is configured on this API server, but its plugin ${pkg} ${whatWentWrong(state)}: ${why}`, {
    hint: `An admin fixes the cause above (the drivers.${state.id} block of the daemon config, or the plugin's installation) and restarts the API server; sky check shows every driver's state.`,
    details: { driver: state.id, package: state.package, ...(state.version === undefined ? {} : { version: state.version }), state: state.state, ...(state.error === undefined ? {} : { code: state.error.code }) },
  });
}
