/**
 * A real Kubernetes control plane on 127.0.0.1 for one test file: etcd, kube-apiserver,
 * kube-controller-manager and kube-scheduler, each a process of this test run (PID files in the
 * run's temp dir), on free ports. See index.ts for what is real and what is simulated.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KubeApi, seg, type KubeAnswer, type KubeObject, type RequestOptions } from './api.js';
import { AUDIT_POLICY, auditEvents, auditMark, type AuditEvent, type AuditFilter } from './audit.js';
import { kubeBinaries } from './binaries.js';
import { writeKubeconfig, type KubeconfigOptions } from './kubeconfig.js';
import { alive, exitedEarly, freePort, readFileSafe, sh, startLogged, terminate, until, descendants, signal } from './os.js';
import { applyObject } from './resources.js';

const DIR_PREFIX = 'sky-kube-';

/** Token names every control plane has. `limited` and `user-*` have no RBAC binding at all. */
export const BUILTIN_USERS = ['admin', 'limited', 'user-a', 'user-b'] as const;

export interface ControlPlaneOptions {
  /** The folder with kube-apiserver, kube-controller-manager, kube-scheduler (default: kubeBinaries()). */
  binDir?: string;
  /** More token users (authenticated, no groups, no RBAC bindings), besides admin, limited, user-a, user-b. */
  users?: string[];
  /** The service-cluster-ip-range (default 10.96.0.0/24). */
  serviceCidr?: string;
}

export interface KubeControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  /** The CA (PEM) the API server's certificate chains to. */
  ca: string;
  caFile: string;
  /** The run's temp dir (logs, pki, etcd data, audit log). */
  dir: string;
  /** Token by user name: admin (system:masters), limited, user-a, user-b, and options.users. */
  tokens: Record<string, string>;
  /** The admin client. */
  api: KubeApi;
  auditLog: string;
  pids: { etcd: number; apiserver: number; controllerManager: number; scheduler: number };
  /** A client authenticating with the named token. */
  client(user: string): KubeApi;
  /** Write a kubeconfig (TLS verified against `ca`, token users). */
  kubeconfig(path: string, options: KubeconfigOptions): void;
  request<T = unknown>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<KubeAnswer<T>>;
  /** Server-side apply of a whole object as admin. */
  apply<T extends KubeObject>(object: T): Promise<T>;
  /** Create (or keep) a namespace and wait until its `default` service account exists. */
  createNamespace(name: string): Promise<void>;
  auditEvents(filter?: AuditFilter): AuditEvent[];
  auditCount(filter?: AuditFilter): number;
  /** A mark for `since` in audit filters. */
  auditMark(): number;
  /**
   * The sum of a metric of the API server's /metrics over the series whose labels include
   * `labels`, e.g. `metric('apiserver_longrunning_gauge', { resource: 'pods', verb: 'WATCH' })`
   * for the watches open right now (the audit log records a watch only when it ends).
   */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Kill every process by PID (SIGTERM, then SIGKILL), remove the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

function token(): string {
  return randomBytes(24).toString('hex');
}

