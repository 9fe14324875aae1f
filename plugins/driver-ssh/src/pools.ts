import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { formatPath, SkyError } from '@sky/protocol/wire';
import { expandTokens, loadSshConfig, localUser, type SshConfigFile } from './ssh-config.js';

/** Keys of a pool in ssh_node_pools.yaml (SkyPilot's shape). */
export const POOL_KEYS = ['user', 'identity_file', 'password', 'hosts'] as const;
/** Keys of a host given as a mapping; `port` is sky's extension. */
export const HOST_KEYS = ['ip', 'user', 'identity_file', 'password', 'port'] as const;

/** Pool names become `--infra ssh/<pool>` and part of node ids. */
const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** A host name, an IPv4 address or an ssh config alias; IPv6 is checked apart. */
const HOST_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/** One host of a pool as written, before ~/.ssh/config is consulted. */
export interface HostSpec {
  /** Position in the pool's `hosts` list, from 0. */
  index: number;
  /** The IP or alias as written (`ip` of a mapping). */
  name: string;
  user?: string;
  identityFile?: string;
  password?: string;
  port?: number;
  /** Where it was written, for messages: `file:line:col` or `drivers.ssh.pools.<pool>.hosts[i]`. */
  where: string;
}

/** One pool as written. */
export interface PoolSpec {
  name: string;
  user?: string;
  identityFile?: string;
  password?: string;
  hosts: HostSpec[];
  /** The file it comes from, or `drivers.<id>.pools`. */
  source: string;
  where: string;
}

/** A problem with a pool definition: the path inside the pools mapping, and what is wrong. */
export interface PoolIssue {
  path: (string | number)[];
  problem: string;
  /** Whether the key (unknown, badly named, lacking something) or its value is at fault. */
  at: 'key' | 'value';
}

/** Where a path of the pools mapping is written; used to prefix problems. */
export type Locate = (path: (string | number)[], at: 'key' | 'value') => string;

function describe(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return value === '' ? 'an empty string' : JSON.stringify(value);
  if (typeof value === 'number') return `the number ${value}`;
  return JSON.stringify(value) ?? String(value);
}

