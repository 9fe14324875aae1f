import { inject, injectable } from 'tsyringe';
import { driverUnavailable, unavailableDriver, unavailableDrivers, whatWentWrong } from './plugin-failures.js';
import { poolExtensions, targetCheckExtension, type Driver, type DriverCapacity, type HostCheck, type PoolDriverExtensions, type PoolHost, type TargetCheck } from '@sky/plugin-api';
import { SkyError, type CheckBody, type CheckResult, type PoolBody, type PoolHostsResult, type PoolSummary, type ShowGpusResult, type TargetCheckReport } from '@sky/protocol';
import { TOKENS, type PluginRegistry } from '../tokens.js';
import type { OperationContext } from '../ops/registry.js';
import { NodeRuntime } from '../nodes/node-runtime.js';
import { TransportPool } from '../nodes/transports.js';
import { callDriver } from './driver-calls.js';
import { AccessPolicy } from '../auth/policy.js';

/** What `sky ssh down` removes on a host: sky's runtime, job records and synced workdir, after ending sky's jobs. */
const CLEAN_COMMAND = [
  // Each rank is cancelled with the newest runtime script on the host (it reads the older versions' ranks too).
  's=; for v in .sky/bin/sky-node.sh .sky/runtime/*/sky-node.sh; do [ -f "$v" ] && s=$v; done',
  'if [ -d .sky/jobs ] && [ -n "$s" ]; then for d in .sky/jobs/*/; do [ -d "$d" ] && sh "$s" cancel "$d" >/dev/null 2>&1; done; fi',
  'rm -rf .sky sky_workdir',
].join('; ');

const INFRA_CACHE_MS = 5_000;

function split(infra: string | undefined): { driverId: string | undefined; pool: string | undefined } {
  if (infra === undefined) return { driverId: undefined, pool: undefined };
  const slash = infra.indexOf('/');
  // A pool name has no '/', a Kubernetes context may have some: all after the first is the name.
  return slash < 0 ? { driverId: infra, pool: undefined } : { driverId: infra.slice(0, slash), pool: infra.slice(slash + 1) };
}

function hostOk(h: HostCheck): boolean {
  return h.reachable && h.authOk && h.error === undefined;
}

/** The infrastructure itself: which drivers and pools are enabled, checks of their hosts, and preparing SSH hosts. */
@injectable()
export class InfraService {
  constructor(
    @inject(TOKENS.Plugins) private readonly plugins: PluginRegistry,
    @inject(TransportPool) private readonly transports: TransportPool,
    @inject(NodeRuntime) private readonly runtime: NodeRuntime,
    @inject(AccessPolicy) private readonly policy: AccessPolicy,
  ) {}

  /** Whether the request's user gets host details (addresses, login users, per-host reports) or capacity summaries. */
  private async hostDetails(ctx: OperationContext): Promise<boolean> {
    return this.policy.maySeeHostDetails(await this.policy.actorOf(ctx.request));
  }

  private infraCache: { names: Promise<string[]>; until: number } | undefined;

  /**
   * Infra names for the enabled-infra line: a driver's id, or `<id>/<pool>` for each pool of a
   * pool driver. Every `sky status` asks, and a pool driver reads its pools file for it, so the
   * answer is kept for a few seconds.
   */
  enabledInfra(): Promise<string[]> {
    const now = Date.now();
    if (!this.infraCache || this.infraCache.until <= now) this.infraCache = { names: this.readEnabledInfra(), until: now + INFRA_CACHE_MS };
    return this.infraCache.names;
  }

  private async readEnabledInfra(): Promise<string[]> {
    const out: string[] = [];
    for (const [id, driver] of this.plugins.drivers()) {
      const ext = poolExtensions(driver);
      if (!ext) {
        out.push(id);
        continue;
      }
      try {
        const pools = await ext.pools();
        out.push(...(pools.length > 0 ? pools.map((p) => `${id}/${p.name}`) : [id]));
      } catch {
        out.push(id); // a broken pools file: still enabled, `sky check` says what is wrong
      }
    }
    return out;
  }

