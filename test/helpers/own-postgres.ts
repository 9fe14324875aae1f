import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const BIN = process.env.SKY_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** A PostgreSQL server of the test's own (never the machine's shared one), on a port the test chose. */
export interface OwnPostgres {
  /** postgres://root@127.0.0.1:PORT/postgres (trust auth). */
  url: string;
  port: number;
  /** Start (or start again, on the same data directory) and resolve once it accepts a connection. */
  start(): Promise<void>;
  /** Fast shutdown (SIGINT), resolved once the server exited. */
  stop(): Promise<void>;
  /** Stop it and remove its data directory. */
  destroy(): Promise<void>;
}

/** initdb refuses root: the server runs as the `postgres` account when the test runs as root. */
function account(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('the tests run as root and there is no postgres account to run initdb as');
  return { uid, gid };
}

async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A fresh cluster (initdb, trust auth, superuser root) in a temp directory, served on `port`
 * by Debian's binaries: not started yet (a test may first show the daemon without it).
 */
export function ownPostgres(port: number): OwnPostgres {
  const owner = account();
  const dir = mkdtempSync(join(tmpdir(), 'sky-own-pg-'));
  if (owner !== undefined) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const url = `postgres://root@127.0.0.1:${port}/postgres`;
  const as = owner === undefined ? {} : { uid: owner.uid, gid: owner.gid };
  let initialised = false;
  let server: ChildProcess | undefined;
  let log = '';

  const exited = (child: ChildProcess): Promise<void> =>
    child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));

  return {
    url,
    port,
    async start() {
      if (!initialised) {
        const init = spawnSync(join(BIN, 'initdb'), ['-D', data, '-U', 'root', '-A', 'trust', '--no-sync', '-E', 'UTF8'], { ...as, encoding: 'utf8', cwd: dir });
        if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`);
        initialised = true;
      }
      const child = spawn(join(BIN, 'postgres'), ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', dir, '-c', 'fsync=off'], { ...as, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      server = child;
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (log = (log + d).slice(-4000)));
      for (let i = 0; i < 300; i++) {
        if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}: ${log}`);
        if (await accepts(url)) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`postgres on port ${port} did not accept connections: ${log}`);
    },
    async stop() {
      const child = server;
      server = undefined;
      if (child === undefined) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited(child);
      clearTimeout(timer);
    },
    async destroy() {
      await this.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