function kind(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  return `a ${typeof value}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `name` cannot be a pool host, or undefined when it can. */
function hostNameProblem(name: string): string | undefined {
  if (name.trim() === '') return 'expected an IP address or a ~/.ssh/config alias, got an empty string';
  const at = name.indexOf('@');
  if (at > 0) return `${JSON.stringify(name)} names a user: write {ip: ${name.slice(at + 1)}, user: ${name.slice(0, at)}}`;
  const colons = name.split(':').length - 1;
  if (colons === 1) {
    const [host, port] = name.split(':');
    return `${JSON.stringify(name)} names a port: write {ip: ${host}, port: ${port}}`;
  }
  if (colons >= 2) return /^[0-9A-Fa-f:.]+(?:%[A-Za-z0-9]+)?$/.test(name) ? undefined : `${JSON.stringify(name)} is not an IP address or host name`;
  return HOST_NAME.test(name) ? undefined : `${JSON.stringify(name)} is not an IP address or host name`;
}

function checkUser(value: unknown, path: (string | number)[], issues: PoolIssue[]): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '' || /\s|@/.test(value)) {
    issues.push({ path, problem: `expected a user name, got ${typeof value === 'string' && value !== '' ? JSON.stringify(value) : kind(value)}`, at: 'value' });
    return undefined;
  }
  return value;
}

function checkIdentity(value: unknown, path: (string | number)[], issues: PoolIssue[], home: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    issues.push({ path, problem: `expected the path of a private key, got ${kind(value)}`, at: 'value' });
    return undefined;
  }
  if (value !== '~' && !value.startsWith('~/') && !isAbsolute(value)) {
    issues.push({ path, problem: `expected an absolute path or one starting with ~/, got ${JSON.stringify(value)}`, at: 'value' });
    return undefined;
  }
  return value === '~' ? home : value.startsWith('~/') ? join(home, value.slice(2)) : value;
}

function checkPassword(value: unknown, path: (string | number)[], issues: PoolIssue[]): string | undefined {
  if (value === undefined) return undefined;
  // Never echo the value: it is a secret even when it is of the wrong type.
  if (typeof value !== 'string' || value === '') {
    issues.push({ path, problem: `expected a password string, got ${kind(value)}`, at: 'value' });
    return undefined;
  }
  return value;
}

function checkPort(value: unknown, path: (string | number)[], issues: PoolIssue[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    issues.push({ path, problem: `expected a port number (1-65535), got ${describe(value)}`, at: 'value' });
    return undefined;
  }
  return value;
}

/** The host's name in node ids and messages: the IP or alias, with `:port` when the pool file gives one. */
export function hostLabel(spec: Pick<HostSpec, 'name' | 'port'>): string {
  return spec.port === undefined ? spec.name : `${spec.name}:${spec.port}`;
}

/**
 * Check a pools mapping (`<pool>: {user, identity_file, password, hosts}`), as read from
 * ssh_node_pools.yaml or from the `pools` key of the driver's config block. Returns the pools
 * that are well-formed and every problem found, each at a path inside the mapping.
 */
export function checkPools(value: unknown, source: string, locate: Locate, home: string = homedir()): { pools: PoolSpec[]; issues: PoolIssue[] } {
  const issues: PoolIssue[] = [];
  const pools: PoolSpec[] = [];
  if (value === undefined || value === null) return { pools, issues };
  if (!isRecord(value)) {
    issues.push({ path: [], problem: `expected a mapping of pool names to pools, got ${kind(value)}`, at: 'value' });
    return { pools, issues };
  }
  for (const [name, raw] of Object.entries(value)) {
    const before = issues.length;
    if (!POOL_NAME.test(name)) {
      issues.push({ path: [name], problem: 'invalid pool name: use letters, digits, ".", "_" and "-" (it is written as --infra ssh/<pool>)', at: 'key' });
    }
    if (!isRecord(raw)) {
      issues.push({ path: [name], problem: `expected a mapping with hosts (and optionally user, identity_file, password), got ${kind(raw)}`, at: 'value' });
      continue;
    }
    for (const key of Object.keys(raw)) {
      if (!(POOL_KEYS as readonly string[]).includes(key)) {
        issues.push({ path: [name, key], problem: `unknown key; a pool takes ${POOL_KEYS.join(', ')}`, at: 'key' });
      }
    }
    const pool: PoolSpec = { name, hosts: [], source, where: locate([name], 'key') };
    const user = checkUser(raw['user'], [name, 'user'], issues);
    const identityFile = checkIdentity(raw['identity_file'], [name, 'identity_file'], issues, home);
    const password = checkPassword(raw['password'], [name, 'password'], issues);
    if (user !== undefined) pool.user = user;
    if (identityFile !== undefined) pool.identityFile = identityFile;
    if (password !== undefined) pool.password = password;

    const hosts = raw['hosts'];
    if (hosts === undefined) {
      issues.push({ path: [name], problem: "hosts is missing: list the pool's hosts (IP addresses or ~/.ssh/config aliases)", at: 'key' });
    } else if (!Array.isArray(hosts)) {
      issues.push({ path: [name, 'hosts'], problem: `expected a list of hosts, got ${kind(hosts)}`, at: 'value' });
    } else if (hosts.length === 0) {
      issues.push({ path: [name, 'hosts'], problem: 'the list is empty: list at least one host', at: 'value' });
    } else {
      const seen = new Map<string, number>();
      hosts.forEach((host: unknown, index) => {
        const spec = checkHost(host, [name, 'hosts', index], issues, home, locate);
        if (spec === undefined) return;
        const label = hostLabel(spec);
        const earlier = seen.get(label);
        if (earlier !== undefined) {
          issues.push({ path: [name, 'hosts', index], problem: `${label} is listed twice in the pool (also hosts[${earlier}])`, at: 'value' });
          return;
        }
        seen.set(label, index);
        pool.hosts.push(spec);
      });
    }
    if (issues.length === before) pools.push(pool);
  }
  return { pools, issues };
}

function checkHost(raw: unknown, path: (string | number)[], issues: PoolIssue[], home: string, locate: Locate): HostSpec | undefined {
  const index = path[path.length - 1] as number;
  const where = locate(path, 'value');
  if (typeof raw === 'string') {
    const problem = hostNameProblem(raw);
    if (problem !== undefined) {
      issues.push({ path, problem, at: 'value' });
      return undefined;
    }
    return { index, name: raw, where };
  }
  if (!isRecord(raw)) {
    issues.push({ path, problem: `expected an IP address, a ~/.ssh/config alias or a mapping with ip, got ${kind(raw)}`, at: 'value' });
    return undefined;
  }
  const before = issues.length;
  for (const key of Object.keys(raw)) {
    if (!(HOST_KEYS as readonly string[]).includes(key)) {
      issues.push({ path: [...path, key], problem: `unknown key; a host takes ${HOST_KEYS.join(', ')}`, at: 'key' });
    }
  }
  const ip = raw['ip'];
  let name: string | undefined;
  if (ip === undefined) {
    issues.push({ path, problem: "ip is missing: give the host's IP address or ~/.ssh/config alias", at: 'value' });
  } else if (typeof ip !== 'string') {
    issues.push({ path: [...path, 'ip'], problem: `expected an IP address or a ~/.ssh/config alias, got ${describe(ip)}`, at: 'value' });
  } else {
    const problem = hostNameProblem(ip);
    if (problem !== undefined) issues.push({ path: [...path, 'ip'], problem, at: 'value' });
    else name = ip;
  }
  const user = checkUser(raw['user'], [...path, 'user'], issues);
  const identityFile = checkIdentity(raw['identity_file'], [...path, 'identity_file'], issues, home);
  const password = checkPassword(raw['password'], [...path, 'password'], issues);
  const port = checkPort(raw['port'], [...path, 'port'], issues);
  if (issues.length > before || name === undefined) return undefined;
  const spec: HostSpec = { index, name, where };
  if (user !== undefined) spec.user = user;
  if (identityFile !== undefined) spec.identityFile = identityFile;
  if (password !== undefined) spec.password = password;
  if (port !== undefined) spec.port = port;
  return spec;
}

/** `pool gpu-a: hosts[1].port` for a path inside the pools mapping. */
export function describePoolPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '';
  const [pool, ...rest] = path;
  const inner = formatPath(rest);
  return inner === '' ? `pool ${String(pool)}` : `pool ${String(pool)}: ${inner}`;
}

/** A pool problem as one line: `<where>: pool gpu-a: hosts[1].port: expected …`. */
export function renderIssue(issue: PoolIssue, locate: Locate): string {
  const where = locate(issue.path, issue.at);
  const what = describePoolPath(issue.path);
  return [where, what, issue.problem].filter((part) => part !== '').join(': ');
}

/** Where a path of a YAML document is written, as `file:line:col` (1-based), falling back to the nearest parent that exists. */
export function yamlLocator(file: string, doc: Document, lines: LineCounter): Locate {
  const position = (offset: number): string => {
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  const locate: Locate = (path, at) => {
    if (path.length === 0) {
      const start = doc.contents?.range?.[0] ?? 0;
      return position(start);
    }
    if (at === 'key') {
      const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
      if (isMap(parent)) {
        const last = path[path.length - 1];
        const pair = parent.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(last));
        const key = pair?.key as YamlNode | undefined;
        if (key?.range) return position(key.range[0]);
      }
      return locate(path.slice(0, -1), 'value');
    }
    const node = doc.getIn(path, true) as YamlNode | undefined;
    if (node !== undefined && node !== null && typeof node === 'object' && 'range' in node && node.range) return position(node.range[0]);
    return locate(path, 'key');
  };
  return locate;
}

/** A locator for pools given inline in the daemon config: `drivers.ssh.pools.gpu-a.hosts[1]`. */
export function configLocator(prefix: string): Locate {
  return (path) => {
    const rendered = formatPath(path);
    return rendered === '' ? prefix : rendered.startsWith('[') ? `${prefix}${rendered}` : `${prefix}.${rendered}`;
  };
}

/** The pools of an ssh_node_pools.yaml text; `problems` are complete lines (`file:line:col: pool …: …`). */
export function parsePoolsYaml(text: string, file: string, home: string = homedir()): { pools: PoolSpec[]; problems: string[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const message = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
      return `${file}${pos ? `:${pos.line}:${pos.col}` : ''}: ${message}`;
    });
    return { pools: [], problems };
  }
  const locate = yamlLocator(file, doc, lines);
  const { pools, issues } = checkPools(doc.toJS(), file, locate, home);
  return { pools, problems: issues.map((i) => renderIssue(i, locate)) };
}

/** One host of a pool, resolved the way `ssh` would reach it. */
export interface PoolHost {
  pool: string;
  /** Position in the pool's hosts list, from 0. */
  index: number;
  /** The IP or alias as written, with `:port` when the pool file gives a port. */
  label: string;
  /** Node id of the host when a cluster holds it: `<pool>/<label>`. */
  id: string;
  /** Where ssh connects: the alias's HostName, else the name as written. */
  host: string;
  port: number;
  user: string;
  identityFile?: string;
  /** `user@host:port[,user@host:port…]`, each hop resolved through the ssh config. */
  proxyJump?: string;
  /** Only where key auth is impossible; never logged or persisted by the driver. */
  password?: string;
  /** Identity of the machine for allocation: `host:port` (+ ` via <jump>`); a host in two pools is still held once. */
  endpoint: string;
  /** Where the pool file names it. */
  where: string;
}

export interface Pool {
  name: string;
  source: string;
  hosts: PoolHost[];
}

/** How pool hosts are completed from ~/.ssh/config and the environment. */
export interface ResolveContext {
  sshConfig: SshConfigFile;
  localUser?: string;
  home?: string;
}

function bracket(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** `[user@]host[:port]` or `ssh://[user@]host[:port]`, IPv6 in brackets. */
function parseHop(text: string): { user?: string; host: string; port?: number } | undefined {
  const m = /^(?:ssh:\/\/)?(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s[\]]+)(?::(\d+))?\/?$/.exec(text.trim());
  if (m === null || m[2] === undefined) return undefined;
  const hop: { user?: string; host: string; port?: number } = { host: m[2].replace(/^\[|\]$/g, '') };
  if (m[1] !== undefined) hop.user = m[1];
  if (m[3] !== undefined) hop.port = Number(m[3]);
  return hop;
}