  async check(ctx: OperationContext, body: CheckBody): Promise<CheckResult> {
    const details = await this.hostDetails(ctx);
    // The pool drivers' progress lines name hosts: only for those who may see them.
    const log = details ? (l: string): void => void ctx.log(l) : (): void => undefined;
    const wanted = (body.infra ?? []).map(split);
    const drivers = [...this.plugins.drivers()].filter(([id]) => wanted.length === 0 || wanted.some((w) => w.driverId === id));
    const unavailable = unavailableDrivers(this.plugins).filter((s) => wanted.length === 0 || wanted.some((w) => w.driverId === s.id));
    if (wanted.length > 0 && drivers.length === 0 && unavailable.length === 0) throw this.unknownDriver(wanted.map((w) => w.driverId ?? '').join(', '));
    const result: CheckResult = { drivers: [] };
    for (const [id, driver] of drivers) {
      const entry: CheckResult['drivers'][number] = { id, ok: true, infra: [] };
      try {
        const capacity = await callDriver(id, driver, 'capacity', { signal: ctx.signal, log }, (d, o) => d.capacity(o));
        const detail = details ? capacity.detail : capacitySummary(capacity);
        if (detail !== undefined) entry.detail = detail;
        const ext = poolExtensions(driver);
        const targets = targetCheckExtension(driver);
        if (targets) {
          const target = wanted.find((w) => w.driverId === id)?.pool;
          const found = await targets.checkTargets(target, { signal: ctx.signal, log });
          entry.targets = found.map((t) => targetReport(t, details));
          entry.ok = found.length > 0 && found.every((t) => t.reachable && t.error === undefined && t.missingPermissions.length === 0);
          entry.infra = found.filter((t) => t.reachable && t.error === undefined).map((t) => `${id}/${t.name}`);
        } else if (ext) {
          const pool = wanted.find((w) => w.driverId === id)?.pool;
          const hosts = await ext.check(pool, { signal: ctx.signal, log });
          if (details) entry.hosts = hosts.map(report);
          else entry.pools = summarize(hosts);
          entry.ok = hosts.every(hostOk);
          entry.infra = [...new Set(hosts.map((h) => `${id}/${h.pool}`))];
        } else entry.infra = [id];
      } catch (err) {
        entry.ok = false;
        // Driver errors name files and hosts of the daemon's machine.
        entry.error = details ? (err instanceof Error ? err.message : String(err)) : 'not ready (an admin sees why with sky check)';
        entry.infra = [id];
      }
      await ctx.log(`${id}: ${entry.ok ? 'enabled' : `not ready${entry.error ? `: ${entry.error}` : ''}`}`);
      result.drivers.push(entry);
    }
    // Configured but serving nothing: shown with the reason (GET /api/v1/plugins has the same), never left out.
    for (const state of unavailable) {
      const plugin: NonNullable<CheckResult['drivers'][number]['plugin']> = { package: state.package, state: state.state === 'failed' ? 'failed' : 'skipped', code: state.error?.code ?? 'PLUGIN_FAILED' };
      if (state.version !== undefined) plugin.version = state.version;
      result.drivers.push({ id: state.id, ok: false, infra: [state.id], error: state.error?.message ?? `${whatWentWrong(state)}`, plugin });
      await ctx.log(`${state.id}: ${whatWentWrong(state)}`);
    }
    return result;
  }

  async sshUp(ctx: OperationContext, body: PoolBody): Promise<PoolHostsResult> {
    const { id, ext, pool } = this.poolDriver(body.infra);
    const checks = await ext.check(pool, { signal: ctx.signal, log: (l) => void ctx.log(l) });
    const hosts = await this.hostsOf(ext, pool);
    const out: PoolHostsResult = { hosts: [] };
    for (const check of checks) {
      const host = hosts.find((h) => h.pool === check.pool && h.host.label === check.label);
      const line = { pool: check.pool, label: check.label, host: check.host };
      if (!hostOk(check)) {
        out.hosts.push({ ...line, ok: false, message: check.error ?? 'unreachable' });
        continue;
      }
      if (!host || host.host.usesPassword) {
        out.hosts.push({ ...line, ok: false, message: 'password authentication is not supported yet: give the host an identity_file' });
        continue;
      }
      try {
        await this.runtime.install(this.transportOf(host.host), `${id}/${check.pool}/${check.label}`);
        const gpus = check.accelerators.map((a) => `${a.name}:${a.count}`).join(', ');
        out.hosts.push({ ...line, ok: true, message: `ready: ${check.cpus} CPUs, ${check.memoryGb} GB${gpus ? `, ${gpus}` : ''}` });
      } catch (err) {
        out.hosts.push({ ...line, ok: false, message: err instanceof Error ? err.message : String(err) });
      }
      await ctx.log(`${check.pool}/${check.label}: ${out.hosts.at(-1)!.message}`);
    }
    return out;
  }

