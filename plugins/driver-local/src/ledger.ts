import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AcceleratorCount } from '@sky/plugin-api';
import { SkyError } from '@sky/protocol/wire';

/** One node as the ledger records it. */
export interface LedgerNode {
  id: string;
  rank: number;
  dir: string;
  cpus: number;
  memoryGb: number;
  /** Host GPU indices this node holds while UP (re-chosen by start). */
  gpuIndices: number[];
  accelerators: AcceleratorCount[];
}

export interface LedgerCluster {
  clusterId: string;
  clusterName: string;
  owner: string;
  /** UP clusters hold their CPUs, memory and GPUs; STOPPED ones hold only their directories. */
  status: 'UP' | 'STOPPED';
  createdAt: string;
  nodes: LedgerNode[];
  ports?: number[];
  labels?: Record<string, string>;
}

export interface LedgerData {
  version: 1;
  clusters: Record<string, LedgerCluster>;
}

export const LEDGER_FILE = 'ledger.json';
export const LOCK_FILE = 'ledger.lock';

export interface LedgerOptions {
  /** How long to wait for another process's lock before giving up. */
  lockTimeoutMs?: number;
  /** A lock file older than this whose holder cannot be checked is taken as abandoned. */
  staleMs?: number;
}

function empty(): LedgerData {
  return { version: 1, clusters: {} };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The local driver's record of what every cluster under `root` holds: one JSON file, replaced
 * atomically (write a temporary file, fsync, rename), changed only under a lock file created with
 * O_EXCL, so two daemons (or any two processes) sharing a root never book the same capacity twice.
 * A lock whose holder died (same host, pid gone) or that is older than `staleMs` is broken.
 */
export class Ledger {
  readonly path: string;
  readonly lockPath: string;
  private readonly lockTimeoutMs: number;
  private readonly staleMs: number;

  constructor(
    readonly root: string,
    options: LedgerOptions = {},
  ) {
    this.path = join(root, LEDGER_FILE);
    this.lockPath = join(root, LOCK_FILE);
    this.lockTimeoutMs = options.lockTimeoutMs ?? 15_000;
    this.staleMs = options.staleMs ?? 60_000;
  }

  /** The current record. Needs no lock: the file is only ever replaced whole. */
  async read(): Promise<LedgerData> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return empty();
      throw new SkyError('DRIVER_FAILED', `local driver: cannot read its ledger ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new SkyError('DRIVER_FAILED', `local driver: its ledger ${this.path} is not valid JSON (${(error as Error).message})`, {
        hint: `Stop every sky daemon using ${this.root}, then repair or remove ${this.path} (removing it forgets every local cluster's reservation).`,
        cause: error,
      });
    }
    const ledger = data as Partial<LedgerData> | null;
    if (ledger === null || typeof ledger !== 'object' || ledger.version !== 1 || typeof ledger.clusters !== 'object' || ledger.clusters === null) {
      throw new SkyError('DRIVER_FAILED', `local driver: its ledger ${this.path} has an unknown format`, {
        hint: `It was written by another version of sky-driver-local; use that version, or move ${this.path} aside.`,
      });
    }
    return ledger as LedgerData;
  }

  /**
   * Run `change` on the current record under the lock and save what it leaves, unless it throws
   * (then nothing is saved). Returns what `change` returns.
   */
  async update<T>(signal: AbortSignal, change: (data: LedgerData) => T | Promise<T>): Promise<T> {
    const release = await this.lock(signal);
    try {
      const data = await this.read();
      const before = JSON.stringify(data);
      const result = await change(data);
      if (JSON.stringify(data) !== before) await this.write(data);
      return result;
    } finally {
      await release();
    }
  }

  private async write(data: LedgerData): Promise<void> {
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const file = await open(tmp, 'w', 0o600);
    try {
      await file.writeFile(`${JSON.stringify(data, null, 2)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      throw error;
    }
  }

  private async lock(signal: AbortSignal): Promise<() => Promise<void>> {
    const token = `${process.pid} ${hostname()} ${randomBytes(6).toString('hex')}`;
    const deadline = Date.now() + this.lockTimeoutMs;
    let wait = 2;
    for (;;) {
      if (signal.aborted) throw new SkyError('CANCELLED', 'local driver: cancelled while waiting for the ledger lock', { cause: signal.reason });
      try {
        const file = await open(this.lockPath, 'wx', 0o600);
        try {
          await file.writeFile(token);
        } finally {
          await file.close();
        }
        return async () => {
          // Remove the lock only if it is still ours (it may have been broken as stale).
          const now = await readFile(this.lockPath, 'utf8').catch(() => undefined);
          if (now === token) await unlink(this.lockPath).catch(() => undefined);
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new SkyError('DRIVER_FAILED', `local driver: cannot create the lock ${this.lockPath}: ${(error as Error).message}`, {
            hint: `Make ${this.root} writable by the user the daemon runs as.`,
            cause: error,
          });
        }
      }
      const holder = await this.holder();
      if (holder === undefined) continue; // released in between: try again at once
      if (holder.stale && (await this.breakStale(holder.content))) continue;
      if (Date.now() > deadline) {
        throw new SkyError(
          'DRIVER_FAILED',
          `local driver: the ledger ${this.path} stayed locked for ${this.lockTimeoutMs / 1000}s${Number.isInteger(holder.pid) ? ` by pid ${holder.pid}` : ''}`,
          { hint: `If no sky process is using ${this.root}, remove ${this.lockPath}.` },
        );
      } else {
        await sleep(wait);
        wait = Math.min(wait * 2, 50);
      }
    }
  }

  private async holder(): Promise<{ content: string; pid: number; stale: boolean } | undefined> {
    let content: string;
    let age: number;
    try {
      content = await readFile(this.lockPath, 'utf8');
      age = Date.now() - (await stat(this.lockPath)).mtimeMs;
    } catch {
      return undefined; // released in between
    }
    const [pidText, host] = content.split(' ');
    const pid = Number(pidText);
    const sameHost = host === hostname();
    const dead = sameHost && Number.isInteger(pid) && pid > 0 && !isAlive(pid);
    // An empty file is a lock being written right now, unless it has been empty for long.
    return { content, pid, stale: dead || age > this.staleMs };
  }

  /**
   * Remove an abandoned lock. Only the process that wins a second O_EXCL file may do it, and only
   * while the lock still holds what was judged stale, so two processes breaking the same lock
   * cannot remove a fresh one.
   */
  private async breakStale(content: string): Promise<boolean> {
    const breaker = `${this.lockPath}.break`;
    let file;
    try {
      file = await open(breaker, 'wx', 0o600);
    } catch {
      const age = await stat(breaker).then((s) => Date.now() - s.mtimeMs).catch(() => 0);
      if (age > 10_000) await unlink(breaker).catch(() => undefined);
      return false;
    }
    try {
      const now = await readFile(this.lockPath, 'utf8').catch(() => undefined);
      if (now !== content) return now === undefined;
      await unlink(this.lockPath);
      return true;
    } catch {
      return false;
    } finally {
      await file.close();
      await unlink(breaker).catch(() => undefined);
    }
  }
}
