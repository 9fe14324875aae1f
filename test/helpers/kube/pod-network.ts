/**
 * The fake kubelet's pod network: a private /24 (10.202.<x>.0/24, x claimed atomically per run,
 * as netns-hosts does with 10.201) on a bridge in the root namespace holding <x>.1, so this
 * process (and a daemon it starts) routes to pod IPs; each pod is a network namespace whose
 * `eth0` is a veth on that bridge with the pod's IP. Node addresses are <x>.2.., also held by the
 * bridge (`addNodeAddress`): the fake kubelet's streaming servers listen there, where the API
 * server reaches a node's kubelet; pod IPs are <x>.20 to <x>.254, handed out round robin.
 *
 * Names carry this process's pid (namespaces `sky-k<pid>-<seq>-<n>`, links `kk[bvp]<pid base 36>-…`)
 * so `cleanupStalePodNetworks()` can remove what a dead run left behind.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive, exited, readFileSafe, sh, signal } from './os.js';

const SUBNET_PREFIX = '10.202';
const CLAIMS_DIR = join(tmpdir(), 'sky-kube-net-claims');
const FIRST_POD_HOST = 20;
/** `ip rule` priorities of isolate(): base + 4 × subnet octet (allow), + 1 (prohibit). */
const RULE_BASE = 10_000;

let sequence = 0;

function linkName(kind: 'b' | 'v' | 'p', seq: number, n?: number): string {
  const name = `kk${kind}${process.pid.toString(36)}-${seq.toString(36)}${n === undefined ? '' : `-${n.toString(36)}`}`;
  if (name.length > 15) throw new Error(`interface name ${name} is too long`);
  return name;
}

export interface PodNetns {
  namespace: string;
  ip: string;
}

async function claimSubnet(): Promise<{ octet: number; release: () => void }> {
  mkdirSync(CLAIMS_DIR, { recursive: true });
  const routes = (await sh('ip', ['-4', 'route', 'show'])).stdout;
  const start = (process.pid + sequence * 31) % 254;
  for (let k = 0; k < 254; k++) {
    const octet = ((start + k) % 254) + 1;
    if (routes.includes(`${SUBNET_PREFIX}.${octet}.`)) continue;
    const claim = join(CLAIMS_DIR, String(octet));
    const owner = Number(readFileSafe(join(claim, 'pid')).trim());
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
  throw new Error(`no free ${SUBNET_PREFIX}.x.0/24 subnet for pods`);
}

function pidsIn(namespace: string): Promise<number[]> {
  return sh('ip', ['netns', 'pids', namespace], { allowFail: true }).then((r) =>
    r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^\d+$/.test(l))
      .map(Number),
  );
}

/** SIGKILL every process in a network namespace and wait (bounded) until they are gone. */
export async function killNamespace(namespace: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const pids = await pidsIn(namespace);
    if (pids.length === 0) return;
    for (const pid of pids) signal(pid, 'SIGKILL');
    await Promise.all(pids.map((pid) => exited(pid, 2000)));
  }
}

export class PodNetwork {
  readonly seq = sequence++;
  readonly bridge = linkName('b', this.seq);
  octet = 0;
  private release: (() => void) | undefined;
  private readonly used = new Set<number>();
  private counter = 0;
  private nextHost = FIRST_POD_HOST;
  private readonly live = new Map<string, { ip: string; veth: string; host: number }>();

  get gateway(): string {
    return `${SUBNET_PREFIX}.${this.octet}.1`;
  }

  nodeIp(i: number): string {
    return `${SUBNET_PREFIX}.${this.octet}.${2 + i}`;
  }

