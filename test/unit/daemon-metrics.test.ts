import 'reflect-metadata';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { Driver } from '@sky/plugin-api';
import { makeCluster, makeJob, makeManagedJob, makeManagedJobSpec, makeRequest, makeSpec, MemoryStateStore } from '@sky/plugin-api/testing';
import { SkyError, type ManagedJobStatus } from '@sky/protocol';
import { createMetricsRegistry, ensureProcessMetrics } from '../../core/daemon/src/metrics/registry.js';
import { RequestMetrics, type LaneLoad } from '../../core/daemon/src/metrics/request-metrics.js';
import { DriverCallMetrics } from '../../core/daemon/src/metrics/driver-call-metrics.js';
import { storeWriteHistogram, timeStoreWrites } from '../../core/daemon/src/metrics/store-writes.js';
import { StateGauges, type StateSources } from '../../core/daemon/src/metrics/state-gauges.js';
import { registerConnectionGauges } from '../../core/daemon/src/metrics/connection-gauges.js';
import { JobMetrics } from '../../core/daemon/src/metrics/job-metrics.js';
import { ScrapeToken } from '../../core/daemon/src/metrics/scrape-token.js';
import { callDriver } from '../../core/daemon/src/clusters/driver-calls.js';
import { ManagedJobView } from '../../core/daemon/src/managed-jobs/managed-job-view.js';

// The daemon's Prometheus metrics, part by part, read back from the registry they are kept in.

type Labels = Record<string, string | number>;

/** The value of one series (a histogram's: `name` is its _count or _sum series), or undefined when absent. */
async function value(registry: Registry, name: string, labels: Labels = {}): Promise<number | undefined> {
  const family = name.replace(/_(count|sum|bucket)$/, '');
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === family || m.name === name);
  if (metric === undefined) return undefined;
  const values = (metric as unknown as { values: Array<{ value: number; labels: Labels; metricName?: string }> }).values;
  const found = values.find((v) => (v.metricName ?? metric.name) === name && Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return found?.value;
}

const fakeDriver = (): Driver => ({}) as unknown as Driver;
const progress = { signal: new AbortController().signal, log: (): void => undefined };

