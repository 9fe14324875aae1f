import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { afterEach, beforeEach, describe, it, type TestContext } from 'node:test';
import {
  feasibilityExtension,
  unmetResources,
  type DriverCallOptions,
  type DriverCapacity,
  type NodeStatusReport,
  type ProvisionedCluster,
  type ProvisionRequest,
  type ResourceRequest,
  type Resources,
} from '../driver.js';
import type { Driver } from '../plugin.js';

/** One fresh driver for one test. */
export interface DriverFixture {
  /** A ready driver (its plugin's init already ran). The suite closes it. */
  driver: Driver;
  /**
   * What one node asks for in the suite's requests; the driver must fit `numNodes` such nodes
   * at once, twice over. Default: exactly 1 CPU.
   */
  nodeRequest?: ResourceRequest;
  /** Nodes per cluster in the suite's requests. Default 2. */
  numNodes?: number;
  /** The `infra` the suite passes in its requests (the part after the driver id), if any. */
  infra?: string;
  /**
   * Whether capacity() reflects what this driver's clusters hold (default true). Only a driver
   * whose capacity is effectively unbounded sets false; the capacity tests then skip, loudly.
   */
  tracksCapacity?: boolean;
  /**
   * Whether the driver can stop and start clusters (default true). A driver whose nodes cannot be
   * powered off (SSH node pools: whole machines the team owns) sets false; stop must then reject
   * with SkyError NOT_SUPPORTED and leave the cluster UP, and the stop/start steps are skipped, loudly.
   */
  stops?: boolean;
  /** A new driver over the same backing infrastructure, as after a daemon restart. Enables the restart test. */
  reopen?: () => Promise<Driver>;
  /** Remove whatever the fixture created. Runs after the suite has terminated its clusters and closed the driver(s). */
  cleanup: () => Promise<void>;
}

export type DriverFactory = () => Promise<DriverFixture>;

const DEFAULT_NODE: ResourceRequest = { cpus: { min: 1, orMore: false } };

interface Harness {
  fixture: DriverFixture;
  driver: Driver;
  /** Every driver instance opened for the test, closed afterwards. */
  drivers: Driver[];
  /** Clusters to terminate after the test, whatever it did. */
  created: ProvisionedCluster[];
  lines: string[];
}

function callOptions(h: Harness, signal?: AbortSignal): DriverCallOptions {
  return { signal: signal ?? new AbortController().signal, log: (line) => void h.lines.push(line) };
}

function clusterRequest(fixture: DriverFixture, overrides: Partial<ProvisionRequest> = {}): ProvisionRequest {
  const id = randomBytes(4).toString('hex');
  const req: ProvisionRequest = {
    clusterName: `conformance-${id}`,
    clusterId: `conformance-${id}-${Date.now().toString(36)}`,
    owner: 'conformance',
    numNodes: fixture.numNodes ?? 2,
    resources: fixture.nodeRequest ?? DEFAULT_NODE,
    ...overrides,
  };
  if (fixture.infra !== undefined && overrides.infra === undefined) req.infra = fixture.infra;
  return req;
}

/** The cluster as the daemon would hand it back: through JSON, so nothing but data survives. */
function persisted(cluster: ProvisionedCluster): ProvisionedCluster {
  return JSON.parse(JSON.stringify(cluster)) as ProvisionedCluster;
}

async function provision(h: Harness, req: ProvisionRequest, driver: Driver = h.driver): Promise<ProvisionedCluster> {
  const cluster = await driver.provision(req, callOptions(h));
  h.created.push(persisted(cluster));
  return persisted(cluster);
}

