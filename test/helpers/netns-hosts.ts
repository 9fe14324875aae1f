/**
 * SSH hosts for tests, started by the tests themselves.
 *
 * Namespace mode (root, `ip netns` permitted — always on CI): each host is a network namespace
 * `sky-t<pid>-<i>` whose `eth0` is one end of a veth pair; the other end is a port of a bridge in
 * the root namespace. The bridge and the hosts get addresses in one private /24
 * (10.201.<x>.0/24, x claimed atomically per run so parallel test files never share one) that
 * exists only on those interfaces; nothing else is routed. Each host runs its own
 * `/usr/sbin/sshd -D -f <own config>` inside its namespace, with its own ed25519 host key,
 * key-only auth against a test key pair made here, and its own port (2201, 2202, ...).
 * The login user is root, with a HOME of its own per host, `<dir>/host-<i>/home`, so commands
 * and SFTP paths relative to it land in a directory of that host only: a ForceCommand sets HOME
 * and the starting directory (as in loopback mode), and `ip netns exec` also bind-mounts
 * /etc/netns/<ns>/passwd over /etc/passwd for that namespace. The ForceCommand is what holds:
 * a bind mount over a file in another mount namespace is dropped when the file is replaced, and
 * useradd/userdel (run by tests of OS accounts in parallel) replace /etc/passwd and /etc/shadow. `cutLink(i)` takes the host's veth down (a lost host: packets
 * vanish, nothing answers), `restoreLink(i)` brings it back.
 *
 * Loopback fallback (not root, or namespaces refused; or SKY_TEST_SSH_HOSTS=loopback): sshd on
 * 127.0.0.<10+i> with a free port each, logging in as the current user; a ForceCommand gives each
 * host its own HOME (and starting directory for commands and SFTP) under the temp dir, and
 * `cutLink` freezes the host's sshd processes with SIGSTOP. It says so with console.warn. Under
 * CI=true the fallback is an error: the namespace path must run there.
 *
 * Everything is named with the test process's pid, so runs in parallel never collide, and
 * `cleanupStale()` removes what runs whose process is dead left behind. `destroy()` kills the
 * sshd processes (and every process in the namespaces) by PID, then deletes namespaces, veths,
 * the bridge and the temp directory by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { alive, descendants, freePort, isRoot, sh, signal } from './os.js';

const SSHD = '/usr/sbin/sshd';
const SUBNET_PREFIX = '10.201';
const FIRST_PORT = 2201;
const CLAIMS_DIR = join(tmpdir(), 'sky-netns-claims');
const DIR_PREFIX = 'sky-hosts-';

export interface TestHost {
  /** `host-<i>` */
  name: string;
  ip: string;
  port: number;
  user: string;
  /** The test private key (the same for every host of a set). */
  identityFile: string;
  /** This host's line for a known_hosts file: `[ip]:port ssh-ed25519 AAAA...`. */
  knownHostsLine: string;
  /** The login user's home on this host. */
  home: string;
  /** The network namespace (namespace mode only). */
  namespace: string | undefined;
  /** sshd's log (LogLevel VERBOSE). */
  logFile: string;
  sshdPid: number;
}

export interface TestHosts {
  mode: 'netns' | 'loopback';
  hosts: TestHost[];
  /** The temp directory holding keys, configs, logs and homes. */
  dir: string;
  /** A known_hosts file with every host's line. */
  knownHostsFile: string;
  /** Make host i unreachable: its link goes down (namespace mode) or its sshd processes are frozen (loopback). */
  cutLink(i: number): Promise<void>;
  restoreLink(i: number): Promise<void>;
  /** Established TCP connections to host i's sshd right now. */
  connectionCount(i: number): Promise<number>;
  /** Kill by PID, delete by name. Safe to call twice. */
  destroy(): Promise<void>;
}

export interface CreateHostsOptions {
  /** `auto` (default): namespaces when permitted, else loopback with a warning (an error under CI=true). */
  mode?: 'auto' | 'netns' | 'loopback';
  /** Every host logs in to one home directory, `<dir>/shared-home` (like NFS-mounted homes of a lab pool). */
  sharedHome?: boolean;
}

