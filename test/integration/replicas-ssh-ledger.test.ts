import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClusterRecord, RequestRecord } from '@sky/protocol';
import { http, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { Replicas } from '../helpers/pg-replicas.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { runOperation } from '../helpers/team.js';
import { adminQuery, testDatabaseUrl } from './store-postgres-fixture.js';

// Two replicas on one PostgreSQL, each with its own state directory (nothing shared on disk),
// driving one SSH node pool of three sshd hosts: the driver's ledger of held hosts is a plugin
// document in the shared store, so the replicas never hand one host to two clusters, and a host
// freed through one replica is free for the other.

const HEADERS = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

type Rec = RequestRecord & { error?: { code: string; message: string } };

const replicas = new Replicas();
let set: TestHosts;

before(async () => {
  set = await createHosts(3);
});
after(async () => {
  await replicas.cleanup();
  await set?.destroy();
});

async function cluster(url: string, name: string): Promise<ClusterRecord> {
  const res = await http(`${url}/api/v1/clusters/${name}`, { headers: HEADERS });
  assert.equal(res.status, 200, res.text);
  return res.json() as ClusterRecord;
}

const launch = (url: string, name: string): Promise<Rec> => runOperation<Rec>(url, 'launch', { cluster: name, task: { run: 'true' } }, HEADERS);

describe('the SSH ledger in a shared store', { timeout: 300_000 }, () => {
  it('two replicas launching at once on one pool never share a host; the ledger is in the store, not on either replica\'s disk', async () => {
    const url = await testDatabaseUrl();
    const schema = replicas.schema();
    const config = (replica: string): string =>
      `replica_id: ${replica}\nreplicas:\n  lease_seconds: 4\nstore:\n  kind: postgres\n  url: ${url}\n  schema: ${schema}\n` + sshDaemonConfig(set);
    const a: DaemonHandle = await replicas.start(config('ledger-a'));
    const b: DaemonHandle = await replicas.start(config('ledger-b'));

    // Three clusters at once over both replicas, one host each: all three hosts, each once.
    const launched = await Promise.all([launch(a.url, 'c1'), launch(b.url, 'c2'), launch(a.url, 'c3')]);
    for (const rec of launched) assert.equal(rec.status, 'SUCCEEDED', JSON.stringify(rec.error));
    const held = await Promise.all(['c1', 'c2', 'c3'].map(async (name) => (await cluster(b.url, name)).nodes[0]!.address));
    assert.equal(new Set(held).size, 3, `hosts held: ${held.join(', ')}`);

    // The pool is full, as seen from either replica.
    const full = await launch(b.url, 'c4');
    assert.equal(full.status, 'FAILED');
    assert.equal(full.error?.code, 'NO_CAPACITY', JSON.stringify(full.error));

    // Taken down through the replica that did not launch it: its host is free for the other one.
    const down = await runOperation<Rec>(b.url, 'down', { cluster: 'c1' }, HEADERS);
    assert.equal(down.status, 'SUCCEEDED', JSON.stringify(down.error));
    const again = await launch(b.url, 'c5');
    assert.equal(again.status, 'SUCCEEDED', JSON.stringify(again.error));
    assert.equal((await cluster(a.url, 'c5')).nodes[0]!.address, held[0]);

    const [doc] = await adminQuery<{ value: { clusters: Record<string, { clusterName: string }> } }>(`SELECT value FROM "${schema}".plugin_documents WHERE plugin = 'ssh' AND name = 'ledger'`);
    assert.ok(doc !== undefined, 'the ledger is a document in the store');
    assert.deepEqual(Object.values(doc.value.clusters).map((c) => c.clusterName).sort(), ['c2', 'c3', 'c5']);
    for (const replica of [a, b]) {
      const dataDir = join(replica.home, '.sky', 'api_server', 'plugins', 'ssh');
      assert.ok(existsSync(dataDir), `the ssh driver's data directory ${dataDir}`);
      assert.ok(!existsSync(join(dataDir, 'ledger.json')), `no ledger file in ${dataDir}`);
    }

    for (const name of ['c2', 'c3', 'c5']) assert.equal((await runOperation<Rec>(a.url, 'down', { cluster: name }, HEADERS)).status, 'SUCCEEDED');
    assert.equal(await a.stop(), 0, a.stderr());
    assert.equal(await b.stop(), 0, b.stderr());
  });
});
