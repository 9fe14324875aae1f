/**
 * A pod's "container": `/usr/sbin/sshd -D -f <config>` in the pod's network namespace, with the
 * host key and authorized_keys from the pod's mounted Secret, on the container's `ssh` port,
 * logging root in with a HOME of the pod's own. As in netns-hosts, a ForceCommand sets HOME and
 * the starting directory (the /etc/netns/<ns>/passwd bind of `ip netns exec` does too, but a
 * parallel useradd replacing /etc/passwd drops it), and exports the container's literal `env`.
 * The pod's hostname is its name (a UTS namespace of its own).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { exitedEarly, readFileSafe } from './os.js';

const SSHD = '/usr/sbin/sshd';
const SFTP_SERVERS = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/lib/ssh/sftp-server', '/usr/libexec/sftp-server'];

export interface PodSshdInput {
  podDir: string;
  namespace: string;
  ip: string;
  port: number;
  hostKey: string;
  authorizedKeys: string;
  home: string;
  env: Record<string, string>;
  /** The pod's name (its hostname, at most 63 characters as Kubernetes keeps it). */
  hostname: string;
  /** The node's address, the source of the readiness probe (pods may be reachable from it only, see PodNetwork.isolate). */
  sourceIp?: string;
}

const q = (v: string): string => `'${v.replaceAll("'", `'\\''`)}'`;

async function loginScript(path: string, home: string, env: Record<string, string>, sftp: string): Promise<void> {
  const exports = Object.entries(env)
    .filter(([k]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
    .map(([k, v]) => `${k}=${q(v)}; export ${k}`);
  await writeFile(
    path,
    [
      '#!/bin/sh',
      ...exports,
      `HOME=${q(home)}; export HOME`,
      'cd "$HOME" || exit 1',
      'case "$SSH_ORIGINAL_COMMAND" in',
      `  ${q(sftp)}*) exec ${q(sftp)} -d "$HOME" ;;`,
      "  '') exec /bin/sh -i ;;",
      'esac',
      'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
}

async function passwdFor(namespace: string, home: string): Promise<void> {
  const etc = join('/etc/netns', namespace);
  await mkdir(etc, { recursive: true });
  const users = (await readFile('/etc/passwd', 'utf8'))
    .split('\n')
    .filter((l) => l.includes(':'))
    .map((l) => {
      const f = l.split(':');
      if (f[0] === 'root') f[5] = home;
      return f.join(':');
    });
  await writeFile(join(etc, 'passwd'), users.join('\n') + '\n', { mode: 0o644 });
  await writeFile(join(etc, 'shadow'), users.map((l) => `${l.split(':')[0]}:*:19000:0:99999:7:::`).join('\n') + '\n', { mode: 0o640 });
}

async function banner(ip: string, port: number, sourceIp: string | undefined): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = connect({ host: ip, port, ...(sourceIp !== undefined ? { localAddress: sourceIp } : {}) });
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
}

/** Start the pod's sshd and wait until it speaks SSH at ip:port; the child is sshd itself (`ip netns exec` execs it). */
export async function startPodSshd(input: PodSshdInput): Promise<{ child: ChildProcess; logFile: string }> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install openssh-server (scripts/ci-setup.sh does it on Debian)`);
  const sftp = SFTP_SERVERS.find((p) => existsSync(p));
  if (!sftp) throw new Error(`no sftp-server found (looked in ${SFTP_SERVERS.join(', ')}): install openssh-server`);
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  await mkdir(input.home, { recursive: true, mode: 0o700 });
  const login = join(input.podDir, 'login.sh');
  await loginScript(login, input.home, input.env, sftp);
  await passwdFor(input.namespace, input.home);
  const config = join(input.podDir, 'sshd_config');
  const logFile = join(input.podDir, 'sshd.log');
  await writeFile(
    config,
    [
      `Port ${input.port}`,
      'ListenAddress 0.0.0.0',
      `HostKey ${input.hostKey}`,
      `PidFile ${join(input.podDir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${input.authorizedKeys}`,
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
      'MaxSessions 100',
      // See netns-hosts: keeps a host ~/.bashrc hook out of the forced command's shell.
      'SetEnv SHLVL=1',
      `Subsystem sftp ${sftp}`,
      `ForceCommand ${login}`,
      '',
    ].join('\n'),
  );
  // Its own UTS namespace too, so `hostname` in the pod answers the pod's name as in a real pod;
  // unshare and sh exec in turn, so the child's PID is sshd's.
  const child = spawn(
    'ip',
    ['netns', 'exec', input.namespace, 'unshare', '--uts', '/bin/sh', '-c', 'hostname "$0" && exec "$@"', input.hostname, SSHD, '-D', '-f', config, '-E', logFile],
    { stdio: 'ignore' },
  );
  child.on('error', () => undefined);
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exitedEarly(child)) throw new Error(`sshd for ${input.ip}:${input.port} exited (${child.exitCode ?? child.signalCode}): ${readFileSafe(logFile).slice(-2000)}`);
    if ((await banner(input.ip, input.port, input.sourceIp)).startsWith('SSH-')) return { child, logFile };
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`sshd for ${input.ip}:${input.port} did not answer within 10 s: ${readFileSafe(logFile).slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