describe('daemon metrics', () => {
  it('labels every series with the replica, in a registry of its own', async () => {
    const registry = createMetricsRegistry('replica-a');
    const other = createMetricsRegistry('replica-b');
    const requests = new RequestMetrics(registry, () => ({ queued: { short: 0, long: 0 }, running: { short: 0, long: 0 } }));
    new RequestMetrics(other, () => ({ queued: { short: 0, long: 0 }, running: { short: 0, long: 0 } }));
    requests.observe(makeRequest({ status: 'SUCCEEDED', finishedAt: Date.now() }));
    const text = await registry.metrics();
    assert.match(text, /sky_requests_total\{operation="ping",status="SUCCEEDED",lane="short",replica="replica-a"\} 1/);
    assert.doesNotMatch(await other.metrics(), /sky_requests_total\{/, 'the other daemon counted nothing');
    ensureProcessMetrics(registry);
    ensureProcessMetrics(registry);
    const withDefaults = await registry.metrics();
    assert.match(withDefaults, /process_resident_memory_bytes\{replica="replica-a"\} \d+/);
    assert.match(withDefaults, /nodejs_eventloop_lag_seconds\{replica="replica-a"\}/);
    assert.doesNotMatch(await other.metrics(), /process_resident_memory_bytes/, 'process metrics only where they were asked for');
  });

  it('counts ended requests by operation, status and lane, times them from submit to end, and reads the lanes at the scrape', async () => {
    const registry = createMetricsRegistry('r1');
    const load: LaneLoad = { queued: { short: 3, long: 1 }, running: { short: 2, long: 0 } };
    const requests = new RequestMetrics(registry, () => load);
    const created = 1_000_000;
    requests.observe(makeRequest({ name: 'launch', lane: 'long', status: 'SUCCEEDED', createdAt: created, finishedAt: created + 2500 }));
    requests.observe(makeRequest({ name: 'launch', lane: 'long', status: 'FAILED', createdAt: created, finishedAt: created + 100 }));
    requests.observe(makeRequest({ name: 'launch', lane: 'long', status: 'SUCCEEDED', createdAt: created, finishedAt: created + 40 }));
    assert.equal(await value(registry, 'sky_requests_total', { operation: 'launch', status: 'SUCCEEDED', lane: 'long' }), 2);
    assert.equal(await value(registry, 'sky_requests_total', { operation: 'launch', status: 'FAILED', lane: 'long' }), 1);
    assert.equal(await value(registry, 'sky_request_duration_seconds_count', { operation: 'launch' }), 3);
    assert.equal(await value(registry, 'sky_request_duration_seconds_sum', { operation: 'launch' }), 2.64);
    assert.equal(await value(registry, 'sky_request_duration_seconds_bucket', { operation: 'launch', le: 0.05 }), 1);
    assert.equal(await value(registry, 'sky_request_queue_depth', { lane: 'short' }), 3);
    assert.equal(await value(registry, 'sky_requests_running', { lane: 'short' }), 2);
    load.queued.short = 0;
    assert.equal(await value(registry, 'sky_request_queue_depth', { lane: 'short' }), 0, 'read again at every scrape');
  });

  it("times this daemon's driver calls through callDriver and counts their failures by code", async () => {
    const registry = createMetricsRegistry('r1');
    const mine = fakeDriver();
    const theirs = fakeDriver();
    const metrics = new DriverCallMetrics(registry, (_id, driver) => driver === mine);
    metrics.start();
    try {
      assert.equal(await callDriver('local', mine, 'status', progress, async () => 'ok'), 'ok');
      await assert.rejects(
        callDriver('local', mine, 'provision', progress, async () => {
          throw new SkyError('NO_CAPACITY', 'full');
        }),
        /full/,
      );
      await assert.rejects(
        callDriver('local', mine, 'stop', progress, async () => {
          throw new Error('boom');
        }),
        /boom/,
      );
      await callDriver('local', theirs, 'status', progress, async () => 'ok');
    } finally {
      metrics.stop();
    }
    await callDriver('local', mine, 'status', progress, async () => 'ok');
    assert.equal(await value(registry, 'sky_driver_call_duration_seconds_count', { driver: 'local', method: 'status', outcome: 'ok' }), 1, "another daemon's driver and calls after stop are not counted");
    assert.equal(await value(registry, 'sky_driver_call_duration_seconds_count', { driver: 'local', method: 'provision', outcome: 'error' }), 1);
    assert.equal(await value(registry, 'sky_driver_call_errors_total', { driver: 'local', method: 'provision', code: 'NO_CAPACITY' }), 1);
    assert.equal(await value(registry, 'sky_driver_call_errors_total', { driver: 'local', method: 'stop', code: 'DRIVER_FAILED' }), 1);
  });

  it('times store writes by repository and method, and leaves reads and the store itself alone', async () => {
    const registry = createMetricsRegistry('r1');
    const raw = new MemoryStateStore();
    const store = timeStoreWrites(raw, storeWriteHistogram(registry));
    await store.open();
    const changes: string[] = [];
    const unsubscribe = store.subscribe((change) => changes.push(change.kind));
    const created = await store.requests.create(makeRequest());
    assert.ok(created.created);
    await store.requests.transition(created.record.id, ['PENDING'], { status: 'RUNNING' });
    await store.requests.transition(created.record.id, ['PENDING'], { status: 'RUNNING' });
    assert.equal((await store.requests.get(created.record.id))?.status, 'RUNNING', 'reads answer as the store does');
    const cluster = (await store.clusters.create(makeCluster({ name: 'c1' }))).record;
    await store.jobs.create(makeJob(cluster), makeSpec());
    assert.equal(store.requests, store.requests, 'a repository is wrapped once');
    assert.equal(store.subscribe, store.subscribe);
    assert.equal(store.kind, raw.kind);
    unsubscribe();
    assert.deepEqual(changes, ['cluster', 'job'], "the store's own feed, through the wrapper");
    assert.equal(await value(registry, 'sky_store_write_duration_seconds_count', { repository: 'requests', method: 'create' }), 1);
    assert.equal(await value(registry, 'sky_store_write_duration_seconds_count', { repository: 'requests', method: 'transition' }), 2, 'a lost compare-and-set is a write attempt too');
    assert.equal(await value(registry, 'sky_store_write_duration_seconds_count', { repository: 'clusters', method: 'create' }), 1);
    assert.equal(await value(registry, 'sky_store_write_duration_seconds_count', { repository: 'jobs', method: 'create' }), 1);
    assert.equal(await value(registry, 'sky_store_write_duration_seconds_count', { repository: 'requests', method: 'get' }), undefined, 'reads are not timed');
    await assert.rejects(store.clusters.update('c1', 999, { status: 'STOPPED' }).then((r) => {
      if (r === undefined) throw new Error('lost');
    }), /lost/);
    assert.equal(await value(registry, 'sky_store_write_duration_seconds_count', { repository: 'clusters', method: 'update' }), 1);
    await store.close();
  });

  it('counts state at the scrape with every status present, zero when empty', async () => {
    const registry = createMetricsRegistry('r1');
    const clusters = [
      { driver: 'local', status: 'UP' as const },
      { driver: 'local', status: 'UP' as const },
      { driver: 'ssh', status: 'STOPPED' as const },
    ];
    let managed = new Map<ManagedJobStatus, number>([['RUNNING', 2]]);
    const sources: StateSources = {
      clusters: () => clusters,
      drivers: () => ['local', 'kubernetes'],
      activeJobs: async () => [{ status: 'RUNNING' }, { status: 'PENDING' }, { status: 'RUNNING' }],
      managedJobs: () => managed,
      services: async () => [
        { status: 'READY', replicas: [{ status: 'READY' }, { status: 'STARTING' }] as never },
        { status: 'NO_REPLICA', replicas: [] },
      ],
    };
    const gauges = new StateGauges(registry, sources);
    await gauges.prepare();
    assert.equal(await value(registry, 'sky_clusters', { driver: 'local', status: 'UP' }), 2);
    assert.equal(await value(registry, 'sky_clusters', { driver: 'local', status: 'STOPPED' }), 0);
    assert.equal(await value(registry, 'sky_clusters', { driver: 'ssh', status: 'STOPPED' }), 1, 'a driver no longer loaded still shows its clusters');
    assert.equal(await value(registry, 'sky_clusters', { driver: 'kubernetes', status: 'UP' }), 0, 'a loaded driver without clusters has its series');
    assert.equal(await value(registry, 'sky_jobs', { status: 'RUNNING' }), 2);
    assert.equal(await value(registry, 'sky_jobs', { status: 'SETTING_UP' }), 0);
    assert.equal(await value(registry, 'sky_jobs', { status: 'SUCCEEDED' }), undefined, 'ended jobs are a counter, not this gauge');
    assert.equal(await value(registry, 'sky_managed_jobs', { status: 'RUNNING' }), 2);
    assert.equal(await value(registry, 'sky_managed_jobs', { status: 'FAILED_CONTROLLER' }), 0);
    assert.equal(await value(registry, 'sky_services', { status: 'READY' }), 1);
    assert.equal(await value(registry, 'sky_services', { status: 'FAILED' }), 0);
    assert.equal(await value(registry, 'sky_service_replicas', { status: 'STARTING' }), 1);
    clusters.pop();
    managed = new Map();
    assert.equal(await value(registry, 'sky_clusters', { driver: 'ssh', status: 'STOPPED' }), undefined, 'gone with its last cluster');
    assert.equal(await value(registry, 'sky_managed_jobs', { status: 'RUNNING' }), 0);
  });

  it('counts managed jobs by status from the view the daemon keeps, following their changes', async () => {
    const store = new MemoryStateStore();
    await store.open();
    const a = await store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
    await store.managedJobs.create(makeManagedJob(), makeManagedJobSpec());
    const view = new ManagedJobView(store);
    await view.load();
    assert.deepEqual([...view.countByStatus()], [['PENDING', 2]]);
    await store.managedJobs.update(a.id, a.version, { status: 'SUCCEEDED', endedAt: Date.now() });
    assert.deepEqual(new Map(view.countByStatus()), new Map([['PENDING', 1], ['SUCCEEDED', 1]]));
    view.close();
    await store.close();
  });

  it('reads open SSH connections and tunnels at the scrape', async () => {
    const registry = createMetricsRegistry('r1');
    let connections = 4;
    registerConnectionGauges(registry, { sshConnections: () => connections, sshTunnels: () => 1 });
    assert.equal(await value(registry, 'sky_ssh_connections_open'), 4);
    connections = 0;
    assert.equal(await value(registry, 'sky_ssh_connections_open'), 0);
    assert.equal(await value(registry, 'sky_ssh_tunnels_open'), 1);
  });

  it('counts jobs that ended from the change feed', async () => {
    const registry = createMetricsRegistry('r1');
    const jobs = new JobMetrics(registry);
    const store = new MemoryStateStore();
    await store.open();
    store.subscribe((change) => jobs.observe(change));
    const cluster = (await store.clusters.create(makeCluster({ name: 'c1' }))).record;
    const job = await store.jobs.create(makeJob(cluster), makeSpec());
    await store.jobs.transition('c1', job.id, ['PENDING'], { status: 'RUNNING' });
    await store.jobs.transition('c1', job.id, ['RUNNING'], { status: 'SUCCEEDED', endedAt: Date.now() });
    await store.jobs.transition('c1', job.id, ['RUNNING'], { status: 'FAILED', endedAt: Date.now() });
    assert.equal(await value(registry, 'sky_jobs_ended_total', { status: 'SUCCEEDED' }), 1);
    assert.equal(await value(registry, 'sky_jobs_ended_total', { status: 'FAILED' }), undefined, 'a lost compare-and-set changes nothing');
    await store.close();
  });

  it('opens the route to the scrape token only, from the config or a private file', () => {
    const token = 'scrape-token-0123456789';
    const fromConfig = ScrapeToken.fromConfig({ token });
    assert.ok(fromConfig);
    assert.equal(fromConfig.matches(`Bearer ${token}`), true);
    assert.equal(fromConfig.matches(`bearer ${token}`), true, 'the scheme is case-insensitive');
    assert.equal(fromConfig.matches(`Bearer ${token}x`), false);
    assert.equal(fromConfig.matches(`Bearer ${token.slice(0, -1)}`), false);
    assert.equal(fromConfig.matches(`Basic ${token}`), false);
    assert.equal(fromConfig.matches(''), false);
    assert.equal(ScrapeToken.fromConfig({}), undefined, 'no token: admins only');
    const dir = mkdtempSync(join(tmpdir(), 'sky-metrics-'));
    try {
      const file = join(dir, 'token');
      writeFileSync(file, `${token}\n`, { mode: 0o600 });
      assert.equal(ScrapeToken.fromConfig({ token_file: file })?.matches(`Bearer ${token}`), true);
      chmodSync(file, 0o644);
      assert.throws(() => ScrapeToken.fromConfig({ token_file: file }), (err: unknown) => err instanceof SkyError && err.code === 'CONFIG_INVALID' && /accessible to other accounts/.test(err.message));
      writeFileSync(file, 'short\n', { mode: 0o600 });
      chmodSync(file, 0o600);
      assert.throws(() => ScrapeToken.fromConfig({ token_file: file }), /at least 16 characters/);
      assert.throws(() => ScrapeToken.fromConfig({ token_file: join(dir, 'missing') }), /cannot read/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