  async sshDown(ctx: OperationContext, body: PoolBody): Promise<PoolHostsResult> {
    const { ext, pool } = this.poolDriver(body.infra);
    const out: PoolHostsResult = { hosts: [] };
    for (const { pool: poolName, host } of await this.hostsOf(ext, pool)) {
      const line = { pool: poolName, label: host.label, host: host.host };
      if (host.heldBy) {
        out.hosts.push({ ...line, ok: false, message: `held by ${host.heldBy.owner} (cluster ${host.heldBy.clusterName}): run sky down ${host.heldBy.clusterName} first` });
      } else if (host.usesPassword) {
        out.hosts.push({ ...line, ok: false, message: 'password authentication is not supported yet: give the host an identity_file' });
      } else {
        try {
          const done = await this.transportOf(host).run(CLEAN_COMMAND, { signal: ctx.signal, timeoutMs: 60_000 });
          out.hosts.push({ ...line, ok: done.code === 0, message: done.code === 0 ? 'removed what sky put there' : `cleanup failed (exit ${done.code}): ${done.stderr.trim().slice(0, 300)}` });
        } catch (err) {
          out.hosts.push({ ...line, ok: false, message: err instanceof Error ? err.message : String(err) });
        }
      }
      await ctx.log(`${poolName}/${host.label}: ${out.hosts.at(-1)!.message}`);
    }
    return out;
  }

  async showGpus(ctx: OperationContext, body: PoolBody): Promise<ShowGpusResult> {
    const details = await this.hostDetails(ctx);
    const log = details ? (l: string): void => void ctx.log(l) : (): void => undefined;
    const targetsOf = async (id: string, driver: Driver, target: string | undefined): Promise<NonNullable<ShowGpusResult['targets']>> => {
      const ext = targetCheckExtension(driver)!;
      const found = await ext.checkTargets(target, { signal: ctx.signal, log });
      return found.map((t) => ({ driver: id, ...targetReport(t, details) }));
    };
    if (body.infra !== undefined) {
      const { driverId, pool: target } = split(body.infra);
      const driver = driverId === undefined ? undefined : this.plugins.drivers().get(driverId);
      if (driver !== undefined && driverId !== undefined && targetCheckExtension(driver)) return { hosts: [], targets: await targetsOf(driverId, driver, target) };
      const { ext, pool } = this.poolDriver(body.infra);
      const hosts = await ext.check(pool, { signal: ctx.signal, log });
      return details ? { hosts: hosts.map(report) } : { hosts: [], pools: summarize(hosts) };
    }
    // Without --infra: every enabled driver, as SkyPilot lists every enabled cloud's GPUs.
    const hosts: HostCheck[] = [];
    const drivers: NonNullable<ShowGpusResult['drivers']> = [];
    const targets: NonNullable<ShowGpusResult['targets']> = [];
    for (const [id, driver] of this.plugins.drivers()) {
      const ext = poolExtensions(driver);
      try {
        if (targetCheckExtension(driver)) {
          targets.push(...(await targetsOf(id, driver, undefined)));
          continue;
        }
        if (ext) {
          hosts.push(...(await ext.check(undefined, { signal: ctx.signal, log })));
          continue;
        }
        const { free, total } = await callDriver(id, driver, 'capacity', { signal: ctx.signal, log }, (d, o) => d.capacity(o));
        drivers.push({ id, gpus: total.accelerators.map((t) => ({ name: t.name, total: t.count, free: free.accelerators.find((f) => f.name === t.name)?.count ?? 0 })) });
      } catch (err) {
        drivers.push({ id, gpus: [], error: details ? (err instanceof Error ? err.message : String(err)) : 'not ready (an admin sees why with sky check)' });
      }
    }
    const withTargets = targets.length > 0 ? { targets } : {};
    return details ? { hosts: hosts.map(report), drivers, ...withTargets } : { hosts: [], pools: summarize(hosts), drivers, ...withTargets };
  }

  private poolDriver(infra: string | undefined): { id: string; ext: PoolDriverExtensions; pool: string | undefined } {
    const { driverId, pool } = split(infra ?? 'ssh');
    const driver: Driver | undefined = this.plugins.drivers().get(driverId ?? 'ssh');
    if (!driver) throw this.unknownDriver(driverId ?? 'ssh');
    const ext = poolExtensions(driver);
    if (!ext) throw new SkyError('NOT_SUPPORTED', `driver ${driverId} has no host pools`, { hint: 'Use --infra ssh or ssh/<pool>.' });
    return { id: driverId!, ext, pool };
  }

