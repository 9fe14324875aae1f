// SkyPilot's habit: a `~/.sky/ssh_node_pools.yaml` is all it takes to use SSH node pools. So the
// ssh driver is enabled whenever the daemon's account has that file, with no daemon config: a
// personal daemon reads its user's file, a team daemon its admin account's. A config that names
// the ssh driver itself (even `enabled: false`) is left as written.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const SSH_DRIVER_PACKAGE = 'sky-driver-ssh';

/** ~/.sky/ssh_node_pools.yaml of the daemon's account. */
export function poolsFilePath(home: string = homedir()): string {
  return join(home, '.sky', 'ssh_node_pools.yaml');
}

/** Whether a `drivers` map already has a block for the ssh driver (its id, or a package naming it). */
function namesSshDriver(drivers: Readonly<Record<string, unknown>>): boolean {
  return Object.entries(drivers).some(([id, block]) => {
    if (id === 'ssh' || id === SSH_DRIVER_PACKAGE) return true;
    const pkg = typeof block === 'object' && block !== null ? (block as Record<string, unknown>)['package'] : undefined;
    return pkg === SSH_DRIVER_PACKAGE;
  });
}

/**
 * The drivers to load: as configured, plus `ssh` when the pools file exists and no block names
 * the ssh driver. Nobody asked for it in a config, so if it cannot start the daemon still does
 * (on_failure: skip) and `sky check` says why.
 */
export function withPoolsFileDriver(
  drivers: Readonly<Record<string, unknown>>,
  home: string = homedir(),
  exists: (path: string) => boolean = existsSync,
): { drivers: Record<string, unknown>; added: string | undefined } {
  if (namesSshDriver(drivers)) return { drivers: { ...drivers }, added: undefined };
  const file = poolsFilePath(home);
  if (!exists(file)) return { drivers: { ...drivers }, added: undefined };
  return { drivers: { ...drivers, ssh: { on_failure: 'skip' } }, added: file };
}