  async create(): Promise<void> {
    const claim = await claimSubnet();
    this.octet = claim.octet;
    this.release = claim.release;
    await sh('ip', ['link', 'add', this.bridge, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${this.gateway}/24`, 'dev', this.bridge]);
    await sh('ip', ['link', 'set', this.bridge, 'up']);
  }

  /** Give the bridge (root namespace) a node's address, so servers can listen there. */
  async addNodeAddress(ip: string): Promise<void> {
    await sh('ip', ['addr', 'add', `${ip}/32`, 'dev', this.bridge]);
  }

  private isolated = false;

  get subnet(): string {
    return `${SUBNET_PREFIX}.${this.octet}.0/24`;
  }

  /**
   * Only connections from `sources` (node addresses, bound explicitly) reach the pod subnet from
   * this machine's root namespace; any other (a daemon's, from the bridge's primary address) is
   * refused at once (EACCES) by an `ip rule ... prohibit`. Removed by destroy().
   */
  async isolate(sources: readonly string[]): Promise<void> {
    const priority = RULE_BASE + 4 * this.octet;
    this.isolated = true;
    for (const source of sources) await sh('ip', ['rule', 'add', 'priority', String(priority), 'from', `${source}/32`, 'to', this.subnet, 'lookup', 'main']);
    await sh('ip', ['rule', 'add', 'priority', String(priority + 1), 'to', this.subnet, 'prohibit']);
  }

  /** A namespace with a fresh pod IP on the bridge. */
  async add(): Promise<PodNetns> {
    // Round robin, so a freed IP is reused as late as possible (and its neighbour entry is flushed).
    if (this.used.size >= 255 - FIRST_POD_HOST) throw new Error(`the pod network ${SUBNET_PREFIX}.${this.octet}.0/24 is full (${this.used.size} pods)`);
    let host = this.nextHost;
    while (this.used.has(host)) host = host >= 254 ? FIRST_POD_HOST : host + 1;
    this.nextHost = host >= 254 ? FIRST_POD_HOST : host + 1;
    this.used.add(host);
    const n = this.counter++;
    const namespace = `sky-k${process.pid}-${this.seq}-${n}`;
    const veth = linkName('v', this.seq, n);
    const peer = linkName('p', this.seq, n);
    const ip = `${SUBNET_PREFIX}.${this.octet}.${host}`;
    this.live.set(namespace, { ip, veth, host });
    await sh('ip', ['netns', 'add', namespace]);
    await sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', peer]);
    await sh('ip', ['link', 'set', veth, 'master', this.bridge]);
    await sh('ip', ['link', 'set', veth, 'up']);
    await sh('ip', ['link', 'set', peer, 'netns', namespace]);
    await sh('ip', ['-n', namespace, 'link', 'set', peer, 'name', 'eth0']);
    await sh('ip', ['-n', namespace, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await sh('ip', ['-n', namespace, 'link', 'set', 'eth0', 'up']);
    await sh('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
    await sh('ip', ['-n', namespace, 'route', 'add', 'default', 'via', this.gateway]);
    return { namespace, ip };
  }

  /** Kill what runs in the namespace, delete it, its veth and its /etc/netns entry; the IP becomes free. */
  async remove(namespace: string): Promise<void> {
    const entry = this.live.get(namespace);
    if (!entry) return;
    this.live.delete(namespace);
    await killNamespace(namespace);
    await sh('ip', ['netns', 'del', namespace], { allowFail: true });
    await sh('ip', ['link', 'del', entry.veth], { allowFail: true });
    await rm(join('/etc/netns', namespace), { recursive: true, force: true });
    // The root namespace still maps the IP to the removed veth's MAC: forget it, or the next pod with this IP is unreachable for a while.
    await sh('ip', ['neigh', 'flush', 'to', entry.ip, 'dev', this.bridge], { allowFail: true });
    this.used.delete(entry.host);
  }

  async destroy(): Promise<void> {
    for (const namespace of [...this.live.keys()]) await this.remove(namespace);
    if (this.isolated) await deleteRules(RULE_BASE + 4 * this.octet);
    this.isolated = false;
    await sh('ip', ['link', 'del', this.bridge], { allowFail: true });
    this.release?.();
    this.release = undefined;
  }
}

/** Delete the `ip rule`s of isolate() at `priority` and `priority + 1` (bounded: a few per node). */
async function deleteRules(priority: number): Promise<void> {
  for (const p of [priority, priority + 1]) {
    for (let i = 0; i < 64; i++) {
      const deleted = await sh('ip', ['rule', 'del', 'priority', String(p)]).then(
        () => true,
        () => false,
      );
      if (!deleted) break;
    }
  }
}

/** Remove namespaces, links, /etc/netns entries, isolation rules and subnet claims of runs whose process is dead. */
export async function cleanupStalePodNetworks(): Promise<void> {
  // A live run's subnet has its bridge route; rules for a subnet without one are a dead run's.
  const routes = (await sh('ip', ['-4', 'route', 'show'], { allowFail: true })).stdout;
  for (const line of (await sh('ip', ['rule', 'show'], { allowFail: true })).stdout.split('\n')) {
    const m = new RegExp(`^(\\d+):.*to ${SUBNET_PREFIX.replace('.', '\\.')}\\.(\\d+)\\.0/24`).exec(line);
    if (!m || Number(m[1]) !== RULE_BASE + 4 * Number(m[2]) + 1) continue;
    if (!routes.includes(`${SUBNET_PREFIX}.${m[2]}.0/24`)) await deleteRules(RULE_BASE + 4 * Number(m[2]));
  }
  const namespaces = (await sh('ip', ['netns', 'list'], { allowFail: true })).stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((name) => /^sky-k\d+-/.test(name));
  for (const ns of namespaces) {
    const owner = Number(/^sky-k(\d+)-/.exec(ns)![1]);
    if (owner === process.pid || alive(owner)) continue;
    await killNamespace(ns);
    await sh('ip', ['netns', 'del', ns], { allowFail: true });
  }
  if (existsSync('/etc/netns')) {
    for (const entry of readdirSync('/etc/netns')) {
      const m = /^sky-k(\d+)-/.exec(entry);
      if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join('/etc/netns', entry), { recursive: true, force: true });
    }
  }
  const links = (await sh('ip', ['-o', 'link', 'show'], { allowFail: true })).stdout.split('\n');
  for (const line of links) {
    const m = /^\d+:\s+(kk[bvp]([0-9a-z]+)-[0-9a-z]+(?:-[0-9a-z]+)?)[@:]/.exec(line);
    if (!m) continue;
    const owner = parseInt(m[2]!, 36);
    if (owner === process.pid || alive(owner)) continue;
    await sh('ip', ['link', 'del', m[1]!], { allowFail: true });
  }
  if (existsSync(CLAIMS_DIR)) {
    for (const entry of readdirSync(CLAIMS_DIR)) {
      const pending = /^\.(\d+)-/.exec(entry);
      const owner = pending ? Number(pending[1]) : Number(readFileSafe(join(CLAIMS_DIR, entry, 'pid')).trim());
      if (owner !== process.pid && !(owner && alive(owner))) rmSync(join(CLAIMS_DIR, entry), { recursive: true, force: true });
    }
  }
}
