import { closeSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { PluginIdentity, RunningMarker } from './guard.js';

import { PREFIX, STALLED_PREFIX } from './marker-names.js';

export { markerFile, stalledFile, STALLED_PREFIX } from './marker-names.js';
/** Every write is this long (padded with spaces), so a shorter record never leaves bytes of a longer one behind. */
const RECORD_BYTES = 1024;

/** What the marker file holds while plugin code runs synchronously. */
export interface RunningRecord {
  id: string;
  packageName: string;
  version?: string;
  op: string;
}

/**
 * Which plugin's code the daemon is running synchronously right now, kept in a small file of the
 * state directory (`plugin-running.<pid>`): two positioned writes per driver call, no thread.
 * A process blocked in a plugin's busy loop cannot say anything: the supervisor's heartbeat
 * watchdog renames its marker to `plugin-stalled.<pid>` before it kills it, and the next daemon
 * quarantines the plugin that verdict names (see takeStalls).
 */
export class CallMarker implements RunningMarker {
  /** Opened at the first plugin call (the state directory exists by then); -1 once it cannot be. */
  private fd: number | undefined;
  private readonly plugins = new Map<number, PluginIdentity>();
  private readonly ops: string[] = [''];
  private current = 0;

  constructor(readonly file: string) {}

  name(slot: number, plugin: PluginIdentity): void {
    this.plugins.set(slot, plugin);
  }

  enter(slot: number, op: string): number {
    let index = this.ops.indexOf(op);
    if (index === -1) index = this.ops.push(op) - 1;
    const previous = this.current;
    this.current = slot * 65_536 + index;
    this.show(this.current);
    return previous;
  }

  leave(previous: number): void {
    this.current = previous;
    this.show(previous);
  }

  /** Remove the marker: this process ends in order. */
  close(): void {
    if (this.fd === undefined || this.fd === -1) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = -1;
    rmSync(this.file, { force: true });
  }

  private show(code: number): void {
    const plugin = this.plugins.get(Math.floor(code / 65_536));
    const op = this.ops[code % 65_536] ?? 'code';
    this.write(plugin === undefined ? undefined : { id: plugin.id, packageName: plugin.packageName, ...(plugin.version === undefined ? {} : { version: plugin.version }), op });
  }

  private write(record: RunningRecord | undefined): void {
    const text = record === undefined ? '' : JSON.stringify(record);
    const buffer = Buffer.alloc(Math.max(RECORD_BYTES, Buffer.byteLength(text)), ' ');
    buffer.write(text, 0, 'utf8');
    try {
      this.fd ??= openSync(this.file, 'w', 0o600);
      if (this.fd !== -1) writeSync(this.fd, buffer, 0, buffer.length, 0);
    } catch {
      this.fd ??= -1;
      // best effort: a full disk must not fail a driver call
    }
  }
}


function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A plugin an earlier daemon process was running when it died, and when it died. */
export interface Stall {
  pid: number;
  record: RunningRecord;
  at: number;
  /** Whether the watchdog killed it for holding the event loop (else it died some other way while that code ran). */
  stalled: boolean;
}

/**
 * The markers earlier daemon processes left in the state directory (their pid is gone): each
 * non-empty one names the plugin whose code ran when that process died, `stalled` when the
 * watchdog's verdict says it held the event loop. The files are removed.
 */
export function takeStalls(stateDir: string): Stall[] {
  let names: string[];
  try {
    names = readdirSync(stateDir).filter((n) => n.startsWith(PREFIX) || n.startsWith(STALLED_PREFIX));
  } catch {
    return [];
  }
  const stalls: Stall[] = [];
  for (const name of names) {
    const stalled = name.startsWith(STALLED_PREFIX);
    const pid = Number(name.slice((stalled ? STALLED_PREFIX : PREFIX).length));
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    const file = join(stateDir, name);
    try {
      const text = readFileSync(file, 'utf8').trim();
      const at = statSync(file).mtimeMs;
      rmSync(file, { force: true });
      if (text === '') continue;
      const record = JSON.parse(text) as Partial<RunningRecord>;
      if (typeof record.id === 'string' && typeof record.packageName === 'string' && typeof record.op === 'string') {
        stalls.push({ pid, at, stalled, record: { id: record.id, packageName: record.packageName, op: record.op, ...(typeof record.version === 'string' ? { version: record.version } : {}) } });
      }
    } catch {
      // unreadable or damaged: nothing to learn from it
    }
  }
  return stalls;
}
