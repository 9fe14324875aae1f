import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ACCOUNT_NAME, SkyError } from '@sky/protocol';
import type { HelperConfig } from './config.js';

/** An OS account as the password database has it. */
export interface Account {
  name: string;
  uid: number;
  gid: number;
}

const CACHE_MS = 10_000;
/** useradd's exit code when another process holds /etc/passwd's lock. */
const USERADD_BUSY = 10;
const NOLOGIN_SHELLS = ['/usr/sbin/nologin', '/sbin/nologin', '/bin/false'];

function refused(message: string, hint?: string): SkyError {
  return new SkyError('NODE_HELPER_REFUSED', message, hint === undefined ? {} : { hint });
}

function execText(file: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { encoding: 'utf8', timeout: 30_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 127;
      resolve({ code, stdout, stderr });
    });
  });
}

/** One `name:x:uid:gid:...` line of `getent passwd`. */
export function parsePasswdLine(line: string): Account | undefined {
  const [name, , uid, gid] = line.trim().split(':');
  if (name === undefined || uid === undefined || gid === undefined || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return undefined;
  return { name, uid: Number(uid), gid: Number(gid) };
}

/** Look an account up through NSS (`getent passwd NAME`); undefined when there is none. */
export async function lookupAccount(name: string): Promise<Account | undefined> {
  if (!ACCOUNT_NAME.test(name)) return undefined;
  const out = await execText('getent', ['passwd', name]);
  if (out.code === 2) return undefined;
  if (out.code !== 0) throw new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: getent passwd ${name} failed (exit ${out.code}): ${out.stderr.trim()}`);
  const account = parsePasswdLine(out.stdout.split('\n')[0] ?? '');
  return account?.name === name ? account : undefined;
}

/** Whether `name` is one the helper may act as: listed, or starting with an allowed prefix (and more than the prefix). */
export function accountAllowed(name: string, allowed: HelperConfig['accounts']): boolean {
  if (!ACCOUNT_NAME.test(name)) return false;
  return allowed.names.includes(name) || allowed.prefixes.some((p) => name.startsWith(p) && name.length > p.length);
}

/**
 * Which OS accounts the helper acts as, and the checks every call repeats: allowed by name or
 * prefix, uid at least min_uid, never root (uid or gid 0), never the daemon's own uid.
 */
export class AccountBook {
  private readonly cache = new Map<string, { account: Account; at: number }>();
  private creating: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: Pick<HelperConfig, 'accounts' | 'minUid' | 'createAccounts' | 'nodeRoot'>,
    /** The daemon's uid (the socket owner): never acted as. */
    private readonly daemonUid: number,
    private readonly lookup: (name: string) => Promise<Account | undefined> = lookupAccount,
  ) {}

  /** The checks on an account's identity, shared by every call. Throws NODE_HELPER_REFUSED. */
  check(account: Account): Account {
    const { name, uid, gid } = account;
    if (uid === 0 || gid === 0) throw refused(`account ${name} is root or in root's group (uid ${uid}, gid ${gid}); sky-node-helper never acts as root`);
    if (uid === this.daemonUid) throw refused(`account ${name} has the daemon's own uid ${uid}; jobs never run as the daemon`);
    if (uid < this.config.minUid) {
      throw refused(`account ${name} has uid ${uid}, below the helper's min_uid ${this.config.minUid}`, 'System accounts are refused; map sky users to ordinary accounts.');
    }
    return account;
  }

  private requireAllowed(name: string): void {
    if (!accountAllowed(name, this.config.accounts)) {
      const allowed = [...this.config.accounts.names, ...this.config.accounts.prefixes.map((p) => `${p}*`)].join(', ');
      throw refused(`account ${JSON.stringify(name)} is not one sky-node-helper may act as (allowed: ${allowed})`, 'Map sky users to allowed accounts in drivers.local.accounts, or allow the account in the helper config.');
    }
  }

  /** An allowed, existing account that passes the checks; NODE_HELPER_REFUSED otherwise. */
  async get(name: string): Promise<Account> {
    this.requireAllowed(name);
    const cached = this.cache.get(name);
    if (cached !== undefined && Date.now() - cached.at < CACHE_MS) return this.check(cached.account);
    const account = await this.lookup(name);
    if (account === undefined) {
      this.cache.delete(name);
      throw refused(`account ${name} does not exist`, this.config.createAccounts ? 'It is created by ensureAccount.' : 'Create it (useradd), or let the helper create accounts (create_accounts: true).');
    }
    this.cache.set(name, { account, at: Date.now() });
    return this.check(account);
  }

  /** Like get, but creates a missing allowed account when the helper may (useradd, no login shell). */
  async ensure(name: string): Promise<{ account: Account; created: boolean }> {
    this.requireAllowed(name);
    const existing = await this.lookup(name);
    if (existing !== undefined) {
      this.cache.set(name, { account: existing, at: Date.now() });
      return { account: this.check(existing), created: false };
    }
    if (!this.config.createAccounts) {
      throw refused(`account ${name} does not exist and sky-node-helper may not create accounts`, 'Create it (useradd), or set create_accounts: true in the helper config.');
    }
    // One useradd at a time: they all take /etc/passwd's lock.
    const run = this.creating.then(() => this.create(name));
    this.creating = run.catch(() => undefined);
    return run;
  }

  private async create(name: string): Promise<{ account: Account; created: boolean }> {
    const again = await this.lookup(name);
    if (again !== undefined) return { account: this.check(again), created: false };
    const shell = NOLOGIN_SHELLS.find((s) => existsSync(s)) ?? '/bin/false';
    const args = ['--no-create-home', '--home-dir', join(this.config.nodeRoot, name), '--shell', shell, '--user-group', '-K', `UID_MIN=${this.config.minUid}`, '-K', `GID_MIN=${this.config.minUid}`, name];
    for (let attempt = 0; ; attempt++) {
      const out = await execText('useradd', args);
      if (out.code === 0) break;
      if (out.code === 9) break; // created meanwhile by someone else
      if (out.code === USERADD_BUSY && attempt < 40) {
        await sleep(100 + Math.floor(Math.random() * 150));
        continue;
      }
      throw new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: useradd ${name} failed (exit ${out.code}): ${out.stderr.trim() || out.stdout.trim()}`);
    }
    const account = await this.lookup(name);
    if (account === undefined) throw new SkyError('NODE_RUNTIME_ERROR', `sky-node-helper: account ${name} was created but cannot be looked up`);
    this.cache.set(name, { account, at: Date.now() });
    return { account: this.check(account), created: true };
  }

  /** Forget cached entries (tests; after userdel). */
  forget(name?: string): void {
    if (name === undefined) this.cache.clear();
    else this.cache.delete(name);
  }
}

/** Account directories being made now: a second call for one waits for the first (between its mkdir and chown the directory is root's). */
const makingDirs = new Map<string, Promise<string>>();

/**
 * `<node root>/<account>`: made by root inside the root-owned node root (nothing there can be
 * swapped by an account), then given to the account, mode 0700. An existing one must be a real
 * directory the account owns: a directory left by a deleted account whose uid was reused is refused.
 * Calls for one account at once (its first clusters launched together) share one creation.
 */
export function ensureAccountDir(nodeRoot: string, account: Account): Promise<string> {
  const dir = join(nodeRoot, account.name);
  const making = makingDirs.get(dir);
  if (making !== undefined) return making;
  const made = makeAccountDir(dir, account).finally(() => makingDirs.delete(dir));
  makingDirs.set(dir, made);
  return made;
}

async function makeAccountDir(dir: string, account: Account): Promise<string> {
  try {
    await mkdir(dir, { mode: 0o700 });
    await chown(dir, account.uid, account.gid);
    await chmod(dir, 0o700);
    return dir;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const st = await lstat(dir);
  if (!st.isDirectory()) throw refused(`${dir} exists and is not a directory`, `Remove ${dir}; the helper recreates it.`);
  if (st.uid !== account.uid) {
    throw refused(`${dir} belongs to uid ${st.uid}, not to account ${account.name} (uid ${account.uid})`, `An older account of that name left it; move ${dir} aside or chown it to ${account.name}.`);
  }
  return dir;
}
