import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * known_hosts in OpenSSH's format, as far as host-key verification needs it: plain and hashed
 * (`|1|salt|hash`) host patterns, `[host]:port` for ports other than 22, `*`/`?` wildcards,
 * `!` negation and `@revoked` lines. `@cert-authority` lines are skipped (host certificates
 * are not supported).
 */
export interface KnownKey {
  /** The key's algorithm name as written in the file, e.g. `ssh-ed25519`. */
  type: string;
  /** The raw public key blob (what the server sends). */
  blob: Buffer;
  revoked: boolean;
}

/** The name known_hosts uses for host:port (`host` for port 22, else `[host]:port`). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** OpenSSH's fingerprint of a public key blob: `SHA256:` + unpadded base64. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key algorithm named inside a public key blob (its first SSH string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function hashedMatches(pattern: string, name: string): boolean {
  // |1|base64(salt)|base64(HMAC-SHA1(salt, name))
  const parts = pattern.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2]!, 'base64');
  const expected = parts[3]!;
  return createHmac('sha1', salt).update(name).digest('base64') === expected;
}

/** Whether a comma-separated host pattern list matches `name` (a negated match wins). */
function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatches(patterns, name);
  let matched = false;
  for (const raw of patterns.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (pattern === '') continue;
    if (globToRegExp(pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** The keys the file holds for host:port. An unreadable or missing file holds none. */
export async function knownKeysFor(file: string, host: string, port: number): Promise<KnownKey[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  return parseKnownHosts(text, host, port);
}

export function parseKnownHosts(text: string, host: string, port: number): KnownKey[] {
  const name = knownHostsName(host, port);
  const keys: KnownKey[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith('@')) {
      const marker = fields.shift();
      if (marker === '@revoked') revoked = true;
      else continue; // @cert-authority: not supported
    }
    const [patterns, type, base64] = fields;
    if (patterns === undefined || type === undefined || base64 === undefined) continue;
    if (!patternsMatch(patterns, name)) continue;
    const blob = Buffer.from(base64, 'base64');
    if (blob.length === 0) continue;
    keys.push({ type, blob, revoked });
  }
  return keys;
}

/**
 * Host keys a driver pinned for a node (`ssh-ed25519 AAAA… [comment]`, OpenSSH's public key
 * line): the only keys that node may present. Lines that are not a key are dropped, so a node
 * whose every line is bad has no key and is refused.
 */
export function pinnedKeys(lines: readonly string[]): KnownKey[] {
  const keys: KnownKey[] = [];
  for (const line of lines) {
    const [type, base64] = line.trim().split(/\s+/);
    if (type === undefined || base64 === undefined) continue;
    const blob = Buffer.from(base64, 'base64');
    if (blob.length === 0 || keyTypeOf(blob) !== type) continue;
    keys.push({ type, blob, revoked: false });
  }
  return keys;
}

/** The one line that records `blob` for host:port. */
export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  return `${knownHostsName(host, port)} ${keyTypeOf(blob)} ${blob.toString('base64')}`;
}

/** Trust on first use: append the host's key (the file and its directory are created, private). */
export async function appendKnownHost(file: string, host: string, port: number, blob: Buffer): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const current = await readFile(file, 'utf8');
    if (current.length > 0 && !current.endsWith('\n')) prefix = '\n';
  } catch {
    // a new file
  }
  await appendFile(file, `${prefix}${knownHostsLine(host, port, blob)}\n`, { mode: 0o600 });
}

/** The server host key algorithms ssh2 can verify. */
const SUPPORTED_HOST_KEY_ALGORITHMS = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
]);

/**
 * The host key algorithms to offer for a host whose keys are known, so that the server
 * presents a key of a type we can check (as OpenSSH does). Undefined: no preference.
 */
export function hostKeyAlgorithmsFor(keys: readonly KnownKey[]): string[] | undefined {
  const algorithms: string[] = [];
  for (const key of keys) {
    if (key.revoked) continue;
    const type = keyTypeOf(key.blob) || key.type;
    const names = type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
    for (const n of names) if (SUPPORTED_HOST_KEY_ALGORITHMS.has(n) && !algorithms.includes(n)) algorithms.push(n);
  }
  return algorithms.length > 0 ? algorithms : undefined;
}
