import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SkyError, type RequestRecord } from '@sky/protocol';
import { DaemonConfigSchema, type DaemonPaths } from '../../core/daemon/src/config/schema.js';
import { REPLICA_ID, resolveReplicaId } from '../../core/daemon/src/replica.js';
import { followStoreHealth, Readiness } from '../../core/daemon/src/readiness.js';
import { isStoreRefusal, openBackoffMs, retryableOpenFailure, storeRefusal } from '../../core/daemon/src/store-open.js';
import { storeLocation } from '../../core/daemon/src/store-location.js';
import { showsReplicas } from '../../cli/src/commands/api.js';

function parse(config: Record<string, unknown>): ReturnType<typeof DaemonConfigSchema.safeParse> {
  const saved = process.env.SKY_DB_URL;
  delete process.env.SKY_DB_URL;
  try {
    return DaemonConfigSchema.safeParse(config);
  } finally {
    if (saved !== undefined) process.env.SKY_DB_URL = saved;
  }
}

const PATHS: DaemonPaths = { stateDir: '/srv/sky', storePath: '/srv/sky/state', logFile: '/srv/sky/daemon.log', pidFile: '/srv/sky/daemon.json' };

describe('config replica_id', () => {
  it('is optional', () => {
    const result = parse({});
    assert.ok(result.success);
    assert.equal(result.data.replica_id, undefined);
  });

  for (const id of ['sky-a', 'a', 'node1.example.com', 'Pod_7-x', 'a'.repeat(63)]) {
    it(`accepts ${JSON.stringify(id.length > 20 ? `${id.slice(0, 5)}…(${id.length})` : id)}`, () => {
      const result = parse({ replica_id: id });
      assert.ok(result.success, result.success ? '' : result.error.message);
      assert.equal(result.data.replica_id, id);
    });
  }

  for (const id of ['', '-a', 'a-', 'a b', 'a/b', 'é', 'a'.repeat(64), 'x:y']) {
    it(`refuses ${JSON.stringify(id.length > 20 ? `${id.slice(0, 5)}…(${id.length})` : id)} naming the rule`, () => {
      const result = parse({ replica_id: id });
      assert.equal(result.success, false);
      const issue = result.success ? undefined : result.error.issues[0];
      assert.deepEqual(issue?.path, ['replica_id']);
      assert.match(issue?.message ?? '', /a replica id is 1-63 letters, digits/);
    });
  }

  it('refuses a number', () => {
    assert.equal(parse({ replica_id: 7 }).success, false);
  });
});

describe('resolveReplicaId', () => {
  it('keeps a configured id', () => {
    assert.equal(resolveReplicaId('sky-a', 'host'), 'sky-a');
  });

  it('makes <hostname>-<6 hex> otherwise, new for each process', () => {
    const a = resolveReplicaId(undefined, 'build-7.example.com');
    const b = resolveReplicaId(undefined, 'build-7.example.com');
    assert.match(a, /^build-7\.example\.com-[0-9a-f]{6}$/);
    assert.notEqual(a, b);
  });

  it('turns any host name into a valid id', () => {
    for (const host of ['', '---', 'my host!', 'é.local', 'x'.repeat(200), '-lead.trail-']) {
      const id = resolveReplicaId(undefined, host);
      assert.match(id, REPLICA_ID, `${JSON.stringify(host)} -> ${id}`);
    }
  });
});