/**
 * ProxyJump as the daemon takes it: every hop as `user@host:port`, with the hop's own HostName,
 * User and Port from the ssh config where the hop does not give them (as OpenSSH does).
 */
function resolveProxyJump(value: string, ctx: Required<ResolveContext>): string | { problem: string } | undefined {
  if (value.trim().toLowerCase() === 'none') return undefined;
  const hops: string[] = [];
  for (const part of value.split(',')) {
    const hop = parseHop(part);
    if (hop === undefined) return { problem: `ProxyJump ${JSON.stringify(value)} is not [user@]host[:port][,…]` };
    const entry = ctx.sshConfig.lookup(hop.host);
    const host = entry.hostName === undefined ? hop.host : expandTokens(entry.hostName, { host: hop.host, original: hop.host, port: 22, user: '', localUser: ctx.localUser, home: ctx.home });
    const port = hop.port ?? (entry.port === undefined ? 22 : Number(entry.port));
    if (!Number.isInteger(port) || port < 1 || port > 65535) return { problem: `the jump host ${hop.host} has Port ${JSON.stringify(entry.port)}, not a port number` };
    const user = hop.user ?? entry.user ?? ctx.localUser;
    hops.push(`${user}@${bracket(host)}:${port}`);
  }
  return hops.join(',');
}