let sequence = 0;

/** Short, parseable link names: sk<kind><pid base 36>-<seq base 36>[-<i base 36>] (at most 15 characters). */
function linkName(kind: 'b' | 'v' | 'p', pid: number, seq: number, i?: number): string {
  const name = `sk${kind}${pid.toString(36)}-${seq.toString(36)}${i === undefined ? '' : `-${i.toString(36)}`}`;
  if (name.length > 15) throw new Error(`interface name ${name} is too long`);
  return name;
}

function namespaceName(pid: number, seq: number, i: number): string {
  return seq === 0 ? `sky-t${pid}-${i}` : `sky-t${pid}s${seq}-${i}`;
}

/**
 * Claim a /24 no one else uses: a directory per third octet holding the owner's pid, made
 * whole under a temporary name and renamed into place (atomic: of two runs, one wins).
 */
async function claimSubnet(): Promise<{ octet: number; release: () => void }> {
  mkdirSync(CLAIMS_DIR, { recursive: true });
  const routes = (await sh('ip', ['-4', 'route', 'show'])).stdout;
  const start = (process.pid + sequence * 17) % 254;
  for (let k = 0; k < 254; k++) {
    const octet = ((start + k) % 254) + 1;
    if (routes.includes(`${SUBNET_PREFIX}.${octet}.`)) continue;
    const claim = join(CLAIMS_DIR, String(octet));
    const owner = Number(readFileSafe(join(claim, 'pid')));
    if (owner && owner !== process.pid && !alive(owner)) rmSync(claim, { recursive: true, force: true });
    const pending = join(CLAIMS_DIR, `.${process.pid}-${octet}`);
    mkdirSync(pending, { recursive: true });
    writeFileSync(join(pending, 'pid'), String(process.pid));
    try {
      renameSync(pending, claim);
    } catch {
      rmSync(pending, { recursive: true, force: true });
      continue;
    }
    return { octet, release: () => rmSync(claim, { recursive: true, force: true }) };
  }
  throw new Error(`no free ${SUBNET_PREFIX}.x.0/24 subnet for test hosts`);
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

async function keygen(file: string, comment: string): Promise<void> {
  await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

function sshdConfig(dir: string, listen: string, port: number, authorizedKeys: string, extra: string[] = []): string {
  return [
    `Port ${port}`,
    `ListenAddress ${listen}`,
    `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'StrictModes no',
    'UsePAM no',
    'PrintMotd no',
    'PrintLastLog no',
    'LogLevel VERBOSE',
    'MaxStartups 100',
    // sshd runs the ForceCommand with the login user's shell. When a parallel useradd replaces
    // /etc/passwd, the namespace's passwd bind falls away and that shell is this machine's bash
    // with this machine's ~/.bashrc, which bash reads for ssh commands at shell level 1 only
    // (a pyenv or conda hook there can stall every login). SHLVL=1 makes the shell level 2.
    'SetEnv SHLVL=1',
    ...(extra.length > 0 ? extra : ['Subsystem sftp internal-sftp']),
    '',
  ].join('\n');
}

/** Wait until ip:port accepts TCP and speaks SSH, or the sshd process ended. */
async function waitForSshd(ip: string, port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd for ${ip}:${port} exited (${child.exitCode ?? child.signalCode}): ${readFileSafe(logFile).slice(-2000)}`);
    }
    const banner = await new Promise<string>((resolve) => {
      const socket = connect({ host: ip, port });
      let text = '';
      const done = (value: string): void => {
        socket.destroy();
        resolve(value);
      };
      socket.setTimeout(1000, () => done(''));
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.includes('\n')) done(text);
      });
      socket.on('error', () => done(''));
    });
    if (banner.startsWith('SSH-')) return;
    if (Date.now() > deadline) throw new Error(`sshd for ${ip}:${port} did not answer within 10 s: ${readFileSafe(logFile).slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function namespacesPermitted(): Promise<boolean> {
  if (!isRoot() || !existsSync(SSHD)) return false;
  const probe = `sky-t${process.pid}-probe`;
  const out = await sh('ip', ['netns', 'add', probe], { allowFail: true }).then(
    (r) => r,
    () => undefined,
  );
  const ok = out !== undefined && (await sh('ip', ['netns', 'list'])).stdout.split('\n').some((l) => l.split(' ')[0] === probe);
  await sh('ip', ['netns', 'del', probe], { allowFail: true });
  return ok;
}

/** Create `n` SSH hosts; see the file comment. Call destroy() in an after hook. */
export async function createHosts(n: number, options: CreateHostsOptions = {}): Promise<TestHosts> {
  if (!existsSync(SSHD)) {
    throw new Error(`${SSHD} is missing: install openssh-server (scripts/ci-setup.sh does it on Debian)`);
  }
  const ci = process.env.CI === 'true';
  const fromEnv = process.env.SKY_TEST_SSH_HOSTS;
  if (fromEnv !== undefined && fromEnv !== 'auto' && fromEnv !== 'netns' && fromEnv !== 'loopback') {
    throw new Error(`SKY_TEST_SSH_HOSTS must be auto, netns or loopback, not ${JSON.stringify(fromEnv)}`);
  }
  if (fromEnv === 'loopback' && ci) throw new Error('SKY_TEST_SSH_HOSTS=loopback is refused under CI=true: the namespace path must run there');
  let mode = options.mode ?? fromEnv ?? 'auto';
  if (mode === 'auto') {
    if (await namespacesPermitted()) mode = 'netns';
    else {
      const why = isRoot() ? '`ip netns add` is not permitted here' : 'not running as root';
      if (ci) throw new Error(`SSH test hosts need network namespaces on CI, but ${why}`);
      console.warn(
        `\n*** netns-hosts: ${why}: falling back to sshd on 127.0.0.x addresses (no real network isolation; cutLink freezes sshd instead of cutting a link) ***\n`,
      );
      mode = 'loopback';
    }
  }
  await cleanupStale();
  const seq = sequence++;
  const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const set = mode === 'netns' ? new NetnsHosts(dir, seq) : new LoopbackHosts(dir);
  set.sharedHome = options.sharedHome === true;
  try {
    await set.create(n);
  } catch (err) {
    await set.destroy();
    throw err;
  }
  return set;
}

abstract class HostSet implements TestHosts {
  abstract readonly mode: 'netns' | 'loopback';
  hosts: TestHost[] = [];
  readonly knownHostsFile: string;
  protected readonly identityFile: string;
  protected readonly children: ChildProcess[] = [];
  private destroyed = false;

  constructor(readonly dir: string) {
    this.knownHostsFile = join(dir, 'known_hosts');
    this.identityFile = join(dir, 'id_ed25519');
  }

  /** Set by createHosts before create(): one home for every host. */
  sharedHome = false;

  /** The login user's home on host i. */
  protected homeOf(i: number): string {
    return this.sharedHome ? join(this.dir, 'shared-home') : join(this.dir, `host-${i}`, 'home');
  }

  abstract create(n: number): Promise<void>;
  abstract cutLink(i: number): Promise<void>;
  abstract restoreLink(i: number): Promise<void>;
  abstract connectionCount(i: number): Promise<number>;
  protected abstract teardown(): Promise<void>;

  protected host(i: number): TestHost {
    const host = this.hosts[i];
    if (!host) throw new Error(`no test host ${i} (there are ${this.hosts.length})`);
    return host;
  }

  /** Keys, config and home of host i; returns the sshd config path. */
  protected async prepareHost(
    i: number,
    listen: string,
    port: number,
    home: string,
    extra: (hostDir: string) => Promise<string[]> = async () => [],
  ): Promise<{ hostDir: string; config: string; logFile: string; pubKey: string }> {
    const hostDir = join(this.dir, `host-${i}`);
    await mkdir(hostDir, { recursive: true });
    await mkdir(home, { recursive: true, mode: 0o700 });
    await keygen(join(hostDir, 'ssh_host_ed25519_key'), `host-${i}`);
    const authorizedKeys = join(hostDir, 'authorized_keys');
    await writeFile(authorizedKeys, await readFile(`${this.identityFile}.pub`, 'utf8'), { mode: 0o600 });
    const config = join(hostDir, 'sshd_config');
    await writeFile(config, sshdConfig(hostDir, listen, port, authorizedKeys, await extra(hostDir)));
    const pub = (await readFile(join(hostDir, 'ssh_host_ed25519_key.pub'), 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    return { hostDir, config, logFile: join(hostDir, 'sshd.log'), pubKey: pub };
  }

  protected async startSshd(argv: string[], ip: string, port: number, logFile: string): Promise<ChildProcess> {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, { stdio: 'ignore' });
    child.on('error', () => undefined);
    this.children.push(child);
    if (child.pid !== undefined) writeFileSync(join(this.dir, `sshd-${child.pid}.pid`), String(child.pid));
    await waitForSshd(ip, port, child, logFile);
    return child;
  }

  protected async writeKnownHosts(): Promise<void> {
    await writeFile(this.knownHostsFile, this.hosts.map((h) => h.knownHostsLine).join('\n') + '\n', { mode: 0o600 });
  }

  protected async makeClientKey(): Promise<void> {
    await keygen(this.identityFile, 'sky-test');
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.teardown();
    for (const child of this.children) {
      if (child.pid !== undefined) {
        for (const pid of descendants(child.pid)) signal(pid, 'SIGKILL');
        signal(child.pid, 'SIGKILL');
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

class NetnsHosts extends HostSet {
  readonly mode = 'netns' as const;
  private readonly bridge: string;
  private octet = 0;
  private releaseSubnet: (() => void) | undefined;
  private readonly namespaces: string[] = [];
  private readonly veths: string[] = [];

  constructor(
    dir: string,
    private readonly seq: number,
  ) {
    super(dir);
    this.bridge = linkName('b', process.pid, seq);
  }

  async create(n: number): Promise<void> {
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
    const claim = await claimSubnet();
    this.octet = claim.octet;
    this.releaseSubnet = claim.release;
    await this.makeClientKey();
    await sh('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${SUBNET_PREFIX}.${this.octet}.1/24`, 'dev', this.bridge]);
    await sh('ip', ['link', 'set', this.bridge, 'up']);
    const passwd = await readFile('/etc/passwd', 'utf8');
    this.hosts = await Promise.all(Array.from({ length: n }, (_, i) => this.createHost(i, passwd)));
    await this.writeKnownHosts();
  }

  private async createHost(i: number, passwd: string): Promise<TestHost> {
    const ns = namespaceName(process.pid, this.seq, i);
    const veth = linkName('v', process.pid, this.seq, i);
    const peer = linkName('p', process.pid, this.seq, i);
    const ip = `${SUBNET_PREFIX}.${this.octet}.${10 + i}`;
    const port = FIRST_PORT + i;
    await sh('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', peer]);
    this.veths.push(veth);
    await sh('ip', ['link', 'set', veth, 'master', this.bridge]);
    await sh('ip', ['link', 'set', veth, 'up']);
    await sh('ip', ['link', 'set', peer, 'netns', ns]);
    await sh('ip', ['-n', ns, 'link', 'set', peer, 'name', 'eth0']);
    await sh('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);

    const home = this.homeOf(i);
    // Root's home inside this namespace only: `ip netns exec` binds /etc/netns/<ns>/* over /etc.
    // The shadow file has no password hashes at all (key-only auth; '*' = no password, not locked).
    const etc = join('/etc/netns', ns);
    await mkdir(etc, { recursive: true });
    const users = passwd
      .split('\n')
      .filter((l) => l.includes(':'))
      .map((l) => {
        const f = l.split(':');
        if (f[0] === 'root') f[5] = home;
        return f.join(':');
      });
    await writeFile(join(etc, 'passwd'), users.join('\n') + '\n', { mode: 0o644 });
    await writeFile(join(etc, 'shadow'), users.map((l) => `${l.split(':')[0]}:*:19000:0:99999:7:::`).join('\n') + '\n', { mode: 0o640 });

    const { config, logFile, pubKey } = await this.prepareHost(i, '0.0.0.0', port, home, (hostDir) => forcedHome(hostDir, home));
    const child = await this.startSshd(['ip', 'netns', 'exec', ns, SSHD, '-D', '-f', config, '-E', logFile], ip, port, logFile);
    return {
      name: `host-${i}`,
      ip,
      port,
      user: 'root',
      identityFile: this.identityFile,
      knownHostsLine: `[${ip}]:${port} ${pubKey}`,
      home,
      namespace: ns,
      logFile,
      sshdPid: child.pid!,
    };
  }

  async cutLink(i: number): Promise<void> {
    this.host(i);
    await sh('ip', ['link', 'set', linkName('v', process.pid, this.seq, i), 'down']);
  }

  async restoreLink(i: number): Promise<void> {
    this.host(i);
    await sh('ip', ['link', 'set', linkName('v', process.pid, this.seq, i), 'up']);
  }

  async connectionCount(i: number): Promise<number> {
    const host = this.host(i);
    const out = await sh('ip', ['netns', 'exec', host.namespace!, 'ss', '-Htn', 'state', 'established', `( sport = :${host.port} )`]);
    return out.stdout.split('\n').filter((l) => l.trim() !== '').length;
  }

  protected async teardown(): Promise<void> {
    for (const ns of this.namespaces) {
      const pids = (await sh('ip', ['netns', 'pids', ns], { allowFail: true })).stdout.split('\n').filter((l) => /^\d+$/.test(l.trim()));
      for (const pid of pids) signal(Number(pid), 'SIGKILL');
    }
    for (const ns of this.namespaces) {
      await sh('ip', ['netns', 'del', ns], { allowFail: true });
      await rm(join('/etc/netns', ns), { recursive: true, force: true });
    }
    for (const veth of this.veths) await sh('ip', ['link', 'del', veth], { allowFail: true });
    await sh('ip', ['link', 'del', this.bridge], { allowFail: true });
    this.releaseSubnet?.();
  }
}

