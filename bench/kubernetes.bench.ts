/**
 * The Kubernetes driver end to end, on a real control plane (etcd, kube-apiserver, scheduler,
 * controller manager) with the test harness playing the kubelet on 2 nodes (test/helpers/kube),
 * through the built daemon and CLI:
 *
 * 1. `sky launch` of a 1-node cluster → the first log line of its task, wall time from the CLI's
 *    start and from the pod's creation (the audit log's `create pods` requestReceivedTimestamp,
 *    microseconds); `sky down` between runs, not timed.
 * 2. API-server requests per job of the daemon's own user (`sky-daemon`, bound to cluster-admin)
 *    on one UP cluster: 1 job, then 100 concurrent `exec -d` through REST, each until every job
 *    ended; open watches (the audit log writes a watch only when it ends) counted apart from the
 *    `apiserver_longrunning_gauge` metric.
 * 3. API-server requests per launch (provision + terminate of a 1-node cluster), 1 vs 10
 *    concurrent launches.
 *
 *   TSX_TSCONFIG_PATH=test/tsconfig.json node --conditions=sky-source --import tsx bench/kubernetes.bench.ts [--json FILE] [--quick]
 * Needs `npm run build`, root (network namespaces) and the control plane binaries
 * (scripts/kube-build.sh). Every process (daemon, control plane, pod sshds) is stopped by PID at
 * the end, also on failure. Figures are reported, never asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { http, removeHome, SKY_BIN, startDaemon, tempHome, type DaemonHandle } from '../test/helpers/daemon-process.js';
import { kubeBinaries, startFakeKubelet, startKubeControlPlane, type FakeKubelet, type KubeControlPlane } from '../test/helpers/kube/index.js';

const args = process.argv.slice(2);
const jsonIndex = args.indexOf('--json');
const jsonFile = jsonIndex >= 0 ? args[jsonIndex + 1] : undefined;
const quick = args.includes('--quick');
const RUNS = quick ? 3 : 8;
const CONCURRENT_JOBS = 100;
const CONCURRENT_LAUNCHES = 10;
const NS = 'sky-bench';
const CONTEXT = 'bench';
const DAEMON_USER = 'sky-daemon';
const PHASE_LIMIT_MS = 300_000;

/** Wall-clock now in µs since the epoch (sub-millisecond, to compare with audit timestamps). */
const nowUs = (): number => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** An RFC 3339 time with up to 9 fractional digits, in µs since the epoch. */
function parseUs(stamp: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(stamp);
  if (!m) throw new Error(`not an RFC 3339 time: ${stamp}`);
  const fraction = (m[2] ?? '').padEnd(6, '0').slice(0, 6);
  return Date.parse(`${m[1]}${m[3]}`) * 1000 + Number(fraction);
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
}

interface RawAuditEvent {
  auditID: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; name?: string };
  requestReceivedTimestamp?: string;
}

/** The audit events between two byte marks of the log (one per audit ID). */
function auditBetween(file: string, from: number, to: number): RawAuditEvent[] {
  const text = readFileSync(file).subarray(from, to).toString('utf8');
  const seen = new Set<string>();
  const out: RawAuditEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let event: RawAuditEvent;
    try {
      event = JSON.parse(line) as RawAuditEvent;
    } catch {
      continue;
    }
    if (seen.has(event.auditID)) continue;
    seen.add(event.auditID);
    out.push(event);
  }
  return out;
}

