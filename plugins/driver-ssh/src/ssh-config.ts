import { readdir, readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import SSHConfig from 'ssh-config';

/**
 * What OpenSSH's client config says about one host name, limited to what sky uses: HostName,
 * User, Port, IdentityFile (every one, in order) and ProxyJump; ProxyCommand is reported so a
 * host that needs it can be refused with a reason (the daemon's SSH connections cannot run one).
 */
export interface SshConfigEntry {
  hostName?: string;
  user?: string;
  /** As written: a number when the file is right. */
  port?: string;
  identityFiles: string[];
  proxyJump?: string;
  proxyCommand?: string;
}

/** A parsed `~/.ssh/config` (with its Includes inlined), ready to answer for host names. */
export interface SshConfigFile {
  /** The file it was read from (undefined for an empty/absent config). */
  path: string | undefined;
  lookup(host: string): SshConfigEntry;
}

const MAX_INCLUDE_DEPTH = 16;

function expandTilde(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Paths an Include argument names: `~` expanded, relative to `baseDir`, `*`/`?` in the last component globbed (sorted, as glob(3)). */
async function includePaths(arg: string, baseDir: string, home: string): Promise<string[]> {
  let path = expandTilde(arg, home);
  if (!isAbsolute(path)) path = join(baseDir, path);
  const name = basename(path);
  if (!/[*?]/.test(name)) return [path];
  const dir = dirname(path);
  const re = globToRegExp(name);
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries
    .filter((e) => re.test(e) && !e.startsWith('.'))
    .sort()
    .map((e) => join(dir, e));
}

function splitArgs(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2] ?? '');
  return out;
}

/**
 * The text of an ssh config with every `Include` replaced by the files it names, as OpenSSH
 * reads them: relative paths are relative to the directory of the top-level config (`~/.ssh` for
 * the user's), and an Include inside a Host block is read as part of that block. Missing files
 * are skipped, as OpenSSH does.
 */
async function inlineIncludes(text: string, baseDir: string, home: string, depth: number): Promise<string> {
  const lines = text.split(/\r?\n/);
  const out: string[] = [];
  for (const line of lines) {
    const m = /^\s*include(?:\s*=\s*|\s+)(.+?)\s*$/i.exec(line);
    if (m?.[1] === undefined) {
      out.push(line);
      continue;
    }
    if (depth >= MAX_INCLUDE_DEPTH) throw new Error(`Include nested more than ${MAX_INCLUDE_DEPTH} deep`);
    for (const arg of splitArgs(m[1])) {
      for (const path of await includePaths(arg, baseDir, home)) {
        const included = await readFile(path, 'utf8').catch(() => undefined);
        if (included !== undefined) out.push(await inlineIncludes(included, baseDir, home, depth + 1));
      }
    }
  }
  return out.join('\n');
}

function first(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value[0] : value;
}

/** An ssh config with nothing in it: every lookup comes back empty. */
export const EMPTY_SSH_CONFIG: SshConfigFile = { path: undefined, lookup: () => ({ identityFiles: [] }) };

/** Parse ssh config text (Includes already inlined). `Match exec` is never run. */
export function parseSshConfig(text: string, path?: string): SshConfigFile {
  const config = SSHConfig.parse(text);
  return {
    path,
    lookup(host: string): SshConfigEntry {
      const computed = config.compute(host, { ignoreCase: true, matchExec: false });
      const entry: SshConfigEntry = { identityFiles: [] };
      const hostName = first(computed['hostname']);
      const user = first(computed['user']);
      const port = first(computed['port']);
      const proxyJump = first(computed['proxyjump']);
      const proxyCommand = computed['proxycommand'];
      if (hostName !== undefined) entry.hostName = hostName;
      if (user !== undefined) entry.user = user;
      if (port !== undefined) entry.port = port;
      if (proxyJump !== undefined) entry.proxyJump = proxyJump;
      if (proxyCommand !== undefined) entry.proxyCommand = Array.isArray(proxyCommand) ? proxyCommand.join(' ') : proxyCommand;
      const identity = computed['identityfile'];
      if (identity !== undefined) entry.identityFiles = Array.isArray(identity) ? [...identity] : [identity];
      return entry;
    },
  };
}

/**
 * Read an ssh config file (with its Includes). A file that does not exist reads as empty unless
 * `mustExist`; then, as any unreadable file, it throws an Error naming the path.
 */
export async function loadSshConfig(path: string, mustExist: boolean, home: string = homedir()): Promise<SshConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !mustExist) return EMPTY_SSH_CONFIG;
    throw new Error(`cannot read the ssh config ${path}: ${(error as Error).message}`);
  }
  return parseSshConfig(await inlineIncludes(text, dirname(path), home, 0), path);
}

/** The local user name, as ssh uses it when nothing names a user. */
export function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env['USER'] ?? process.env['LOGNAME'] ?? 'root';
  }
}

/** Values the `%` tokens of ssh_config(5) stand for, as far as HostName, IdentityFile and ProxyJump use them. */
export interface TokenValues {
  /** %h: the remote host name (after HostName). */
  host: string;
  /** %n: the name as given (the alias). */
  original: string;
  /** %p */
  port: number;
  /** %r */
  user: string;
  /** %u */
  localUser: string;
  /** %d */
  home: string;
}

/** Expand `%%`, `%h`, `%n`, `%p`, `%r`, `%u`, `%d` and a leading `~`. Unknown tokens are left as written. */
export function expandTokens(text: string, values: TokenValues): string {
  const expanded = text.replace(/%([%hnprud])/g, (whole, token: string) => {
    switch (token) {
      case '%':
        return '%';
      case 'h':
        return values.host;
      case 'n':
        return values.original;
      case 'p':
        return String(values.port);
      case 'r':
        return values.user;
      case 'u':
        return values.localUser;
      case 'd':
        return values.home;
      default:
        return whole;
    }
  });
  return expandTilde(expanded, values.home);
}
