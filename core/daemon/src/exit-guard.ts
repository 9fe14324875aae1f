import type { PluginGuard } from './plugins/guard.js';

/**
 * Plugins share the daemon's process, so `process.exit()` in a plugin would end every request,
 * job watch and stream of the team. While the guard is installed, a call whose stack runs through
 * a plugin's package stops that plugin instead and throws where the plugin called it (into its
 * own code: an init, a driver call, a timer); the daemon's own exits work as before.
 * Returns a function that puts the original back.
 */
export function guardProcessExit(guard: PluginGuard): () => void {
  const original = process.exit;
  const guarded = function exit(code?: number | string | null): never {
    const owners = guard.owners(new Error().stack);
    if (owners.length === 0) return original.call(process, code);
    const refusal = new Error(`process.exit(${code === undefined ? '' : String(code)}) called by plugin code was refused: the API server serves other work`);
    for (const plugin of owners) guard.fault(plugin, 'process.exit', refusal);
    throw refusal;
  };
  process.exit = guarded as typeof process.exit;
  return () => {
    if (process.exit === guarded) process.exit = original;
  };
}