/** The daemon user's requests between two marks, with a count by `verb resource[/sub]`. */
function daemonRequests(cp: KubeControlPlane, from: number, to: number): { total: number; byKind: Record<string, number> } {
  const mine = auditBetween(cp.auditLog, from, to).filter((e) => e.user.username === DAEMON_USER);
  const byKind: Record<string, number> = {};
  for (const e of mine) {
    const kind = `${e.verb} ${e.objectRef?.resource ?? '-'}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  }
  return { total: mine.length, byKind };
}

const openWatches = (cp: KubeControlPlane): Promise<number> => cp.metric('apiserver_longrunning_gauge', { verb: 'WATCH' });
const openPodWatches = (cp: KubeControlPlane): Promise<number> => cp.metric('apiserver_longrunning_gauge', { resource: 'pods', verb: 'WATCH' });

/** The CLIs running now, killed by PID if the bench is stopped. */
const running = new Set<ChildProcess>();

/** Run `sky ARGS`; resolves with the wall-clock µs when stdout first shows `marker` (if given), the exit code and output. */
function sky(env: NodeJS.ProcessEnv, skyArgs: string[], marker?: string): Promise<{ code: number | null; markerAtUs: number | undefined; out: string }> {
  return new Promise((resolve, reject) => {
    let markerAtUs: number | undefined;
    let out = '';
    let err = '';
    const child = spawn(process.execPath, ['--', SKY_BIN, ...skyArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const timer = setTimeout(() => child.kill('SIGKILL'), PHASE_LIMIT_MS);
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (marker !== undefined && markerAtUs === undefined && out.includes(marker)) markerAtUs = nowUs();
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      running.delete(child);
      clearTimeout(timer);
      resolve({ code, markerAtUs, out: `${out}${err}` });
    });
  });
}

async function skyOk(env: NodeJS.ProcessEnv, skyArgs: string[], marker?: string): Promise<{ markerAtUs: number | undefined }> {
  const r = await sky(env, skyArgs, marker);
  if (r.code !== 0 || (marker !== undefined && r.markerAtUs === undefined)) throw new Error(`sky ${skyArgs.join(' ')} exited ${r.code}:\n${r.out.slice(-2000)}`);
  return r;
}

async function rest(daemon: DaemonHandle, method: string, path: string, body?: unknown): Promise<unknown> {
  const answer = await http(`${daemon.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${answer.text.slice(0, 500)}`);
  return answer.json();
}

/** Submit one `exec -d` through REST; resolves once the request ended (the job is queued). */
async function execDetached(daemon: DaemonHandle, cluster: string): Promise<void> {
  const { requestId } = (await rest(daemon, 'POST', '/api/v1/exec', { cluster, task: { run: 'true' } })) as { requestId: string };
  const deadline = Date.now() + PHASE_LIMIT_MS;
  for (;;) {
    const record = (await rest(daemon, 'GET', `/api/v1/requests/${requestId}/wait?timeout=30`)) as { status: string; error?: unknown };
    if (record.status === 'SUCCEEDED') return;
    if (record.status !== 'PENDING' && record.status !== 'RUNNING') throw new Error(`exec on ${cluster}: ${record.status} ${JSON.stringify(record.error)}`);
    if (Date.now() > deadline) throw new Error(`exec request ${requestId} still ${record.status}`);
  }
}

/** Wait (polling the daemon's job table, which asks nothing of Kubernetes) until the cluster has `total` jobs, all ended. */
async function jobsEnded(daemon: DaemonHandle, cluster: string, total: number): Promise<Record<string, number>> {
  const deadline = Date.now() + PHASE_LIMIT_MS;
  for (;;) {
    const { items } = (await rest(daemon, 'GET', `/api/v1/clusters/${cluster}/jobs?all_users=true`)) as { items: Array<{ status: string }> };
    const active = items.filter((j) => j.status === 'PENDING' || j.status === 'SETTING_UP' || j.status === 'RUNNING').length;
    if (items.length >= total && active === 0) {
      const byStatus: Record<string, number> = {};
      for (const j of items) byStatus[j.status] = (byStatus[j.status] ?? 0) + 1;
      return byStatus;
    }
    if (Date.now() > deadline) throw new Error(`${cluster}: ${active} of ${items.length} jobs still active`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const load = (): number => Number(loadavg()[0]!.toFixed(2));
const ms = (us: number): number => Math.round(us / 100) / 10;

const bins = kubeBinaries();
if (bins.skip !== undefined) {
  console.error(`kubernetes bench: no control plane binaries: ${bins.skip}`);
  process.exit(1);
}

let cp: KubeControlPlane | undefined;
let kubelet: FakeKubelet | undefined;
let daemon: DaemonHandle | undefined;
const home = tempHome();
const loadStart = load();
// One stop, however many ask for it (a signal, and the main flow's finally once its calls fail):
// each waits until every process is gone.
let stopping: Promise<void> | undefined;
const stopAll = (): Promise<void> =>
  (stopping ??= (async () => {
    for (const child of running) child.kill('SIGKILL');
    await daemon?.stop();
    await kubelet?.stop();
    await cp?.stop();
    removeHome(home);
  })());
const onSignal = (): void => {
  void stopAll().finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

try {
  cp = await startKubeControlPlane({ binDir: bins.binDir, users: [DAEMON_USER] });
  kubelet = await startFakeKubelet(cp, {
    nodes: [
      { name: 'node-1', cpus: 32, memoryGi: 128 },
      { name: 'node-2', cpus: 32, memoryGi: 128 },
    ],
  });
  await cp.createNamespace(NS);
  await cp.apply({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'sky-daemon-admin' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: DAEMON_USER }],
  });
  const kubeconfig = join(home, 'kubeconfig');
  cp.kubeconfig(kubeconfig, { contexts: [{ name: CONTEXT, user: DAEMON_USER }] });
  // The harness's own watches (scheduler, controller manager, kubelet), before the daemon opens any.
  const harnessWatches = { all: await openWatches(cp), pods: await openPodWatches(cp) };
  const config = ['drivers:', '  k8s:', `    kubeconfig: ${kubeconfig}`, `    allowed_contexts: [${CONTEXT}]`, `    namespace: ${NS}`, ''].join('\n');
  daemon = await startDaemon({ home, config });
  const env = { ...process.env, HOME: home, SKYPILOT_API_SERVER_ENDPOINT: daemon.url, NO_COLOR: '1' };
  const infra = `k8s/${CONTEXT}`;

  // ---- 1. launch → first line, and pod created → first line
  const launchMs: number[] = [];
  const podMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cluster = `k${i}`;
    const mark = cp.auditMark();
    const t0 = nowUs();
    const { markerAtUs } = await skyOk(env, ['launch', '-y', '-c', cluster, '--infra', infra, 'echo first-line'], 'first-line');
    const creates = auditBetween(cp.auditLog, mark, cp.auditMark()).filter(
      (e) => e.user.username === DAEMON_USER && e.verb === 'create' && e.objectRef?.resource === 'pods' && e.objectRef.subresource === undefined,
    );
    const created = creates.find((e) => e.objectRef?.name?.startsWith(`sky-${cluster}-`)) ?? creates[0];
    if (created?.requestReceivedTimestamp === undefined) throw new Error(`no "create pods" audit event of ${DAEMON_USER} for cluster ${cluster}`);
    launchMs.push(ms(markerAtUs! - t0));
    podMs.push(ms(markerAtUs! - parseUs(created.requestReceivedTimestamp)));
    console.log(`run ${i + 1}/${RUNS}: launch → first line ${launchMs[i]} ms, pod created → first line ${podMs[i]} ms (load ${load()})`);
    await skyOk(env, ['down', '-y', cluster]);
  }
  const firstLine = {
    runs: RUNS,
    launch_ms: { p50: quantile(launchMs, 0.5), p90: quantile(launchMs, 0.9), all: launchMs },
    pod_ms: { p50: quantile(podMs, 0.5), p90: quantile(podMs, 0.9), all: podMs },
  };
  console.log(`sky launch 1-node → first log line: median ${firstLine.launch_ms.p50} ms, p90 ${firstLine.launch_ms.p90} ms over ${RUNS}`);
  console.log(`pod created (audit) → first log line: median ${firstLine.pod_ms.p50} ms, p90 ${firstLine.pod_ms.p90} ms`);

  // ---- 2. requests per job, 1 vs 100 concurrent
  await skyOk(env, ['launch', '-y', '-c', 'kjobs', '--infra', infra, 'true']);
  await jobsEnded(daemon, 'kjobs', 1);
  const idleMark = cp.auditMark();
  const idleStart = performance.now();
  await new Promise((r) => setTimeout(r, 5000));
  const idle = daemonRequests(cp, idleMark, cp.auditMark());
  const idlePerSecond = idle.total / ((performance.now() - idleStart) / 1000);
  const watchesBefore = { all: await openWatches(cp), pods: await openPodWatches(cp) };
  const one = cp.auditMark();
  await execDetached(daemon, 'kjobs');
  await jobsEnded(daemon, 'kjobs', 2);
  const many = cp.auditMark();
  const manyStart = performance.now();
  await Promise.all(Array.from({ length: CONCURRENT_JOBS }, () => execDetached(daemon!, 'kjobs')));
  const statuses = await jobsEnded(daemon, 'kjobs', 2 + CONCURRENT_JOBS);
  const manySeconds = (performance.now() - manyStart) / 1000;
  const end = cp.auditMark();
  const watchesAfter = { all: await openWatches(cp), pods: await openPodWatches(cp) };
  const single = daemonRequests(cp, one, many);
  const hundred = daemonRequests(cp, many, end);
  const perJob = { one: single.total, hundred: hundred.total / CONCURRENT_JOBS };
  const jobs = {
    idle_requests_per_second: idlePerSecond,
    one_job: single,
    concurrent_jobs: CONCURRENT_JOBS,
    concurrent: hundred,
    concurrent_seconds: manySeconds,
    statuses,
    per_job: perJob,
    ratio: perJob.one === 0 ? (perJob.hundred === 0 ? 1 : Number.POSITIVE_INFINITY) : perJob.hundred / perJob.one,
    open_watches: { harness: harnessWatches, before: watchesBefore, after: watchesAfter },
  };
  console.log(`idle (cluster UP, no job): ${idlePerSecond.toFixed(2)} requests/s of ${DAEMON_USER}`);
  console.log(`API requests per job: 1 job → ${perJob.one} ${JSON.stringify(single.byKind)}; ${CONCURRENT_JOBS} concurrent → ${perJob.hundred.toFixed(2)} per job ${JSON.stringify(hundred.byKind)} in ${manySeconds.toFixed(1)} s; jobs ${JSON.stringify(statuses)}`);
  // Only the pod watches are the daemon's for sure: the controller manager opens more watches on
  // other resources as it goes (its garbage collector's monitors), so the total is not attributed.
  console.log(
    `open watches on pods: ${harnessWatches.pods} of the harness before the daemon started; ${watchesBefore.pods} before the jobs, ${watchesAfter.pods} after ` +
      `(the daemon's: ${watchesBefore.pods - harnessWatches.pods} → ${watchesAfter.pods - harnessWatches.pods}); all watches ${watchesBefore.all} → ${watchesAfter.all}`,
  );
  await skyOk(env, ['down', '-y', 'kjobs']);

  // ---- 3. requests per launch (provision + terminate), 1 vs 10 concurrent
  const l1 = cp.auditMark();
  await skyOk(env, ['launch', '-y', '-c', 'l-one', '--infra', infra, 'true']);
  await skyOk(env, ['down', '-y', 'l-one']);
  const l10 = cp.auditMark();
  const names = Array.from({ length: CONCURRENT_LAUNCHES }, (_, i) => `l-${i}`);
  await Promise.all(names.map((n) => skyOk(env, ['launch', '-y', '-c', n, '--infra', infra, 'true'])));
  await Promise.all(names.map((n) => skyOk(env, ['down', '-y', n])));
  const lEnd = cp.auditMark();
  const launchOne = daemonRequests(cp, l1, l10);
  const launchTen = daemonRequests(cp, l10, lEnd);
  const perLaunch = { one: launchOne.total, ten: launchTen.total / CONCURRENT_LAUNCHES };
  const podWatchesEnd = (await openPodWatches(cp)) - harnessWatches.pods;
  const launches = { one: launchOne, concurrent_launches: CONCURRENT_LAUNCHES, concurrent: launchTen, per_launch: perLaunch, ratio: perLaunch.ten / perLaunch.one, open_pod_watches_at_end: podWatchesEnd };
  console.log(`API requests per launch+down: 1 → ${perLaunch.one} ${JSON.stringify(launchOne.byKind)}; ${CONCURRENT_LAUNCHES} concurrent → ${perLaunch.ten.toFixed(2)} per launch ${JSON.stringify(launchTen.byKind)}`);
  console.log(`open watches of the daemon on pods at the end: ${podWatchesEnd}`);
  const loadEnd = load();
  console.log(`1-minute load average: ${loadStart} at the start, ${loadEnd} at the end`);

  if (jsonFile) {
    mkdirSync(dirname(jsonFile), { recursive: true });
    writeFileSync(
      jsonFile,
      JSON.stringify(
        {
          bench: 'k8s',
          loadavg_1m: { start: loadStart, end: loadEnd },
          first_line: firstLine,
          jobs,
          launches,
          metrics: [
            { id: 'k8s.launch.firstLine', label: 'k8s: sky launch 1-node → first log line, median', value: firstLine.launch_ms.p50, unit: 'ms', better: 'lower' },
            { id: 'k8s.pod.firstLine', label: 'k8s: pod created → first log line, median', value: firstLine.pod_ms.p50, unit: 'ms', better: 'lower' },
            { id: 'k8s.requestsPerJob.one', label: 'k8s: API requests per job, 1 job', value: perJob.one, unit: '', better: 'lower' },
            { id: 'k8s.requestsPerJob.concurrent', label: `k8s: API requests per job, ${CONCURRENT_JOBS} concurrent`, value: perJob.hundred, unit: '', better: 'lower' },
            { id: 'k8s.daemonPodWatches', label: 'k8s: open watches on pods of the daemon, after 100 jobs', value: watchesAfter.pods - harnessWatches.pods, unit: '', better: 'lower' },
            { id: 'k8s.requestsPerLaunch.one', label: 'k8s: API requests per launch+down, 1', value: perLaunch.one, unit: '', better: 'lower' },
            { id: 'k8s.requestsPerLaunch.concurrent', label: `k8s: API requests per launch+down, ${CONCURRENT_LAUNCHES} concurrent`, value: perLaunch.ten, unit: '', better: 'lower' },
          ],
        },
        null,
        2,
      ),
    );
  }
} finally {
  await stopAll();
}
