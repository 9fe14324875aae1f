import { readFile, unlink } from 'node:fs/promises';
import type { Health, Identity } from '@sky/protocol';
import { procStartTime, type DaemonInfo } from '@sky/protocol/wire';
import { SkyClient } from './client.js';
import { parseEndpoint } from './endpoint.js';
import { loadIdentity } from './identity.js';
import { readDaemonInfo } from './local-daemon.js';
import { skyPaths } from './paths.js';
import { isPidAlive, sleep } from './process.js';

/** Where to reach a server listening on `host`: a wildcard address is reached over loopback. */
export function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

/** The start time of a process (/proc/<pid>/stat field 22), or undefined where it cannot be read. */
export async function processStart(pid: number): Promise<string | undefined> {
  try {
    return procStartTime(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** The command name of a process, for messages ('' where /proc is not available). */
async function processName(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  } catch {
    return '';
  }
}

/** What daemon.json says, checked against the process table and the daemon's own answer. */
export type DaemonCheck =
  /** No daemon.json. */
  | { kind: 'none' }
  /** The health probe at its URL answered with its pid and start time. */
  | { kind: 'running'; info: DaemonInfo; health: Health }
  /** The process is the one that wrote daemon.json (same pid and start time) but does not answer. */
  | { kind: 'unresponsive'; info: DaemonInfo; reason: string }
  /** daemon.json names a process that has exited or a pid that now belongs to another process. */
  | { kind: 'stale'; info: DaemonInfo; reason: string }
  /** The pid is alive but nothing proves it is the daemon: it is never signalled. */
  | { kind: 'unverified'; info: DaemonInfo; reason: string };

export interface CheckOptions {
  home?: string;
  identity?: Identity;
  /** How long the health probe may take (default 5 s). */
  probeTimeoutMs?: number;
}

/** A client for the URL a daemon wrote to daemon.json, pinned to its certificate when it serves HTTPS. */
export async function clientForDaemon(info: DaemonInfo, identity: Identity, connectTimeoutMs?: number): Promise<SkyClient> {
  const url = new URL(info.url);
  url.hostname = reachableHost(url.hostname);
  const endpoint = await parseEndpoint(url.toString(), 'daemon.json');
  return new SkyClient({
    endpoint,
    identity,
    ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
    ...(info.tlsFingerprint256 === undefined ? {} : { pinnedFingerprint256: info.tlsFingerprint256 }),
  });
}

/** Health of the daemon at its recorded URL, or why there is none. */
async function probe(info: DaemonInfo, identity: Identity, timeoutMs: number): Promise<Health | string> {
  const client = await clientForDaemon(info, identity, Math.min(timeoutMs, 2_000));
  try {
    return await client.health({ signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    client.close();
  }
}

/**
 * Check the local daemon before reporting on it or signalling it: its pid must be alive, be the
 * same process that wrote daemon.json (the start time recorded there, where /proc has one), and
 * answer a health probe at its URL with that pid and start time.
 */
export async function checkLocalDaemon(options: CheckOptions = {}): Promise<DaemonCheck> {
  const info = await readDaemonInfo(options.home);
  if (info === undefined) return { kind: 'none' };
  if (!isPidAlive(info.pid)) return { kind: 'stale', info, reason: `pid ${info.pid} has exited` };
  const started = await processStart(info.pid);
  const sameProcess = info.procStart !== undefined && started !== undefined ? info.procStart === started : undefined;
  if (sameProcess === false) {
    const name = await processName(info.pid);
    return { kind: 'stale', info, reason: `pid ${info.pid} now belongs to another process${name === '' ? '' : ` (${name})`} that started after the API server exited` };
  }
  const identity = options.identity ?? (await loadIdentity({ home: options.home }));
  const health = await probe(info, identity, options.probeTimeoutMs ?? 5_000);
  if (typeof health !== 'string' && health.pid === info.pid && health.startedAt === info.startedAt) return { kind: 'running', info, health };
  const answer = typeof health === 'string' ? health : `the server there is pid ${health.pid}, started at ${new Date(health.startedAt).toISOString()}`;
  if (sameProcess === true) return { kind: 'unresponsive', info, reason: `pid ${info.pid} started as the API server but does not answer as it at ${info.url} (${answer})` };
  return { kind: 'unverified', info, reason: `pid ${info.pid} is alive but does not answer as the API server at ${info.url} (${answer})` };
}

/** Remove a stale daemon.json, unless it was rewritten (by a daemon starting now) since it was read. */
export async function removeStaleDaemonFile(info: DaemonInfo, home?: string): Promise<boolean> {
  const now = await readDaemonInfo(home);
  if (now === undefined || now.pid !== info.pid || now.startedAt !== info.startedAt) return false;
  try {
    await unlink(skyPaths(home).daemonFile);
    return true;
  } catch {
    return false;
  }
}

/** Wait until the process is gone (or its pid belongs to another process); false on timeout. */
export async function waitForDaemonExit(info: DaemonInfo, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isPidAlive(info.pid)) return true;
    if (info.procStart !== undefined) {
      const started = await processStart(info.pid);
      if (started !== undefined && started !== info.procStart) return true;
    }
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}