const SFTP_SERVERS = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/lib/ssh/sftp-server', '/usr/libexec/sftp-server'];

/**
 * A host's own home, whoever the login user is: a ForceCommand runs commands as `sh -c` (and a
 * shell, when none is given, as `sh -i`) in that home with HOME set to it, and SFTP starts there (sftp-server -d), so relative paths of both
 * land in the host's own directory. (Loopback hosts log in as the current user, whose real home
 * they would otherwise share.)
 */
async function forcedHome(hostDir: string, home: string): Promise<string[]> {
  const sftp = SFTP_SERVERS.find((p) => existsSync(p));
  if (!sftp) throw new Error(`no sftp-server found (looked in ${SFTP_SERVERS.join(', ')}): install openssh-server`);
  const login = join(hostDir, 'login.sh');
  const q = (v: string): string => `'${v.replaceAll("'", `'\\''`)}'`;
  await writeFile(
    login,
    [
      '#!/bin/sh',
      `HOME=${q(home)}; export HOME`,
      'cd "$HOME" || exit 1',
      'case "$SSH_ORIGINAL_COMMAND" in',
      `  ${q(sftp)}*) exec ${q(sftp)} -d "$HOME" ;;`,
      // No command: a login shell was asked for (ssh HOST), interactive as sshd would start it.
      "  '') exec /bin/sh -i ;;",
      'esac',
      'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return [`Subsystem sftp ${sftp}`, `ForceCommand ${login}`];
}

class LoopbackHosts extends HostSet {
  readonly mode = 'loopback' as const;

  async create(n: number): Promise<void> {
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => undefined);
    await this.makeClientKey();
    const user = userInfo();
    this.hosts = [];
    for (let i = 0; i < n; i++) {
      const ip = `127.0.0.${10 + i}`;
      const port = await freePort(ip);
      const home = this.homeOf(i);
      const { config, logFile, pubKey } = await this.prepareHost(i, `${ip}:${port}`, port, home, (hostDir) => forcedHome(hostDir, home));
      const child = await this.startSshd([SSHD, '-D', '-f', config, '-E', logFile], ip, port, logFile);
      this.hosts.push({
        name: `host-${i}`,
        ip,
        port,
        user: user.username,
        identityFile: this.identityFile,
        knownHostsLine: `[${ip}]:${port} ${pubKey}`,
        home,
        namespace: undefined,
        logFile,
        sshdPid: child.pid!,
      });
    }
    await this.writeKnownHosts();
  }

  private signalTree(i: number, sig: NodeJS.Signals): void {
    const pid = this.host(i).sshdPid;
    signal(pid, sig);
    for (const child of descendants(pid)) signal(child, sig);
  }

  async cutLink(i: number): Promise<void> {
    this.signalTree(i, 'SIGSTOP');
  }

  async restoreLink(i: number): Promise<void> {
    this.signalTree(i, 'SIGCONT');
  }

  async connectionCount(i: number): Promise<number> {
    const host = this.host(i);
    const out = await sh('ss', ['-Htn', 'state', 'established', `( sport = :${host.port} )`]);
    return out.stdout.split('\n').filter((l) => l.includes(`${host.ip}:${host.port}`)).length;
  }

  protected async teardown(): Promise<void> {
    for (let i = 0; i < this.hosts.length; i++) this.signalTree(i, 'SIGCONT');
  }
}

/** Remove namespaces, links, /etc/netns entries, temp dirs, sshd processes and subnet claims of runs whose process is dead. */
export async function cleanupStale(): Promise<void> {
  if (isRoot()) {
    const namespaces = (await sh('ip', ['netns', 'list'], { allowFail: true })).stdout
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter((name) => /^sky-t\d+/.test(name));
    for (const ns of namespaces) {
      const pid = Number(/^sky-t(\d+)/.exec(ns)![1]);
      if (pid === process.pid || alive(pid)) continue;
      const pids = (await sh('ip', ['netns', 'pids', ns], { allowFail: true })).stdout.split('\n').filter((l) => /^\d+$/.test(l.trim()));
      for (const p of pids) signal(Number(p), 'SIGKILL');
      await sh('ip', ['netns', 'del', ns], { allowFail: true });
    }
    if (existsSync('/etc/netns')) {
      for (const entry of readdirSync('/etc/netns')) {
        const m = /^sky-t(\d+)/.exec(entry);
        if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join('/etc/netns', entry), { recursive: true, force: true });
      }
    }
    const links = (await sh('ip', ['-o', 'link', 'show'], { allowFail: true })).stdout.split('\n');
    for (const line of links) {
      const m = /^\d+:\s+(sk[bvp]([0-9a-z]+)-[0-9a-z]+(?:-[0-9a-z]+)?)[@:]/.exec(line);
      if (!m) continue;
      const pid = parseInt(m[2]!, 36);
      if (pid === process.pid || alive(pid)) continue;
      await sh('ip', ['link', 'del', m[1]!], { allowFail: true });
    }
  }
  for (const entry of readdirSync(tmpdir())) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(entry);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    const dir = join(tmpdir(), entry);
    // sshd processes started by that run (loopback mode leaves them in the root namespace).
    for (const file of readdirSync(dir)) {
      const sshd = /^sshd-(\d+)\.pid$/.exec(file);
      if (!sshd) continue;
      const sshdPid = Number(sshd[1]);
      if (alive(sshdPid) && readFileSafe(`/proc/${sshdPid}/cmdline`).includes(dir)) {
        for (const p of descendants(sshdPid)) signal(p, 'SIGKILL');
        signal(sshdPid, 'SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
  if (existsSync(CLAIMS_DIR)) {
    for (const entry of readdirSync(CLAIMS_DIR)) {
      const pending = /^\.(\d+)-/.exec(entry);
      const owner = pending ? Number(pending[1]) : Number(readFileSafe(join(CLAIMS_DIR, entry, 'pid')));
      if (owner !== process.pid && !(owner && alive(owner))) rmSync(join(CLAIMS_DIR, entry), { recursive: true, force: true });
    }
  }
}
