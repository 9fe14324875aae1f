import type { ConfigResult, ConfigSchema } from '@sky/plugin-api';

/** One SSH host of the driver, as the daemon config lists it. */
export interface HostConfig {
  host: string;
  port: number;
  /** The host's sshd public key, an OpenSSH line (`ssh-ed25519 AAAA…`): the daemon pins it. */
  hostKey: string;
  cpus: number;
  memoryGb: number;
}

export interface ExampleConfig {
  user: string;
  /** Private key on the daemon's machine. */
  identityFile: string;
  hosts: HostConfig[];
}

type Issue = { message: string; path: Array<string | number> };

const KEY_LINE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The driver's config block, checked without a schema library: the daemon accepts any Standard
 * Schema (`{'~standard': {version: 1, vendor, validate}}`), so zod, valibot or a hand-written
 * check like this one all work. Every problem names its key, so the daemon can say
 * `drivers.example.hosts[1].host_key: …`.
 */
function validate(value: unknown): ConfigResult<ExampleConfig> {
  const issues: Issue[] = [];
  if (!isRecord(value)) return { issues: [{ message: 'expected a mapping with user, identity_file and hosts', path: [] }] };
  const known = new Set(['user', 'identity_file', 'hosts']);
  for (const key of Object.keys(value)) if (!known.has(key)) issues.push({ message: `unknown key (the keys are ${[...known].join(', ')})`, path: [key] });
  const user = value['user'];
  if (typeof user !== 'string' || user.length === 0) issues.push({ message: 'expected the SSH login user, e.g. "ubuntu"', path: ['user'] });
  const identityFile = value['identity_file'];
  if (typeof identityFile !== 'string' || !identityFile.startsWith('/')) issues.push({ message: "expected the absolute path of a private key on the daemon's machine", path: ['identity_file'] });
  const rawHosts = value['hosts'];
  const hosts: HostConfig[] = [];
  if (!Array.isArray(rawHosts) || rawHosts.length === 0) {
    issues.push({ message: 'expected a list of hosts, each {host, port, host_key}', path: ['hosts'] });
  } else {
    rawHosts.forEach((raw: unknown, i) => {
      if (!isRecord(raw)) {
        issues.push({ message: 'expected {host, port, host_key}', path: ['hosts', i] });
        return;
      }
      const host = raw['host'];
      const port = raw['port'] ?? 22;
      const hostKey = raw['host_key'];
      const cpus = raw['cpus'] ?? 1;
      const memoryGb = raw['memory_gb'] ?? 1;
      if (typeof host !== 'string' || host.length === 0) issues.push({ message: 'expected a host name or address', path: ['hosts', i, 'host'] });
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) issues.push({ message: 'expected a port number between 1 and 65535', path: ['hosts', i, 'port'] });
      if (typeof hostKey !== 'string' || !KEY_LINE.test(hostKey.trim())) {
        issues.push({ message: 'expected the host\'s public key as an OpenSSH line ("ssh-ed25519 AAAA…"; ssh-keyscan prints it)', path: ['hosts', i, 'host_key'] });
      }
      if (typeof cpus !== 'number' || !(cpus > 0)) issues.push({ message: 'expected a positive number of CPUs', path: ['hosts', i, 'cpus'] });
      if (typeof memoryGb !== 'number' || !(memoryGb > 0)) issues.push({ message: 'expected a positive memory size in GB', path: ['hosts', i, 'memory_gb'] });
      if (typeof host === 'string' && typeof port === 'number' && typeof hostKey === 'string' && typeof cpus === 'number' && typeof memoryGb === 'number') {
        hosts.push({ host, port, hostKey: hostKey.trim(), cpus, memoryGb });
      }
    });
  }
  const seen = new Set<string>();
  hosts.forEach((h, i) => {
    const id = `${h.host}:${h.port}`;
    if (seen.has(id)) issues.push({ message: `${id} is listed twice`, path: ['hosts', i] });
    seen.add(id);
  });
  if (issues.length > 0) return { issues };
  return { value: { user: user as string, identityFile: identityFile as string, hosts } };
}

export const configSchema: ConfigSchema<ExampleConfig> = { '~standard': { version: 1, vendor: 'sky-driver-example', validate } };
