/**
 * Daemon replicas for tests on the machine's PostgreSQL: each test file makes a `Replicas`,
 * starts replicas with it (real daemon processes), and calls `cleanup()` in `after`, which stops
 * them by PID and drops every schema it handed out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RequestRecord } from '@sky/protocol';
import { http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from './daemon-process.js';
import { dropSchema, testSchemaName } from '../integration/store-postgres-fixture.js';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** Poll `check` until it holds, at most `bound` tries `everyMs` apart. */
export async function until(what: string, check: () => Promise<boolean>, bound = 600, everyMs = 100): Promise<void> {
  for (let i = 0; i < bound; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Wait (long polls of 30 s, at most 20) until the request has ended; its record. */
export async function waitOn(url: string, headers: Record<string, string>, id: string): Promise<RequestRecord> {
  for (let i = 0; i < 20; i++) {
    const rec = (await http(`${url}/api/v1/requests/${id}/wait?timeout=30`, { headers })).json() as RequestRecord;
    if (TERMINAL.has(rec.status)) return rec;
  }
  throw new Error(`request ${id} did not end`);
}

export class Replicas {
  private readonly homes: string[] = [];
  private readonly dirs: string[] = [];
  private readonly daemons: DaemonHandle[] = [];
  private readonly schemas: string[] = [];

  /** A fresh schema name, dropped by cleanup(). */
  schema(): string {
    const schema = testSchemaName();
    this.schemas.push(schema);
    return schema;
  }

  /** A temp directory (node roots, marker files), removed by cleanup(). */
  dir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** Start a daemon with `config` and a HOME of its own; resolves once it is ready. */
  async start(config: string): Promise<DaemonHandle> {
    const home = tempHome();
    this.homes.push(home);
    const daemon = await startDaemon({ home, config });
    this.daemons.push(daemon);
    await until('the replica to be ready', async () => (await http(`${daemon.url}/api/health/ready`)).status === 200);
    return daemon;
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.daemons.map((d) => d.stop()));
    await killAllDaemons();
    await Promise.allSettled(this.schemas.map((s) => dropSchema(s)));
    for (const home of this.homes) removeHome(home);
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
  }
}
