import { basename, dirname, join } from 'node:path';

/** A daemon's marker of the plugin code it runs synchronously: `<state_dir>/plugin-running.<pid>` (see call-marker.ts). */
export const PREFIX = 'plugin-running.';

/**
 * What the supervisor's watchdog renames a marker to when it kills a daemon for a stall: the
 * verdict that the plugin named held the event loop. A marker left by a process that died any
 * other way (a kill -9, the OOM killer, a crash) only says what ran at that instant.
 */
export const STALLED_PREFIX = 'plugin-stalled.';

export function markerFile(stateDir: string, pid = process.pid): string {
  return join(stateDir, `${PREFIX}${pid}`);
}

/** The watchdog's verdict for a marker file: the same file, renamed (see STALLED_PREFIX). */
export function stalledFile(marker: string): string {
  const name = basename(marker);
  return join(dirname(marker), name.startsWith(PREFIX) ? `${STALLED_PREFIX}${name.slice(PREFIX.length)}` : `${STALLED_PREFIX}${name}`);
}
