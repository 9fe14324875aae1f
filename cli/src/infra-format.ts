import type { CheckResult, HostCheckReport, PoolHostsResult, PoolSummary, ShowGpusResult, TargetCheckReport } from '@sky/protocol';
import { table } from './format.js';
import { UsageError } from './usage.js';

/*
 * What sky check, sky ssh up|down and sky show-gpus print, as pure functions of the results the
 * daemon returns (so they are tested without a daemon), and how their --infra values are read.
 */

/** A driver id, optionally /pool: what the daemon accepts as an infra filter. */
const INFRA = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._:@/-]*)?$/;
const POOL = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Names users type for a driver, as SkyPilot accepts them (`sky check SSH`, `sky check k8s`). */
const DRIVER_ALIASES: Record<string, string> = { kubernetes: 'k8s' };

function driverId(word: string): string {
  const id = word.toLowerCase();
  return DRIVER_ALIASES[id] ?? id;
}

/** `ssh`, `SSH/gpu-a`, `k8s`: the driver part lower-cased (pool names keep their case). */
export function normalizeInfra(value: string, help: string, what = 'infra'): string {
  const v = value.trim();
  if (!INFRA.test(v)) throw new UsageError(`${what} '${value}' is not a driver or driver/pool (e.g. ssh or ssh/gpu-a)`, help);
  const slash = v.indexOf('/');
  if (slash < 0) return driverId(v);
  const id = driverId(v.slice(0, slash));
  // Only a Kubernetes context may hold ':', '@' or '/' (EKS and GKE name them so); a pool name may not.
  if (id !== 'k8s' && !POOL.test(v.slice(slash + 1))) {
    throw new UsageError(`${what} '${value}' is not a driver or driver/pool (e.g. ssh or ssh/gpu-a)`, help);
  }
  return `${id}${v.slice(slash)}`;
}

/** `sky check [INFRA...]`: each name normalized, duplicates dropped, in the order given. */
export function checkInfra(args: readonly string[], help = 'sky check --help'): string[] {
  return [...new Set(args.map((a) => normalizeInfra(a, help)))];
}

/** `sky ssh up|down --infra POOL|ssh/POOL|ssh`: `ssh/POOL`, or undefined for every pool. */
export function poolInfra(value: string | undefined, help: string): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  const slash = v.indexOf('/');
  if (slash < 0) {
    if (v.toLowerCase() === 'ssh') return undefined;
    if (!POOL.test(v)) throw new UsageError(`--infra '${value}' is not a pool name (letters, digits, '.', '_' and '-'); give POOL or ssh/POOL`, help);
    return `ssh/${v}`;
  }
  const normalized = normalizeInfra(v, help, '--infra');
  if (!normalized.startsWith('ssh/')) throw new UsageError(`--infra '${value}' is not an SSH node pool; give POOL or ssh/POOL`, help);
  return normalized;
}

/** `sky show-gpus --infra ssh|ssh/POOL`: passed on as given (driver part lower-cased). */
export function gpuInfra(value: string | undefined, help = 'sky show-gpus --help'): string | undefined {
  return value === undefined ? undefined : normalizeInfra(value, help, '--infra');
}