function httpStatus(url: string, insecureTls = false): Promise<number> {
  return new Promise((resolve) => {
    const req = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, { rejectUnauthorized: !insecureTls, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

function componentKubeconfig(path: string, server: string, caFile: string, user: string, tok: string): void {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sky-test', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: user, user: { token: tok } }],
    contexts: [{ name: 'sky-test', context: { cluster: 'sky-test', user } }],
    'current-context': 'sky-test',
  };
  writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
}

/** The last certificate of a PEM chain (the self-signed apiserver writes leaf then CA). */
function lastCertificate(pem: string): string {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const last = blocks[blocks.length - 1];
  if (!last) throw new Error('the API server wrote no certificate');
  return `${last}\n`;
}

/** Start etcd, the API server, the controller manager and the scheduler; resolves once pods can be created. */
export async function startKubeControlPlane(options: ControlPlaneOptions = {}): Promise<KubeControlPlane> {
  let binDir = options.binDir;
  if (!binDir) {
    const found = kubeBinaries();
    if (found.skip !== undefined) throw new Error(found.skip);
    binDir = found.binDir;
  }
  await cleanupStaleControlPlanes();
  const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
  const children: ChildProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // Components first (they would log errors about a vanished API server), then the API server, then etcd.
    const [etcd, ...rest] = children;
    await Promise.all(rest.reverse().map((c) => (c.pid !== undefined ? terminate(c.pid) : undefined)));
    if (etcd?.pid !== undefined) await terminate(etcd.pid);
    await rm(dir, { recursive: true, force: true });
  };
  const logTail = (name: string): string => readFileSafe(join(dir, `${name}.log`)).slice(-3000);
  const mustRun = (child: ChildProcess, name: string): void => {
    if (exitedEarly(child)) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}); its log ends with:\n${logTail(name)}`);
  };

  try {
    const users = [...BUILTIN_USERS, ...(options.users ?? [])];
    const tokens: Record<string, string> = Object.fromEntries(users.map((u) => [u, token()]));
    const component = { controllerManager: token(), scheduler: token(), kubelet: token() };
    tokens['sky-fake-kubelet'] = component.kubelet;
    const tokenLines = [
      `${tokens.admin},admin,admin,"system:masters"`,
      ...users.filter((u) => u !== 'admin').map((u) => `${tokens[u]},${u},${u}`),
      `${component.controllerManager},system:kube-controller-manager,system:kube-controller-manager,"system:masters"`,
      `${component.scheduler},system:kube-scheduler,system:kube-scheduler,"system:masters"`,
      `${component.kubelet},sky-fake-kubelet,sky-fake-kubelet,"system:masters"`,
    ];
    writeFileSync(join(dir, 'tokens.csv'), tokenLines.join('\n') + '\n', { mode: 0o600 });
    writeFileSync(join(dir, 'audit-policy.json'), AUDIT_POLICY);
    const saKey = join(dir, 'sa.key');
    const keyDone = sh('openssl', ['genrsa', '-out', saKey, '2048']);

    const [etcdClient, etcdPeer, securePort, cmPort, schedPort, closedPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = startLogged(dir, 'etcd', 'etcd', [
      '--name=sky',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=sky=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--logger=zap',
      '--log-level=warn',
    ]);
    children.push(etcd.child);
    await keyDone;
    await until(async () => (mustRun(etcd.child, 'etcd'), (await httpStatus(`${etcdUrl}/health`)) === 200), 20_000, 'etcd /health', () => logTail('etcd'));

    const server = `https://127.0.0.1:${securePort}`;
    const auditLog = join(dir, 'audit.log');
    const certDir = join(dir, 'pki');
    const apiserver = startLogged(dir, 'kube-apiserver', join(binDir, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${securePort}`,
      '--insecure-port=0',
      `--cert-dir=${certDir}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--anonymous-auth=false',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${saKey}`,
      `--service-account-signing-key-file=${saKey}`,
      `--service-cluster-ip-range=${options.serviceCidr ?? '10.96.0.0/24'}`,
      '--endpoint-reconciler-type=none',
      `--audit-policy-file=${join(dir, 'audit-policy.json')}`,
      `--audit-log-path=${auditLog}`,
      '--audit-log-format=json',
      '--audit-log-mode=blocking',
      '--audit-log-maxbackup=0',
      '--audit-log-maxsize=0',
      '--profiling=false',
      '--enable-priority-and-fairness=false',
      // Port-forward is proxied to the node's kubelet endpoint at its InternalIP (the harness's
      // streaming server, fake-kubelet.ts); no --kubelet-certificate-authority: its certificate is
      // self-signed and not verified, as with any kubelet serving one.
      '--kubelet-preferred-address-types=InternalIP',
    ]);
    children.push(apiserver.child);
    const certFile = join(certDir, 'apiserver.crt');
    await until(
      () => (mustRun(apiserver.child, 'kube-apiserver'), readFileSafe(certFile).trim().endsWith('-----END CERTIFICATE-----') && existsSync(join(certDir, 'apiserver.key'))),
      30_000,
      'the API server to write its certificate',
      () => logTail('kube-apiserver'),
    );
    const ca = lastCertificate(readFileSafe(certFile));
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, ca);
    const api = new KubeApi(server, ca, tokens.admin!);

    // The controller manager gives up when the API server is not healthy within 10 s of its
    // start: start both components once the API server answers at all.
    await until(
      async () => (mustRun(apiserver.child, 'kube-apiserver'), (await api.request('GET', '/healthz', undefined, { expectOk: false }).catch(() => ({ status: 0 }))).status !== 0),
      60_000,
      'the API server to listen',
      () => logTail('kube-apiserver'),
    );
    componentKubeconfig(join(dir, 'controller-manager.kubeconfig'), server, caFile, 'system:kube-controller-manager', component.controllerManager);
    componentKubeconfig(join(dir, 'scheduler.kubeconfig'), server, caFile, 'system:kube-scheduler', component.scheduler);
    const controllerManager = startLogged(dir, 'kube-controller-manager', join(binDir, 'kube-controller-manager'), [
      `--kubeconfig=${join(dir, 'controller-manager.kubeconfig')}`,
      '--leader-elect=false',
      '--port=0',
      '--bind-address=127.0.0.1',
      `--secure-port=${cmPort}`,
      `--cert-dir=${join(dir, 'pki-controller-manager')}`,
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${caFile}`,
      // No kubelet heartbeats, no cloud, no volumes attached, no node CIDRs, no CSR signer: what
      // cannot work here stays off. The garbage collector, namespace, service-account(-token),
      // replicaset, job, deployment, ... controllers run.
      '--controllers=*,-nodelifecycle,-cloud-node-lifecycle,-nodeipam,-route,-service,-attachdetach,-persistentvolume-expander,-csrsigning,-csrapproving',
      '--profiling=false',
    ]);
    children.push(controllerManager.child);
    const scheduler = startLogged(dir, 'kube-scheduler', join(binDir, 'kube-scheduler'), [
      `--kubeconfig=${join(dir, 'scheduler.kubeconfig')}`,
      '--leader-elect=false',
      '--port=0',
      '--bind-address=127.0.0.1',
      `--secure-port=${schedPort}`,
      `--cert-dir=${join(dir, 'pki-scheduler')}`,
      '--profiling=false',
    ]);
    children.push(scheduler.child);

    const checkAll = (): void => {
      mustRun(etcd.child, 'etcd');
      mustRun(apiserver.child, 'kube-apiserver');
      mustRun(controllerManager.child, 'kube-controller-manager');
      mustRun(scheduler.child, 'kube-scheduler');
    };
    await until(
      async () => (checkAll(), (await api.request('GET', '/readyz', undefined, { expectOk: false }).catch(() => ({ status: 0 }))).status === 200),
      60_000,
      'the API server /readyz',
      () => logTail('kube-apiserver'),
    );
    const serviceAccountReady = async (namespace: string): Promise<boolean> => {
      const sa = await api.find<{ secrets?: unknown[] }>(`/api/v1/namespaces/${seg(namespace)}/serviceaccounts/default`);
      return sa !== undefined && (sa.secrets?.length ?? 0) > 0;
    };
    await Promise.all([
      until(async () => (checkAll(), serviceAccountReady('default')), 60_000, 'the default service account (controller manager)', () =>
        logTail('kube-controller-manager'),
      ),
      until(async () => (checkAll(), (await httpStatus(`https://127.0.0.1:${schedPort}/healthz`, true)) === 200), 60_000, 'the scheduler /healthz', () =>
        logTail('kube-scheduler'),
      ),
    ]);

    return {
      server,
      ca,
      caFile,
      dir,
      tokens,
      api,
      auditLog,
      pids: { etcd: etcd.child.pid!, apiserver: apiserver.child.pid!, controllerManager: controllerManager.child.pid!, scheduler: scheduler.child.pid! },
      client: (user) => {
        const t = tokens[user];
        if (t === undefined) throw new Error(`no token named ${user} (there are ${Object.keys(tokens).join(', ')})`);
        return api.as(t);
      },
      kubeconfig: (path, kubeconfigOptions) => writeKubeconfig(path, { server, ca, tokens, closedPort }, kubeconfigOptions),
      request: (method, path, body, requestOptions) => api.request(method, path, body, requestOptions),
      apply: (object) => applyObject(api, object),
      createNamespace: async (name) => {
        const answer = await api.request('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { expectOk: false });
        if (answer.status !== 201 && answer.status !== 409) throw new Error(`creating namespace ${name} answered ${answer.status}: ${answer.text}`);
        await until(() => serviceAccountReady(name), 30_000, `the default service account of namespace ${name}`);
      },
      auditEvents: (filter) => auditEvents(auditLog, filter),
      auditCount: (filter) => auditEvents(auditLog, filter).length,
      auditMark: () => auditMark(auditLog),
      metric: async (name, labels = {}) => sumMetric((await api.request<string>('GET', '/metrics')).text, name, labels),
      stop: async () => {
        api.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Sum the samples of `name` in Prometheus text whose labels include `labels`. */
export function sumMetric(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const close = line.lastIndexOf('}');
    const labelText = close > 0 ? line.slice(name.length + 1, close) : '';
    const have = new Map<string, string>();
    for (const m of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) have.set(m[1]!, m[2]!);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(line.slice(close > 0 ? close + 1 : name.length).trim().split(' ')[0]);
  }
  return sum;
}

/** Kill the processes and remove the temp dirs of control planes whose test process is dead. */
export async function cleanupStaleControlPlanes(): Promise<void> {
  for (const entry of readdirSync(tmpdir())) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(entry);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || alive(owner)) continue;
    const dir = join(tmpdir(), entry);
    for (const file of readdirSync(dir)) {
      if (!file.endsWith('.pid')) continue;
      const pid = Number(readFileSafe(join(dir, file)).trim());
      if (pid > 0 && alive(pid) && readFileSafe(`/proc/${pid}/cmdline`).includes(dir)) {
        for (const p of descendants(pid)) signal(p, 'SIGKILL');
        signal(pid, 'SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