describe('store open failures', () => {
  const unreachable = new SkyError('STATE_UNAVAILABLE', 'cannot reach PostgreSQL at postgres://u:***@h/d', { details: { retryAfterSeconds: 5 } });

  it('retries an unreachable database', () => {
    assert.equal(retryableOpenFailure(unreachable), unreachable);
  });

  it('gives up on credentials, a missing database, a newer schema, a locked directory, bad config', () => {
    const fatal = [
      new SkyError('STATE_UNAVAILABLE', 'refused the credentials', { details: { reason: '28P01' } }),
      new SkyError('STATE_UNAVAILABLE', 'no such database', { details: { reason: '3D000' } }),
      new SkyError('STATE_TOO_NEW', 'schema version 9'),
      new SkyError('STATE_LOCKED', 'locked by another process'),
      new SkyError('VALIDATION_FAILED', 'the PostgreSQL URL is not usable'),
      new Error('something else'),
    ];
    for (const err of fatal) {
      assert.equal(retryableOpenFailure(err), undefined, err.message);
      const refusal = storeRefusal(err);
      assert.ok(isStoreRefusal(refusal), err.message);
    }
    assert.equal(isStoreRefusal(new Error('not one')), false);
  });

  it('says to use PostgreSQL for several replicas when LevelDB is locked', () => {
    const refusal = storeRefusal(new SkyError('STATE_LOCKED', 'the state directory /x is locked by another process', { details: { path: '/x' } }));
    assert.ok(refusal instanceof SkyError);
    assert.equal(refusal.code, 'STATE_LOCKED');
    assert.match(refusal.message, /LevelDB is one daemon per state directory/);
    assert.match(refusal.hint ?? '', /several replicas .* PostgreSQL/);
    assert.deepEqual(refusal.details, { path: '/x' });
  });

  it('backs off from 250 ms to at most 5 s, with jitter', () => {
    assert.equal(openBackoffMs(1, () => 0.5), 250);
    assert.equal(openBackoffMs(2, () => 0.5), 500);
    assert.equal(openBackoffMs(30, () => 0.5), 5000);
    assert.equal(openBackoffMs(30, () => 0), 4000);
    assert.equal(openBackoffMs(30, () => 1), 6000);
  });
});

describe('Readiness', () => {
  it('is not ready until started, and follows the store losing and regaining its database', () => {
    const r = new Readiness();
    const listener = followStoreHealth(r);
    const down = new SkyError('STATE_UNAVAILABLE', 'cannot reach PostgreSQL');
    assert.deepEqual([r.ready, r.state, r.error], [false, 'opening', undefined]);
    r.markOpenFailed(down);
    assert.deepEqual([r.ready, r.state, r.error], [false, 'opening', down]);
    r.markStarted();
    assert.deepEqual([r.ready, r.state, r.error], [true, 'open', undefined]);
    listener({ state: 'degraded', error: down });
    assert.deepEqual([r.ready, r.state, r.error], [false, 'unavailable', down]);
    listener({ state: 'recovery-failed' });
    assert.equal(r.ready, false);
    listener({ state: 'recovered' });
    assert.deepEqual([r.ready, r.state, r.error], [true, 'open', undefined]);
  });
});

describe('storeLocation', () => {
  const config = (store: Record<string, unknown>) => {
    const result = parse({ store });
    assert.ok(result.success);
    return result.data;
  };

  it('names host, port, database and schema of PostgreSQL, never the password', () => {
    assert.equal(storeLocation(config({ kind: 'postgres', url: 'postgres://sky:hunter2@db.example/sky_prod?password=x', schema: 'team' }), PATHS), 'postgres://sky@db.example:5432/sky_prod (schema team)');
    assert.equal(storeLocation(config({ kind: 'postgres', url: 'postgresql://db:6543/d' }), PATHS), 'postgres://db:6543/d (schema sky)');
  });

  it('names the LevelDB directory, and nothing for memory', () => {
    assert.equal(storeLocation(config({ kind: 'level' }), PATHS), '/srv/sky/state');
    assert.equal(storeLocation(config({ kind: 'memory' }), PATHS), undefined);
  });
});

describe('sky api status: the REPLICA column', () => {
  const rec = (replica?: string): RequestRecord => ({
    id: 'r', name: 'ping', user: 'u', userName: 'u', workspace: 'default', lane: 'short', status: 'SUCCEEDED', createdAt: 0, body: {}, attempts: 1,
    ...(replica === undefined ? {} : { replica }),
  });
  const pg = (replica: string) => ({ replica, store: { kind: 'postgres', state: 'open' as const } });

  it('stays hidden with one replica', () => {
    assert.equal(showsReplicas([rec('a'), rec('a'), rec()], pg('a')), false);
    assert.equal(showsReplicas([], pg('a')), false);
  });

  it('shows when another replica ran a request', () => {
    assert.equal(showsReplicas([rec('a'), rec('b')], pg('a')), true);
    assert.equal(showsReplicas([rec('b')], pg('a')), true);
    assert.equal(showsReplicas([rec('a'), rec('b')], undefined), true);
  });

  it('stays hidden on a store of one daemon (ids differ only across restarts)', () => {
    assert.equal(showsReplicas([rec('a'), rec('b')], { replica: 'c', store: { kind: 'level', state: 'open' } }), false);
  });
});