async function statusById(h: Harness, cluster: ProvisionedCluster, driver: Driver = h.driver): Promise<Map<string, NodeStatusReport>> {
  const reports = await driver.status(persisted(cluster), callOptions(h));
  assert.ok(Array.isArray(reports), 'status() must resolve with an array of node reports');
  const byId = new Map<string, NodeStatusReport>();
  for (const r of reports) {
    assert.ok(['UP', 'STOPPED', 'TERMINATED', 'UNREACHABLE'].includes(r.status), `status ${JSON.stringify(r.status)} is not a node status`);
    assert.ok(!byId.has(r.nodeId), `status() reports node ${r.nodeId} twice`);
    byId.set(r.nodeId, r);
  }
  return byId;
}

async function assertAll(h: Harness, cluster: ProvisionedCluster, status: 'UP' | 'STOPPED', driver?: Driver): Promise<void> {
  const byId = await statusById(h, cluster, driver);
  for (const node of cluster.nodes) {
    const r = byId.get(node.id);
    assert.ok(r !== undefined, `status() says nothing about node ${node.id}`);
    assert.equal(r.status, status, `node ${node.id} is ${r.status}${r.reason === undefined ? '' : ` (${r.reason})`}, expected ${status}`);
  }
}

async function assertGone(h: Harness, cluster: ProvisionedCluster, ids?: string[]): Promise<void> {
  const byId = await statusById(h, cluster);
  for (const id of ids ?? cluster.nodes.map((n) => n.id)) {
    const r = byId.get(id);
    if (r !== undefined) assert.equal(r.status, 'TERMINATED', `node ${id} is ${r.status} after terminate, expected TERMINATED or absent`);
  }
}

function assertCancelled(error: unknown): true {
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  assert.ok(code === 'CANCELLED' || name === 'AbortError', `an aborted call must reject with SkyError CANCELLED, got ${String(error)}`);
  return true;
}

function assertSameCapacity(actual: DriverCapacity, expected: DriverCapacity, when: string): void {
  const norm = (r: Resources): Resources => ({
    cpus: r.cpus,
    memoryGb: r.memoryGb,
    accelerators: [...r.accelerators].sort((a, b) => a.name.localeCompare(b.name)),
  });
  assert.deepEqual(norm(actual.free), norm(expected.free), `free capacity ${when} differs from before`);
}

function numbersIn(text: string): number[] {
  return [...text.matchAll(/\d+(?:\.\d+)?/g)].map((m) => Number(m[0]));
}

/** For a driver that cannot stop: stop rejects with NOT_SUPPORTED and the cluster stays UP. */
async function assertStopRefused(h: Harness, cluster: ProvisionedCluster, driver: Driver = h.driver): Promise<void> {
  await assert.rejects(driver.stop(persisted(cluster), callOptions(h)), (error: unknown) => {
    const { code } = (error ?? {}) as { code?: unknown };
    assert.equal(code, 'NOT_SUPPORTED', `a driver declaring stops:false must refuse stop with SkyError NOT_SUPPORTED, got ${String(error)}`);
    return true;
  });
  await assertAll(h, cluster, 'UP', driver);
}

function skipUnlessTracked(h: Harness, t: TestContext): boolean {
  if (h.fixture.tracksCapacity === false) {
    t.skip('SKIPPED: this driver declares tracksCapacity:false, so capacity accounting is not checked');
    return false;
  }
  return true;
}

/**
 * Register the driver conformance suite with node:test. Every driver (first-party or from npm)
 * must pass it unchanged: provision → UP with ranks 0..N-1 → stop → STOPPED → start → UP →
 * terminate → gone; NO_CAPACITY naming what is left; node sizes that satisfy the request;
 * capacity held and given back; abort honoured; idempotent provision; state that survives JSON;
 * and, for a driver that answers feasibility, answers that agree with provision.
 */
