import type { TestHosts } from './netns-hosts.js';

export interface SshDaemonConfigOptions {
  /** Pool name (default pool-a). */
  pool?: string;
  /** Also enable the local driver. */
  local?: boolean;
  /** Short keepalives and timeouts, and jobs failed 1 s after their node is lost (for tests of lost hosts). */
  fast?: boolean;
}

/** A daemon config whose ssh driver has one inline pool made of the test hosts, trusting their known_hosts file. */
export function sshDaemonConfig(set: TestHosts, options: SshDaemonConfigOptions = {}): string {
  const first = set.hosts[0]!;
  const lines = ['ssh:', `  known_hosts: ${set.knownHostsFile}`];
  if (options.fast) {
    lines.push('  keepalive_interval_seconds: 0.5', '  keepalive_count_max: 2', '  connect_timeout_seconds: 3', 'jobs:', '  unreachable_grace_seconds: 1');
  }
  lines.push('drivers:');
  if (options.local) lines.push('  local: {}');
  lines.push('  ssh:');
  if (options.fast) lines.push('    status_timeout_seconds: 3', '    probe_timeout_seconds: 5');
  lines.push('    pools:', `      ${options.pool ?? 'pool-a'}:`, `        user: ${first.user}`, `        identity_file: ${first.identityFile}`, '        hosts:');
  for (const h of set.hosts) lines.push(`          - {ip: ${h.ip}, port: ${h.port}}`);
  return `${lines.join('\n')}\n`;
}