/** `15.6 GB`, `16 GB`. */
export function memory(gb: number): string {
  return `${Number.isInteger(gb) ? gb : gb.toFixed(1)} GB`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** `H100:8, A10G:1`, or `no GPUs`. */
export function gpus(host: Pick<HostCheckReport, 'accelerators'>): string {
  return host.accelerators.length === 0 ? 'no GPUs' : `GPUs: ${host.accelerators.map((a) => `${a.name}:${a.count}`).join(', ')}`;
}

/** A host as the user wrote it in the pool, with its address when the label does not show it. */
export function hostName(host: Pick<HostCheckReport, 'label' | 'host' | 'port'>): string {
  const shown = host.label === host.host || host.label === `${host.host}:${host.port}`;
  return shown ? host.label : `${host.label} (${host.host}:${host.port})`;
}

/** The host can take work: reachable, logged in, and nothing wrong with it. */
export function hostReady(host: HostCheckReport): boolean {
  return host.reachable && host.authOk && host.error === undefined;
}

/** What `sky check` says about one host. */
export function hostFindings(host: HostCheckReport): string {
  const parts: string[] = [];
  if (!host.reachable) parts.push(`unreachable${host.error === undefined ? '' : `: ${host.error}`}`);
  else if (!host.authOk) parts.push(`reachable, auth failed as ${host.user}${host.error === undefined ? '' : `: ${host.error}`}`);
  else {
    parts.push('reachable', `auth ok (${host.user})`, plural(host.cpus, 'CPU'), `${memory(host.memoryGb)} memory`, gpus(host));
    if (host.error !== undefined) parts.push(`error: ${host.error}`);
  }
  if (host.heldBy !== undefined) parts.push(`held by ${host.heldBy.owner} (cluster ${host.heldBy.clusterName})`);
  return parts.join(', ');
}

/** Hosts grouped by pool, pools in the order they come (and those only named in `infra`, with no hosts). */
function byPool(hosts: readonly HostCheckReport[], infra: readonly string[] = []): Map<string, HostCheckReport[]> {
  const pools = new Map<string, HostCheckReport[]>();
  for (const host of hosts) pools.set(host.pool, [...(pools.get(host.pool) ?? []), host]);
  for (const name of infra) {
    const slash = name.indexOf('/');
    if (slash >= 0 && !pools.has(name.slice(slash + 1))) pools.set(name.slice(slash + 1), []);
  }
  return pools;
}

function tree<T>(items: readonly T[], indent: string, line: (item: T) => string): string[] {
  return items.map((item, i) => `${indent}${i === items.length - 1 ? '└── ' : '├── '}${line(item)}`);
}

export interface CheckReport {
  lines: string[];
  /** Every driver asked for is enabled and every host of its pools is ready. */
  ok: boolean;
  /** Infra the daemon can launch on now. */
  enabled: string[];
}

/**
 * `sky check`, SkyPilot style: one line per driver (enabled or disabled, the infra it offers,
 * why not), for host pools a tree per pool and host, and the enabled infra last.
 */
export function checkLines(result: CheckResult, asked: readonly string[] = []): CheckReport {
  const lines = ['Checking which infra sky can use.'];
  let ok = true;
  const enabled: string[] = [];
  for (const driver of result.drivers) {
    if (!driver.ok) ok = false;
    if (driver.plugin !== undefined) {
      // Configured, but its plugin serves nothing: say which plugin and why.
      const pkg = `${driver.plugin.package}${driver.plugin.version === undefined ? '' : `@${driver.plugin.version}`}`;
      const what = driver.plugin.state === 'skipped' ? 'failed to load' : driver.plugin.code === 'PLUGIN_FAILED' && driver.error?.includes('quarantined') === true ? 'quarantined' : 'stopped after a fault';
      lines.push(`  ${driver.id}: ${what} (plugin ${pkg})`);
      if (driver.error !== undefined) lines.push(`    Reason: ${driver.error}`);
      continue;
    }
    const hosts = driver.hosts;
    if (driver.targets !== undefined) {
      const usable = driver.targets.filter(targetUsable).map((t) => `${driver.id}/${t.name}`);
      const on = driver.error === undefined && usable.length > 0;
      if (!driver.ok) ok = false;
      const offered = driver.targets.map((t) => `${driver.id}/${t.name}`);
      lines.push(`  ${driver.id}: ${on ? 'enabled' : 'disabled'}${offered.length > 0 ? ` [${offered.join(', ')}]` : ''}`);
      if (on) enabled.push(...usable);
      if (driver.detail !== undefined) lines.push(`    ${driver.detail}`);
      if (driver.error !== undefined) lines.push(`    Reason: ${driver.error}`);
      if (driver.targets.length === 0) {
        if (driver.error === undefined) lines.push('    No contexts allowed.');
        continue;
      }
      lines.push('    Contexts:');
      driver.targets.forEach((t, i) => {
        const last = i === driver.targets!.length - 1;
        const indent = `    ${last ? '    ' : '│   '}`;
        lines.push(`    ${last ? '└── ' : '├── '}${t.name}: ${targetState(t)}`);
        const facts: string[] = [];
        if (t.endpoint !== undefined) facts.push(`server ${t.endpoint}`);
        if (t.error !== undefined) facts.push(`reason: ${t.error}`);
        if (t.missingPermissions.length > 0) facts.push(`missing permissions: ${t.missingPermissions.join('; ')}`);
        facts.push(...(t.warnings ?? []).map((w) => `note: ${w}`));
        facts.push(...t.nodes.map((n) => `node ${n.name}: ${n.ready ? 'ready' : 'not ready'}, ${plural(n.cpus, 'CPU')}, ${memory(n.memoryGb)} memory, ${targetGpus(n.gpus)}`));
        lines.push(...tree(facts, indent, (f) => f));
      });
      continue;
    }
    if (hosts === undefined && driver.pools !== undefined) {
      // Capacity per pool: what callers who do not see the hosts (non-admins) get.
      const usable = driver.pools.filter((p) => p.ready > 0).map((p) => `${driver.id}/${p.pool}`);
      const on = driver.error === undefined && usable.length > 0;
      if (!driver.ok) ok = false;
      const offered = driver.pools.map((p) => `${driver.id}/${p.pool}`);
      lines.push(`  ${driver.id}: ${on ? 'enabled' : 'disabled'}${offered.length > 0 ? ` [${offered.join(', ')}]` : ''}`);
      if (on) enabled.push(...usable);
      if (driver.detail !== undefined) lines.push(`    ${driver.detail}`);
      if (driver.error !== undefined) lines.push(`    Reason: ${driver.error}`);
      if (driver.pools.length === 0) {
        if (driver.error === undefined) lines.push('    No pools configured.');
        continue;
      }
      lines.push(`    ${driver.id === 'ssh' ? 'SSH Node Pools' : 'Pools'}:`);
      lines.push(...tree(driver.pools, '    ', poolSummaryLine));
      continue;
    }
    const pools = hosts === undefined ? undefined : byPool(hosts, driver.infra.filter((i) => i.startsWith(`${driver.id}/`)));
    // A pool with one host down is still usable: the driver is enabled while any of its pools has a ready host.
    const usable = pools === undefined ? [] : [...pools].filter(([, h]) => h.some(hostReady)).map(([name]) => `${driver.id}/${name}`);
    const on = driver.error === undefined && (hosts === undefined || hosts.length === 0 ? driver.ok : usable.length > 0);
    const offered = pools !== undefined && pools.size > 0 ? [...pools.keys()].map((p) => `${driver.id}/${p}`) : driver.infra;
    const names = offered.length === 1 && offered[0] === driver.id ? '' : offered.length > 0 ? ` [${offered.join(', ')}]` : '';
    lines.push(`  ${driver.id}: ${on ? 'enabled' : 'disabled'}${names}`);
    if (on) enabled.push(...(pools !== undefined && pools.size > 0 ? usable : driver.infra));
    if (driver.detail !== undefined) lines.push(`    ${driver.detail}`);
    if (driver.error !== undefined) lines.push(`    Reason: ${driver.error}`);
    if (pools === undefined) continue;
    if (pools.size === 0) {
      if (driver.error === undefined) lines.push('    No pools configured.');
      continue;
    }
    lines.push(`    ${driver.id === 'ssh' ? 'SSH Node Pools' : 'Pools'}:`);
    const entries = [...pools];
    entries.forEach(([pool, poolHosts], i) => {
      const last = i === entries.length - 1;
      const ready = poolHosts.filter(hostReady).length;
      if (ready < poolHosts.length) ok = false;
      const state = poolHosts.length === 0 ? 'no hosts' : `${ready} of ${plural(poolHosts.length, 'host')} ready`;
      lines.push(`    ${last ? '└── ' : '├── '}${pool}: ${state}`);
      lines.push(...tree(poolHosts, `    ${last ? '    ' : '│   '}`, (h) => `${hostName(h)}: ${hostFindings(h)}`));
    });
  }
  for (const name of asked) {
    const driver = name.split('/')[0]!;
    if (result.drivers.some((d) => d.id === driver)) continue;
    lines.push(`  ${name}: not enabled on the API server`);
    ok = false;
  }
  if (result.drivers.length === 0 && asked.length === 0) lines.push('  No drivers are enabled on the API server.');
  lines.push('', `Enabled infra: ${enabled.length > 0 ? enabled.join(', ') : '(none)'}`);
  return { lines, ok, enabled };
}

/** A target (a Kubernetes context) the driver can launch on: reachable, no error, nothing missing. */
export function targetUsable(t: TargetCheckReport): boolean {
  return t.reachable && t.error === undefined && t.missingPermissions.length === 0;
}

function targetState(t: TargetCheckReport): string {
  if (!t.reachable) return 'unreachable';
  const scope = t.scope === undefined ? '' : ` (namespace ${t.scope})`;
  if (!targetUsable(t)) return `reachable${scope}, not usable`;
  const ready = t.nodes.filter((n) => n.ready).length;
  return `reachable${scope}, ${ready} of ${plural(t.nodes.length, 'node')} ready`;
}

/** `GPUs: H100 2 of 4 free`, or `no GPUs`. */
function targetGpus(gpus: TargetCheckReport['nodes'][number]['gpus']): string {
  return gpus.length === 0 ? 'no GPUs' : `GPUs: ${gpus.map((g) => `${g.name} ${g.free} of ${g.total} free`).join(', ')}`;
}

export const GPU_TARGET_HEADERS = ['CONTEXT', 'NODE', 'GPU', 'TOTAL', 'FREE'] as const;

/** `sky show-gpus --infra k8s`: a row per context, node and GPU type, then the totals per GPU type. */
function targetGpuLines(targets: NonNullable<ShowGpusResult['targets']>): string[] {
  const lines: string[] = [];
  for (const driver of [...new Set(targets.map((t) => t.driver))]) {
    const mine = targets.filter((t) => t.driver === driver);
    if (lines.length > 0) lines.push('');
    lines.push(`${driver === 'k8s' ? 'Kubernetes' : driver} GPUs:`);
    const rows: string[][] = [];
    const totals = new Map<string, { total: number; free: number }>();
    for (const t of mine) {
      if (!t.reachable || t.error !== undefined) {
        rows.push([t.name, '-', '-', '-', t.error ?? 'unreachable']);
        continue;
      }
      for (const n of t.nodes) {
        for (const g of n.gpus) {
          rows.push([t.name, n.name, g.name, String(g.total), String(n.ready ? g.free : 0)]);
          const sum = totals.get(g.name) ?? { total: 0, free: 0 };
          sum.total += g.total;
          sum.free += n.ready ? g.free : 0;
          totals.set(g.name, sum);
        }
      }
    }
    if (rows.length === 0) {
      lines.push(`No GPUs found on the nodes of ${mine.map((t) => `${driver}/${t.name}`).join(', ')}.`);
      continue;
    }
    lines.push(...table(GPU_TARGET_HEADERS, rows));
    if (totals.size > 0) {
      lines.push('', 'Total:', ...table(GPU_DRIVER_HEADERS, [...totals].map(([name, c]) => [name, String(c.total), String(c.free)])));
    }
  }
  return lines;
}

/** One pool's capacity: `gpu-a: 2 of 3 hosts ready, 1 free, 16 CPUs, 64 GB, GPUs: H100:8`. */
export function poolSummaryLine(p: PoolSummary): string {
  const state = p.hosts === 0 ? 'no hosts' : `${p.ready} of ${plural(p.hosts, 'host')} ready, ${p.free} free`;
  if (p.ready === 0) return `${p.pool}: ${state}`;
  return `${p.pool}: ${state}, ${plural(p.cpus, 'CPU')}, ${memory(p.memoryGb)}, ${gpus(p)}`;
}

/** `sky ssh up|down`: one line per host, ✓ or ✗, and whether any failed. */
export function poolHostLines(result: PoolHostsResult): { lines: string[]; failed: number } {
  const lines = result.hosts.map((h) => {
    const where = h.label === h.host || h.label.startsWith(`${h.host}:`) ? `${h.pool}/${h.label}` : `${h.pool}/${h.label} ${h.host}`;
    return `${h.ok ? '✓' : '✗'} ${where}: ${h.message}`;
  });
  return { lines, failed: result.hosts.filter((h) => !h.ok).length };
}

/** STATUS of a host in `sky show-gpus`. */
export function gpuStatus(host: HostCheckReport): string {
  const held = host.heldBy === undefined ? undefined : `held by ${host.heldBy.owner} (${host.heldBy.clusterName})`;
  let problem: string | undefined;
  if (!host.reachable) problem = `unreachable: ${host.error ?? 'no answer'}`;
  else if (!host.authOk) problem = `auth failed: ${host.error ?? `as ${host.user}`}`;
  else if (host.error !== undefined) problem = `unusable: ${host.error}`;
  if (held !== undefined && problem !== undefined) return `${held}, ${problem}`;
  return held ?? problem ?? 'free';
}

export const GPU_HEADERS = ['HOST', 'GPU', 'QTY', 'CPUS', 'MEMORY', 'STATUS'] as const;

export const GPU_POOL_HEADERS = ['POOL', 'GPU', 'QTY', 'HOSTS READY', 'HOSTS FREE'] as const;

/** `sky show-gpus` for callers who do not see the hosts: a row per pool and GPU type. */
function poolGpuLines(pools: readonly PoolSummary[]): string[] {
  if (pools.length === 0) return ['No hosts found in the SSH node pools.'];
  const rows: string[][] = [];
  for (const p of pools) {
    const counts = [`${p.ready} of ${p.hosts}`, String(p.free)];
    if (p.accelerators.length === 0) rows.push([p.pool, '-', '0', ...counts]);
    else for (const a of p.accelerators) rows.push([p.pool, a.name, String(a.count), ...counts]);
  }
  return [...table(GPU_POOL_HEADERS, rows), '(Per-host details are shown to admins.)'];
}

export const GPU_DRIVER_HEADERS = ['GPU', 'TOTAL', 'FREE'] as const;

/** `sky show-gpus` without --infra: each enabled driver, then the SSH node pools when there are any. */
export function gpuLines(result: ShowGpusResult): string[] {
  if (result.drivers === undefined && result.targets !== undefined) return targetGpuLines(result.targets);
  if (result.drivers === undefined) return poolLines(result);
  const lines: string[] = [];
  for (const driver of result.drivers) {
    if (lines.length > 0) lines.push('');
    if (driver.error !== undefined) lines.push(`${driver.id}: ${driver.error}`);
    else if (driver.gpus.length === 0) lines.push(`${driver.id}: no GPUs`);
    else lines.push(`${driver.id}:`, ...table(GPU_DRIVER_HEADERS, driver.gpus.map((g) => [g.name, String(g.total), String(g.free)])));
  }
  if (result.targets !== undefined && result.targets.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push(...targetGpuLines(result.targets));
  }
  if (result.hosts.length > 0 || (result.pools ?? []).length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push(...poolLines(result));
  }
  return lines.length > 0 ? lines : ['No infra is enabled on this API server (see sky check).'];
}

/** Per pool a heading and a table with a row per host and GPU type (or per pool, for non-admins). */
function poolLines(result: ShowGpusResult): string[] {
  if (result.hosts.length === 0 && result.pools !== undefined) return poolGpuLines(result.pools);
  if (result.hosts.length === 0) return ['No hosts found in the SSH node pools.'];
  const lines: string[] = [];
  for (const [pool, hosts] of byPool(result.hosts)) {
    if (lines.length > 0) lines.push('');
    lines.push(`SSH Node Pool: ${pool}`);
    const rows: string[][] = [];
    for (const host of hosts) {
      const known = host.reachable && host.authOk;
      const facts = known ? [String(host.cpus), memory(host.memoryGb)] : ['-', '-'];
      const status = gpuStatus(host);
      if (!known) rows.push([hostName(host), '-', '-', ...facts, status]);
      else if (host.accelerators.length === 0) rows.push([hostName(host), '-', '0', ...facts, status]);
      else for (const a of host.accelerators) rows.push([hostName(host), a.name, String(a.count), ...facts, status]);
    }
    lines.push(...table(GPU_HEADERS, rows));
    if (!hosts.some((h) => h.accelerators.length > 0)) {
      const unknown = hosts.filter((h) => !(h.reachable && h.authOk)).length;
      lines.push(`No GPUs found in SSH Node Pool ${pool}${unknown > 0 ? ` (${plural(unknown, 'host')} could not be checked)` : ''}.`);
    }
  }
  return lines;
}