/**
 * Complete one host the way `ssh` does when given the pool file's values as command-line
 * options (`ssh -l USER -i KEY -p PORT NAME`): a value on the host's own mapping wins, then the
 * pool's default, then what ~/.ssh/config says for NAME (first matching Host block wins, `Host *`
 * included), then OpenSSH's defaults (the local user name, port 22). HostName and ProxyJump come
 * only from the ssh config.
 */
export function resolveHost(pool: PoolSpec, spec: HostSpec, ctx: ResolveContext): PoolHost | { problem: string } {
  const full: Required<ResolveContext> = { sshConfig: ctx.sshConfig, localUser: ctx.localUser ?? localUser(), home: ctx.home ?? homedir() };
  const entry = full.sshConfig.lookup(spec.name);
  if (entry.proxyCommand !== undefined && entry.proxyJump === undefined) {
    return { problem: `${full.sshConfig.path ?? 'the ssh config'} gives it a ProxyCommand, which sky cannot use; reach it with ProxyJump instead` };
  }
  let port = spec.port;
  if (port === undefined && entry.port !== undefined) {
    const n = Number(entry.port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) return { problem: `${full.sshConfig.path ?? 'the ssh config'} gives it Port ${JSON.stringify(entry.port)}, not a port number` };
    port = n;
  }
  port ??= 22;
  const user = spec.user ?? pool.user ?? entry.user ?? full.localUser;
  const host = entry.hostName === undefined ? spec.name : expandTokens(entry.hostName, { host: spec.name, original: spec.name, port, user, localUser: full.localUser, home: full.home });
  const tokens = { host, original: spec.name, port, user, localUser: full.localUser, home: full.home };
  const identityFile = spec.identityFile ?? pool.identityFile ?? (entry.identityFiles[0] === undefined ? undefined : expandTokens(entry.identityFiles[0], tokens));
  let proxyJump: string | undefined;
  if (entry.proxyJump !== undefined) {
    const jump = resolveProxyJump(entry.proxyJump, full);
    if (typeof jump === 'object') return jump;
    proxyJump = jump;
  }
  const label = hostLabel(spec);
  const resolved: PoolHost = {
    pool: pool.name,
    index: spec.index,
    label,
    id: `${pool.name}/${label}`,
    host,
    port,
    user,
    endpoint: `${host}:${port}${proxyJump === undefined ? '' : ` via ${proxyJump}`}`,
    where: spec.where,
  };
  if (identityFile !== undefined) resolved.identityFile = identityFile;
  if (proxyJump !== undefined) resolved.proxyJump = proxyJump;
  const password = spec.password ?? pool.password;
  if (password !== undefined) resolved.password = password;
  return resolved;
}

