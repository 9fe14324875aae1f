import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, http, killAllDaemons, removeHome, startDaemon, tempHome, type DaemonHandle } from '../helpers/daemon-process.js';
import { createHosts, type TestHosts } from '../helpers/netns-hosts.js';
import { sshDaemonConfig } from '../helpers/ssh-daemon-config.js';
import { runOperation } from '../helpers/team.js';

// A service on an SSH node pool of two namespace hosts: each replica is python3's http.server on
// its own host, on the service's port (no port of its own: each host has its own network); the
// daemon probes them at the hosts' addresses and balances requests over both.

const ALICE = { 'content-type': 'application/json', 'x-sky-user-id': 'u-alice', 'x-sky-user-name': 'alice' };

interface Service {
  status: string;
  endpoint?: string;
  replicas: Array<{ id: number; status: string; endpoint?: string; cluster: string }>;
}

let set: TestHosts;
let d: DaemonHandle;
let home: string;

async function until(want: (s: Service) => boolean, ms = 120_000): Promise<Service> {
  const end = Date.now() + ms;
  for (;;) {
    const res = await http(`${d.url}/api/v1/services/pyweb`, { headers: ALICE });
    assert.equal(res.status, 200, res.text);
    const { service, events } = res.json() as { service: Service; events: Array<{ text: string }> };
    if (want(service)) return service;
    if (Date.now() > end) throw new Error(`${JSON.stringify(service)}\n${events.map((e) => e.text).join('\n')}`);
    await sleep(250);
  }
}

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    })
      .on('error', reject)
      .end();
  });
}

before(async () => {
  set = await createHosts(2);
  home = tempHome();
  const lbPort = await freePort();
  const config = sshDaemonConfig(set, { fast: true }) + `serve:\n  ports: "${lbPort}-${lbPort + 3}"\n  probe_interval_seconds: 1\n`;
  d = await startDaemon({ home, port: await freePort(), config });
});

after(async () => {
  await runOperation(d.url, 'serve_down', { all: true, purge: true }, ALICE).catch(() => undefined);
  await d?.stop();
  await killAllDaemons();
  await set?.destroy();
  if (home) removeHome(home);
});

describe('sky serve on an SSH node pool', () => {
  it('runs a replica on each host, serves requests from both, and leaves no cluster after down', async () => {
    // The hosts share this machine's file system: each replica serves a directory of its own.
    const run = 'dir=$(mktemp -d) && echo "$SKY_SERVE_REPLICA_ID" > "$dir/id" && cd "$dir" && exec python3 -m http.server "$SKY_SERVE_PORT" --bind 0.0.0.0';
    const task = { resources: { infra: 'ssh/pool-a' }, run, service: { readiness_probe: { path: '/id', initial_delay_seconds: 60 }, replicas: 2, ports: 8080 } };
    const up = await runOperation<{ status: string; result?: { endpoint?: string }; error?: unknown }>(d.url, 'serve_up', { task, service_name: 'pyweb' }, ALICE);
    assert.equal(up.status, 'SUCCEEDED', JSON.stringify(up.error));
    const service = await until((s) => s.replicas.filter((r) => r.status === 'READY').length === 2);
    const hosts = new Set(service.replicas.map((r) => new URL(r.endpoint!).hostname));
    assert.deepEqual([...hosts].sort(), set.hosts.map((h) => h.ip).sort(), 'one replica on each host, at its address');
    assert.ok(service.replicas.every((r) => new URL(r.endpoint!).port === '8080'), 'each on the service port');
    const seen = new Set<string>();
    for (let i = 0; i < 8; i += 1) {
      const res = await get(`${up.result!.endpoint!}/id`);
      assert.equal(res.status, 200, res.body);
      seen.add(res.body.trim());
    }
    assert.deepEqual([...seen].sort(), ['1', '2']);

    const down = await runOperation<{ status: string; result?: { down: string[] }; error?: unknown }>(d.url, 'serve_down', { service_names: ['pyweb'] }, ALICE);
    assert.equal(down.status, 'SUCCEEDED', JSON.stringify(down.error));
    const left = (await http(`${d.url}/api/v1/clusters?all_users=true`, { headers: ALICE })).json() as { items: Array<{ name: string }> };
    assert.deepEqual(left.items.map((c) => c.name), []);
    for (const h of set.hosts) await assert.rejects(get(`http://${h.ip}:8080/id`), 'the replicas stopped with their clusters');
  });
});