export function runDriverConformance(name: string, factory: DriverFactory): void {
  describe(`Driver conformance: ${name}`, () => {
    let current: Harness | undefined;
    const h = (): Harness => {
      if (current === undefined) throw new Error('no driver: the fixture failed');
      return current;
    };

    beforeEach(async () => {
      const fixture = await factory();
      current = { fixture, driver: fixture.driver, drivers: [fixture.driver], created: [], lines: [] };
    });

    afterEach(async () => {
      const done = current;
      current = undefined;
      if (done === undefined) return;
      try {
        for (const cluster of done.created) {
          await done.driver.terminate(cluster, callOptions(done)).catch(() => undefined);
        }
        for (const driver of done.drivers) await driver.close?.();
      } finally {
        await done.fixture.cleanup();
      }
    });

    it('provisions N UP nodes with distinct ids, ranks 0..N-1, addresses and a reach', async () => {
      const req = clusterRequest(h().fixture);
      const cluster = await provision(h(), req);
      assert.equal(cluster.nodes.length, req.numNodes, `asked for ${req.numNodes} nodes`);
      assert.deepEqual(
        cluster.nodes.map((n) => n.rank),
        Array.from({ length: req.numNodes }, (_, i) => i),
        'nodes must be in rank order 0..N-1',
      );
      assert.equal(new Set(cluster.nodes.map((n) => n.id)).size, req.numNodes, 'node ids must be distinct');
      for (const node of cluster.nodes) {
        assert.ok(typeof node.id === 'string' && node.id.length > 0, 'a node id is a non-empty string');
        assert.ok(typeof node.address === 'string' && node.address.length > 0, `node ${node.id} has no address`);
        if (node.reach.kind === 'local') {
          assert.ok((await stat(node.reach.root)).isDirectory(), `local node ${node.id}: ${node.reach.root} is not a directory`);
        } else {
          assert.equal(node.reach.kind, 'ssh', `node ${node.id}: reach.kind must be 'local' or 'ssh'`);
          assert.ok(node.reach.host.length > 0 && node.reach.user.length > 0, `node ${node.id}: ssh reach needs host and user`);
          assert.ok(Number.isInteger(node.reach.port) && node.reach.port > 0 && node.reach.port < 65536, `node ${node.id}: bad ssh port`);
        }
      }
      await assertAll(h(), cluster, 'UP');
    });

    it('gives every node resources that satisfy the request', async () => {
      const req = clusterRequest(h().fixture);
      const cluster = await provision(h(), req);
      for (const node of cluster.nodes) {
        assert.deepEqual(unmetResources(node.resources, req.resources), [], `node ${node.id} does not satisfy the request`);
      }
    });

    it('stops (STOPPED), starts again with the same nodes (UP), terminates (gone); each step repeatable', async (t) => {
      const cluster = await provision(h(), clusterRequest(h().fixture));
      const ids = cluster.nodes.map((n) => n.id);
      if (h().fixture.stops === false) {
        t.diagnostic('this driver declares stops:false: checking that stop is refused with NOT_SUPPORTED instead of the stop/start steps');
        await assertStopRefused(h(), cluster);
        await h().driver.terminate(persisted(cluster), callOptions(h()));
        await assertGone(h(), cluster, ids);
        await h().driver.terminate(persisted(cluster), callOptions(h()));
        await assertGone(h(), cluster, ids);
        return;
      }
      await h().driver.stop(persisted(cluster), callOptions(h()));
      await assertAll(h(), cluster, 'STOPPED');
      await h().driver.stop(persisted(cluster), callOptions(h()));
      await assertAll(h(), cluster, 'STOPPED');

      const started = persisted(await h().driver.start(persisted(cluster), callOptions(h())));
      assert.deepEqual(started.nodes.map((n) => n.id), ids, 'start keeps the node ids');
      assert.deepEqual(started.nodes.map((n) => n.rank), cluster.nodes.map((n) => n.rank), 'start keeps the ranks');
      await assertAll(h(), started, 'UP');
      const again = persisted(await h().driver.start(started, callOptions(h())));
      assert.deepEqual(again.nodes.map((n) => n.id), ids, 'starting an UP cluster returns the same nodes');

      await h().driver.terminate(again, callOptions(h()));
      await assertGone(h(), again, ids);
      await h().driver.terminate(again, callOptions(h()));
      await assertGone(h(), again, ids);
    });

    it('terminates a stopped cluster', async (t) => {
      if (h().fixture.stops === false) {
        t.skip('SKIPPED: this driver declares stops:false, so it never has a stopped cluster');
        return;
      }
      const cluster = await provision(h(), clusterRequest(h().fixture));
      await h().driver.stop(cluster, callOptions(h()));
      await h().driver.terminate(cluster, callOptions(h()));
      await assertGone(h(), cluster);
    });

    it('is idempotent per clusterId: provisioning again returns the same cluster', async (t) => {
      const req = clusterRequest(h().fixture);
      const first = await provision(h(), req);
      const afterFirst = await h().driver.capacity(callOptions(h()));
      const second = await provision(h(), req);
      assert.deepEqual(second.nodes.map((n) => n.id), first.nodes.map((n) => n.id), 'the same clusterId must give the same nodes');
      if (skipUnlessTracked(h(), t)) assertSameCapacity(await h().driver.capacity(callOptions(h())), afterFirst, 'after the repeated provision');
    });

    it('keeps clusters apart: distinct node ids, terminating one leaves the other UP', async () => {
      const a = await provision(h(), clusterRequest(h().fixture, { numNodes: 1 }));
      const b = await provision(h(), clusterRequest(h().fixture, { numNodes: 1 }));
      assert.notEqual(a.nodes[0]?.id, b.nodes[0]?.id, 'two clusters share a node id');
      await h().driver.terminate(a, callOptions(h()));
      await assertGone(h(), a);
      await assertAll(h(), b, 'UP');
    });

    it('answers NO_CAPACITY for a request that cannot fit, naming what is left, and creates nothing', async () => {
      const before = await h().driver.capacity(callOptions(h()));
      const impossible = clusterRequest(h().fixture, {
        numNodes: 1,
        resources: { ...(h().fixture.nodeRequest ?? DEFAULT_NODE), cpus: { min: Math.ceil(before.total.cpus) * 2 + 1, orMore: false } },
      });
      let thrown: unknown;
      try {
        const created = await provision(h(), impossible);
        assert.fail(`provisioned ${created.nodes.length} nodes with ${impossible.resources.cpus?.min} CPUs each, more than the total of ${before.total.cpus}`);
      } catch (error) {
        thrown = error;
      }
      const { code, message } = (thrown ?? {}) as { code?: unknown; message?: unknown };
      assert.equal(code, 'NO_CAPACITY', `expected SkyError NO_CAPACITY, got ${String(thrown)}`);
      assert.equal(typeof message, 'string');
      const text = String(message);
      assert.match(text, /free|left|available|remain/i, `the message must say what is left: ${text}`);
      assert.ok(
        numbersIn(text).some((n) => Math.abs(n - before.free.cpus) < 0.01),
        `the message must name the free CPUs (${before.free.cpus}): ${text}`,
      );
      assertSameCapacity(await h().driver.capacity(callOptions(h())), before, 'after a refused provision');
    });

    it('answers feasibility (when it does) as provision decides: a request that fits is feasible, one larger than all it has is not, and asking books nothing', async (t) => {
      const ext = feasibilityExtension(h().driver);
      if (ext === undefined) {
        t.skip('SKIPPED: this driver does not answer feasibility (optional, plugin API 1.3)');
        return;
      }
      const before = await h().driver.capacity(callOptions(h()));
      const fits = clusterRequest(h().fixture);
      assert.deepEqual(await ext.feasible({ numNodes: fits.numNodes, resources: fits.resources }, callOptions(h())), [], 'the request the suite provisions must be feasible');
      const impossible = { numNodes: 1, resources: { ...(h().fixture.nodeRequest ?? DEFAULT_NODE), cpus: { min: Math.ceil(before.total.cpus) * 2 + 1, orMore: false } } };
      const reasons = await ext.feasible(impossible, callOptions(h()));
      assert.ok(reasons.length > 0 && reasons.every((r) => typeof r === 'string' && r.length > 0), `more CPUs than the total (${before.total.cpus}) must be infeasible, with a reason: ${JSON.stringify(reasons)}`);
      assertSameCapacity(await h().driver.capacity(callOptions(h())), before, 'after feasibility questions');
      const cluster = await provision(h(), fits);
      assert.deepEqual(await ext.feasible({ numNodes: fits.numNodes, resources: fits.resources }, callOptions(h())), [], 'feasibility does not depend on what is busy');
      assert.equal(cluster.nodes.length, fits.numNodes);
    });

    it('holds capacity while provisioned and gives it all back after terminate', async (t) => {
      if (!skipUnlessTracked(h(), t)) return;
      const before = await h().driver.capacity(callOptions(h()));
      const cluster = await provision(h(), clusterRequest(h().fixture));
      const during = await h().driver.capacity(callOptions(h()));
      const used = cluster.nodes.reduce((sum, n) => sum + n.resources.cpus, 0);
      assert.ok(
        during.free.cpus <= before.free.cpus - used + 1e-9,
        `free CPUs went from ${before.free.cpus} to ${during.free.cpus} while ${used} CPUs are provisioned`,
      );
      assert.deepEqual(during.total, before.total, 'total capacity does not change with provisioning');
      await h().driver.terminate(cluster, callOptions(h()));
      assertSameCapacity(await h().driver.capacity(callOptions(h())), before, 'after terminate');
    });

    it('honours an aborted signal: provision rejects with CANCELLED and leaves nothing behind', async (t) => {
      const before = await h().driver.capacity(callOptions(h()));
      const req = clusterRequest(h().fixture);
      const aborted = new AbortController();
      aborted.abort(new Error('caller went away'));
      await assert.rejects(h().driver.provision(req, callOptions(h(), aborted.signal)), assertCancelled);
      if (skipUnlessTracked(h(), t)) assertSameCapacity(await h().driver.capacity(callOptions(h())), before, 'after an aborted provision');

      // Aborted while running: either it finished first (then terminate works) or it rejected
      // with CANCELLED and undid what it had done; either way nothing is held afterwards.
      const midway = new AbortController();
      const running = h().driver.provision(clusterRequest(h().fixture), callOptions(h(), midway.signal));
      setImmediate(() => midway.abort(new Error('deadline')));
      try {
        const cluster = await running;
        h().created.push(persisted(cluster));
        await h().driver.terminate(persisted(cluster), callOptions(h()));
      } catch (error) {
        assertCancelled(error);
      }
      if (h().fixture.tracksCapacity !== false) {
        assertSameCapacity(await h().driver.capacity(callOptions(h())), before, 'after a provision aborted midway');
      }
    });

    it('finds its clusters again from the persisted state after a restart', async (t) => {
      const reopen = h().fixture.reopen;
      if (reopen === undefined) {
        t.skip('SKIPPED: the fixture has no reopen(), so a restart cannot be simulated');
        return;
      }
      const cluster = await provision(h(), clusterRequest(h().fixture));
      const restarted = await reopen();
      h().drivers.push(restarted);
      await assertAll(h(), cluster, 'UP', restarted);
      if (h().fixture.stops === false) {
        await assertStopRefused(h(), cluster, restarted);
        await restarted.terminate(persisted(cluster), callOptions(h()));
        await assertGone(h(), cluster);
        return;
      }
      await restarted.stop(cluster, callOptions(h()));
      await assertAll(h(), cluster, 'STOPPED', restarted);
      const started = await restarted.start(cluster, callOptions(h()));
      await assertAll(h(), persisted(started), 'UP', restarted);
      await restarted.terminate(persisted(started), callOptions(h()));
      await assertGone(h(), cluster);
    });
  });
}
