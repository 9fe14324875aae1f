import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { DependencyContainer } from 'tsyringe';
import type { RequestRecord } from '@sky/protocol';
import { LevelStateStore } from '@sky/store-level';
import { compose, createLogger, Daemon, daemonPaths, loadDaemonConfig, LogBus, Scheduler, TOKENS } from '@sky/daemon';
import { removeHome, tempHome, useLocalToken, withLocalToken } from '../helpers/daemon-process.js';

// What a finished request leaves on the daemon's heap: nothing that grows with the number of
// requests. The daemon runs in this process (its own object graph, LevelDB on disk, HTTP on a
// free port) so the test can count the entries of its in-memory structures and see, through weak
// references and a full collection, whether any finished request's record or body is still held.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CLIENTS = 50;
const REQUESTS = 3000;

interface Answer {
  status: number;
  text: string;
  json: unknown;
}

describe('memory kept per finished request', { timeout: 180_000 }, () => {
  let home: string;
  let url: string;
  let daemon: Daemon;
  let container: DependencyContainer;
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });

  function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    return new Promise((resolveCall, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const all = withLocalToken(url, { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) });
      const req = request(`${url}${path}`, { method, headers: all, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const isJson = (res.headers['content-type'] ?? '').includes('json');
          resolveCall({ status: res.statusCode ?? 0, text, json: isJson ? (JSON.parse(text) as unknown) : undefined });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  before(async () => {
    home = tempHome();
    const config = loadDaemonConfig({
      userConfigFile: join(home, '.sky/config.yaml'),
      overrides: { state_dir: join(home, '.sky/api_server'), listen: { host: '127.0.0.1', port: 0 }, shutdown: { drain_seconds: 1 } },
    });
    const paths = daemonPaths(config);
    container = compose({ config, paths, logger: createLogger(paths.logFile, 'warn', false).logger });
    daemon = container.resolve(Daemon);
    url = (await daemon.start()).url;
    useLocalToken(url, home);
  });

  after(async () => {
    agent.destroy();
    await daemon?.stop();
    removeHome(home);
  });

  it('holds no entry, record or body of a finished request, and every one stays queryable from the store', async () => {
    const store = container.resolve<unknown>(TOKENS.Store);
    assert.ok(store instanceof LevelStateStore, 'the personal daemon keeps its state in LevelDB');
    const bus = container.resolve(LogBus);
    const scheduler = container.resolve(Scheduler);
    const listenersAtRest = bus.listenerCount();

    // Weak references to the final record of every request and to its body, as the daemon
    // passes them on when a request ends: whoever kept either would keep it alive.
    const records: WeakRef<RequestRecord>[] = [];
    const bodies: WeakRef<object>[] = [];
    const off = bus.onAnyEnd((record) => {
      records.push(new WeakRef(record));
      if (typeof record.body === 'object' && record.body !== null) bodies.push(new WeakRef(record.body));
    });

    // Many keep-alive clients; every tenth request with an idempotency key, every twentieth one
    // awaited through the wait route (a waiter on the bus while it runs), and every
    // twenty-fifth one writing a log.
    let next = 0;
    const ids: string[] = [];
    const logged: string[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < REQUESTS) {
          const n = next++;
          const headers: Record<string, string> = n % 10 === 0 ? { 'idempotency-key': `memory-${n}` } : {};
          const submitted = await call('POST', '/api/v1/ping', n % 25 === 0 ? { sleep: 0.01 } : {}, headers);
          assert.equal(submitted.status, 202, JSON.stringify(submitted.json));
          const id = (submitted.json as { requestId: string }).requestId;
          ids.push(id);
          if (n % 25 === 0) logged.push(id);
          if (n % 20 === 0) assert.equal((await call('GET', `/api/v1/requests/${id}/wait?timeout=30`)).status, 200);
        }
      }),
    );
    for (let i = 0; i < 600; i += 1) {
      const active = await call('GET', '/api/v1/requests?all_users=true&status=PENDING,RUNNING');
      if ((active.json as { items: unknown[] }).items.length === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    off();
    assert.equal(ids.length, REQUESTS);
    assert.equal(records.length, REQUESTS, 'every request ended');

    // The daemon's own structures hold nothing per finished request.
    assert.deepEqual(store.inMemory(), {
      activeRequests: 0,
      logSequences: 0,
      activeJobs: 0,
      clusters: 0,
      jobCounters: 0,
      sessions: 0,
      activeManagedJobs: 0,
      managedJobLogSequences: 0,
    });
    assert.deepEqual(scheduler.stats(), { queued: { short: 0, long: 0 }, running: { short: 0, long: 0 }, reserved: { requests: 0, users: 0, bodyBytes: 0 } });
    assert.equal(bus.listenerCount(), listenersAtRest, 'streams and waiters left no listener behind');

    // Weak references survive until the turn that made them ends; then a full collection.
    await new Promise((r) => setImmediate(r));
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
    const liveRecords = records.filter((r) => r.deref() !== undefined).length;
    const liveBodies = bodies.filter((r) => r.deref() !== undefined).length;
    // A handful may be referenced by the last batch the store wrote or the last answer sent.
    assert.ok(liveRecords <= 10, `${liveRecords} of ${REQUESTS} finished request records are still on the heap`);
    assert.ok(liveBodies <= 10, `${liveBodies} of ${bodies.length} finished request bodies are still on the heap`);

    // What was not kept in memory is on disk: the first and the last request, their logs, and
    // an idempotent retry that finds its finished request.
    for (const id of [logged[0]!, logged[logged.length - 1]!]) {
      const got = await call('GET', `/api/v1/requests/${id}`);
      assert.equal(got.status, 200);
      assert.equal((got.json as { status: string }).status, 'SUCCEEDED');
      const logs = await call('GET', `/api/v1/requests/${id}/logs`);
      assert.equal(logs.status, 200);
      assert.match(logs.text, /pong/, 'the log of a finished request is read back from the store');
    }
    const retry = await call('POST', '/api/v1/ping', { sleep: 0.01 }, { 'idempotency-key': 'memory-0' });
    assert.equal(retry.status, 202, JSON.stringify(retry.json));
    const again = retry.json as { requestId: string; status: string; created: boolean };
    assert.deepEqual({ status: again.status, created: again.created, known: ids.includes(again.requestId) }, { status: 'SUCCEEDED', created: false, known: true });
    assert.equal((await call('GET', '/api/v1/requests?all_users=true&limit=1')).status, 200);
  });
});
