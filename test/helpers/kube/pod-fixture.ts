/**
 * Pods following the driver contract, for tests: a Secret with an ed25519 host key pair and
 * authorized_keys (made by ssh-keygen), a pod mounting it as volume `sky-ssh`, with an init
 * container `sky-sshd-install`, container 0 exposing port `ssh`, and the OpenSSH client run
 * against it with StrictHostKeyChecking=yes and a known_hosts made from the Secret's public key.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from './api.js';
import { sh } from './os.js';
import type { Pod } from './pod-status.js';

export interface PodFixtureOptions {
  namespace: string;
  name: string;
  secretName: string;
  image?: string;
  cpu?: string;
  memory?: string;
  gpus?: number;
  port?: number;
  nodeSelector?: Record<string, string>;
  labels?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string }>;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface SshPodFixture {
  dir: string;
  /** The client's private key file (its public key is in the Secret's authorized_keys). */
  clientKey: string;
  /** `ssh-ed25519 AAAA...` of the pods' host key. */
  hostPublicKey: string;
  secret(namespace: string, name: string): KubeObject;
  pod(options: PodFixtureOptions): Pod;
  /** ssh root@ip -p port with host key checking against the Secret's public key only. */
  ssh(ip: string, port: number, command: string): Promise<SshResult>;
  destroy(): Promise<void>;
}

export async function sshPodFixture(): Promise<SshPodFixture> {
  const dir = await mkdtemp(join(tmpdir(), `sky-kube-${process.pid}-fixture-`));
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const clientKey = join(dir, 'id_ed25519');
  await Promise.all([
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'pod-host', '-f', hostKey]),
    sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sky-test', '-f', clientKey]),
  ]);
  const [hostPriv, hostPub, clientPub] = await Promise.all([readFile(hostKey, 'utf8'), readFile(`${hostKey}.pub`, 'utf8'), readFile(`${clientKey}.pub`, 'utf8')]);
  const hostPublicKey = hostPub.trim().split(/\s+/).slice(0, 2).join(' ');
  const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
  let knownHostsCount = 0;

  return {
    dir,
    clientKey,
    hostPublicKey,
    secret: (namespace, name) => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace },
      type: 'Opaque',
      data: { ssh_host_ed25519_key: b64(hostPriv), 'ssh_host_ed25519_key.pub': b64(hostPub), authorized_keys: b64(clientPub) },
    }),
    pod: (o) => {
      const resources: Record<string, string> = { cpu: o.cpu ?? '500m', memory: o.memory ?? '256Mi', ...(o.gpus ? { 'nvidia.com/gpu': String(o.gpus) } : {}) };
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: o.name, namespace: o.namespace, labels: o.labels ?? {}, ...(o.ownerReferences ? { ownerReferences: o.ownerReferences } : {}) },
        spec: {
          automountServiceAccountToken: false,
          restartPolicy: 'Never',
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          volumes: [
            { name: 'sky-ssh', secret: { secretName: o.secretName, defaultMode: 0o400 } },
            { name: 'sky-bin', emptyDir: {} },
          ],
          initContainers: [
            {
              name: 'sky-sshd-install',
              image: 'sky-runtime:test',
              command: ['/bin/sh', '-c', 'cp /sky/sshd /sky-bin/'],
              volumeMounts: [{ name: 'sky-bin', mountPath: '/sky-bin' }],
            },
          ],
          containers: [
            {
              name: 'main',
              image: o.image ?? 'ubuntu:22.04',
              command: ['/sky-bin/sshd', '-D'],
              ports: [{ name: 'ssh', containerPort: o.port ?? 22 }],
              resources: { requests: resources, limits: resources },
              securityContext: { allowPrivilegeEscalation: false },
              volumeMounts: [
                { name: 'sky-ssh', mountPath: '/etc/sky-ssh', readOnly: true },
                { name: 'sky-bin', mountPath: '/sky-bin' },
              ],
            },
          ],
        },
      } as Pod;
    },
    ssh: async (ip, port, command) => {
      const knownHosts = join(dir, `known_hosts-${knownHostsCount++}`);
      await writeFile(knownHosts, `${port === 22 ? ip : `[${ip}]:${port}`} ${hostPublicKey}\n`, { mode: 0o600 });
      const args = [
        '-i',
        clientKey,
        '-p',
        String(port),
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-o',
        'IdentitiesOnly=yes',
        '-o',
        'BatchMode=yes',
        '-o',
        'ConnectTimeout=10',
        '-F',
        '/dev/null',
        `root@${ip}`,
        command,
      ];
      return new Promise((resolve) => {
        execFile('ssh', args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
          const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 255) : 0;
          resolve({ code, stdout, stderr });
        });
      });
    },
    destroy: () => rm(dir, { recursive: true, force: true }),
  };
}