  private async hostsOf(ext: PoolDriverExtensions, pool: string | undefined): Promise<Array<{ pool: string; host: PoolHost }>> {
    const pools = await ext.pools();
    const chosen = pool === undefined ? pools : pools.filter((p) => p.name === pool);
    if (pool !== undefined && chosen.length === 0) {
      throw new SkyError('VALIDATION_FAILED', `no SSH node pool named ${pool}; pools: ${pools.map((p) => p.name).join(', ') || 'none'}`, {
        hint: 'Define pools in ~/.sky/ssh_node_pools.yaml or under drivers.ssh.pools.',
      });
    }
    return chosen.flatMap((p) => p.hosts.map((host) => ({ pool: p.name, host })));
  }

  private transportOf(host: PoolHost) {
    const reach = {
      kind: 'ssh' as const,
      host: host.host,
      port: host.port,
      user: host.user,
      ...(host.identityFile !== undefined ? { identityFile: host.identityFile } : {}),
      ...(host.proxyJump !== undefined ? { proxyJump: host.proxyJump } : {}),
    };
    return this.transports.forReach(reach, `${host.user}@${host.host}:${host.port}`);
  }

  private unknownDriver(id: string): SkyError {
    const unavailable = unavailableDriver(this.plugins, id);
    if (unavailable !== undefined) return driverUnavailable(unavailable);
    return new SkyError('NO_DRIVER', `driver ${id} is not enabled on this API server`, {
      hint: `Enabled drivers: ${[...this.plugins.drivers().keys()].join(', ') || 'none'}. Enable it under drivers: in the daemon config.`,
    });
  }
}

/** A driver's capacity as numbers only (its detail line may name paths and hosts of the daemon's machine). */
function capacitySummary(capacity: DriverCapacity): string {
  const { free, total } = capacity;
  const gpus = total.accelerators.map((t) => `${t.name}: ${free.accelerators.find((f) => f.name === t.name)?.count ?? 0} of ${t.count}`);
  return [`free: ${free.cpus} of ${total.cpus} CPUs`, `${round(free.memoryGb)} of ${round(total.memoryGb)} GB memory`, ...gpus].join(', ');
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Per-pool capacity from per-host reports: counts and sums, no host names. */
function summarize(hosts: readonly HostCheck[]): PoolSummary[] {
  const pools = new Map<string, PoolSummary>();
  for (const h of hosts) {
    let p = pools.get(h.pool);
    if (!p) pools.set(h.pool, (p = { pool: h.pool, hosts: 0, ready: 0, free: 0, cpus: 0, memoryGb: 0, accelerators: [] }));
    p.hosts += 1;
    if (!hostOk(h)) continue;
    p.ready += 1;
    if (h.heldBy === undefined) p.free += 1;
    p.cpus += h.cpus;
    p.memoryGb = round(p.memoryGb + h.memoryGb);
    for (const a of h.accelerators) {
      const known = p.accelerators.find((x) => x.name === a.name);
      if (known) known.count += a.count;
      else p.accelerators.push({ name: a.name, count: a.count });
    }
  }
  return [...pools.values()];
}

function report(h: HostCheck): HostCheck {
  const out: HostCheck = {
    pool: h.pool,
    label: h.label,
    host: h.host,
    port: h.port,
    user: h.user,
    reachable: h.reachable,
    authOk: h.authOk,
    cpus: h.cpus,
    memoryGb: h.memoryGb,
    accelerators: h.accelerators.map((a) => ({ name: a.name, count: a.count })),
  };
  if (h.error !== undefined) out.error = h.error;
  if (h.heldBy) out.heldBy = { owner: h.heldBy.owner, clusterName: h.heldBy.clusterName };
  return out;
}

/**
 * A target as the caller may see it: its server and the driver's error texts (which name
 * servers and files of the daemon's machine) only for those who see host details.
 */
function targetReport(t: TargetCheck, details: boolean): TargetCheckReport {
  const out: TargetCheckReport = {
    name: t.name,
    reachable: t.reachable,
    missingPermissions: [...t.missingPermissions],
    nodes: t.nodes.map((n) => ({ name: n.name, cpus: n.cpus, memoryGb: n.memoryGb, ready: n.ready, gpus: n.gpus.map((g) => ({ ...g })) })),
  };
  if (t.scope !== undefined) out.scope = t.scope;
  if (t.warnings !== undefined && t.warnings.length > 0) out.warnings = [...t.warnings];
  if (details && t.endpoint !== undefined) out.endpoint = t.endpoint;
  if (t.error !== undefined) out.error = details ? t.error : t.reachable ? 'not usable (an admin sees why with sky check)' : 'unreachable (an admin sees why with sky check)';
  return out;
}