/** Resolve every host of the pools; `problems` are complete lines naming the pool, host and where it is written. */
export function resolvePools(specs: readonly PoolSpec[], ctx: ResolveContext): { pools: Pool[]; problems: string[] } {
  const pools: Pool[] = [];
  const problems: string[] = [];
  for (const spec of specs) {
    const pool: Pool = { name: spec.name, source: spec.source, hosts: [] };
    const byEndpoint = new Map<string, PoolHost>();
    for (const hostSpec of spec.hosts) {
      const what = `${hostSpec.where}: pool ${spec.name}: hosts[${hostSpec.index}] (${hostLabel(hostSpec)})`;
      const resolved = resolveHost(spec, hostSpec, ctx);
      if ('problem' in resolved) {
        problems.push(`${what}: ${resolved.problem}`);
        continue;
      }
      const twin = byEndpoint.get(resolved.endpoint);
      if (twin !== undefined) {
        problems.push(`${what}: reaches ${resolved.endpoint}, as hosts[${twin.index}] (${twin.label}) does; list each machine once`);
        continue;
      }
      byEndpoint.set(resolved.endpoint, resolved);
      pool.hosts.push(resolved);
    }
    pools.push(pool);
  }
  return { pools, problems };
}

/** Where the pools come from and how to read them (the validated driver config carries these). */
export interface PoolSources {
  /** ssh_node_pools.yaml. */
  poolsFile: string;
  /** Whether the config named it (then it must exist). */
  poolsFileExplicit: boolean;
  /** Pools from the driver's config block, already checked. */
  inlinePools: PoolSpec[];
  sshConfig: string;
  sshConfigExplicit: boolean;
}

/**
 * Read and resolve every pool: the pools file (if it exists, or must), the inline pools, and
 * ~/.ssh/config for the aliases. Throws SkyError `CONFIG_INVALID` listing every problem, each
 * naming the pool, the host's index and key, and `file:line:col` for the pools file.
 */
export async function loadPools(sources: PoolSources, home: string = homedir()): Promise<Pool[]> {
  const problems: string[] = [];
  let fromFile: PoolSpec[] = [];
  let text: string | undefined;
  try {
    text = await readFile(sources.poolsFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || sources.poolsFileExplicit) {
      throw new SkyError('CONFIG_INVALID', `ssh driver: cannot read the SSH node pools file ${sources.poolsFile}: ${(error as Error).message}`, {
        hint: code === 'ENOENT' ? 'Create it (see the sky-driver-ssh README for its shape), or fix pools_file in the driver config.' : 'Make it readable by the user the daemon runs as.',
        details: { file: sources.poolsFile },
      });
    }
  }
  if (text !== undefined) {
    const parsed = parsePoolsYaml(text, sources.poolsFile, home);
    fromFile = parsed.pools;
    problems.push(...parsed.problems);
  }
  const names = new Map<string, PoolSpec>();
  for (const pool of [...sources.inlinePools, ...fromFile]) {
    const other = names.get(pool.name);
    if (other !== undefined) {
      problems.push(`${pool.where}: pool ${pool.name} is also defined at ${other.where}; give one of them another name`);
      continue;
    }
    names.set(pool.name, pool);
  }
  let sshConfig: SshConfigFile;
  try {
    sshConfig = await loadSshConfig(sources.sshConfig, sources.sshConfigExplicit, home);
  } catch (error) {
    problems.push((error as Error).message);
    throw invalidPools(problems, sources);
  }
  const { pools, problems: resolveProblems } = resolvePools([...names.values()], { sshConfig, home });
  problems.push(...resolveProblems);
  if (problems.length > 0) throw invalidPools(problems, sources);
  return pools;
}

function invalidPools(problems: string[], sources: PoolSources): SkyError {
  const head = problems.length === 1 ? 'the SSH node pools are invalid' : `the SSH node pools have ${problems.length} problems`;
  return new SkyError('CONFIG_INVALID', `ssh driver: ${head}: ${problems.join('; ')}`, {
    hint: `Fix ${sources.poolsFile}${sources.inlinePools.length > 0 ? ' and the pools in the driver config' : ''} as each problem says; pools are read again on the next command.`,
    details: { problems },
  });
}
