import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Leases } from '@sky/plugin-api';
import { LEADER_LEASE, LeaderElection, type Duty } from '../../core/daemon/src/replicas/leader-election.js';

const TTL = 4000;

/** Leases with expiry judged by a clock the test moves; `down` makes every call fail (the database is away). */
class FakeLeases implements Leases {
  down = false;
  readonly held = new Map<string, { holder: string; until: number }>();
  constructor(private readonly clock: { now: number }) {}

  private live(name: string): { holder: string; until: number } | undefined {
    const lease = this.held.get(name);
    return lease !== undefined && lease.until > this.clock.now ? lease : undefined;
  }

  private check(): void {
    if (this.down) throw new Error('connection refused');
  }

  acquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    this.check();
    const lease = this.live(name);
    if (lease !== undefined && lease.holder !== holder) return Promise.resolve(false);
    this.held.set(name, { holder, until: this.clock.now + ttlMs });
    return Promise.resolve(true);
  }

  renew(name: string, holder: string, ttlMs: number): Promise<boolean> {
    this.check();
    const lease = this.live(name);
    if (lease?.holder !== holder) return Promise.resolve(false);
    lease.until = this.clock.now + ttlMs;
    return Promise.resolve(true);
  }

  release(name: string, holder: string): Promise<boolean> {
    this.check();
    if (this.live(name)?.holder !== holder) return Promise.resolve(false);
    this.held.delete(name);
    return Promise.resolve(true);
  }

  holder(name: string): Promise<string | undefined> {
    this.check();
    return Promise.resolve(this.live(name)?.holder);
  }
}

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A duty that records its starts and stops. */
function duty(log: string[], name: string): Duty {
  return { name, start: () => void log.push(`${name}:start`), stop: () => void log.push(`${name}:stop`) };
}

function election(leases: Leases | undefined, holder: string, clock: { now: number }, log: string[]): LeaderElection {
  const e = new LeaderElection({ leases, holder, ttlMs: TTL, now: () => clock.now, logger: quiet });
  e.register(duty(log, `${holder}.a`));
  e.register(duty(log, `${holder}.b`));
  return e;
}

describe('Leadership (lease leader)', () => {
  it('without leases (a store of its own) the daemon is the leader at once and stops its duties at shutdown', async () => {
    const log: string[] = [];
    const e = election(undefined, 'solo', { now: 0 }, log);
    await e.start(false);
    assert.equal(e.isLeader, true);
    assert.deepEqual(log, ['solo.a:start', 'solo.b:start']);
    await e.stop();
    assert.equal(e.isLeader, false);
    assert.deepEqual(log, ['solo.a:start', 'solo.b:start', 'solo.b:stop', 'solo.a:stop']);
  });

  it('one of two replicas gains the lease and runs the duties; the other waits', async () => {
    const clock = { now: 1000 };
    const leases = new FakeLeases(clock);
    const log: string[] = [];
    const a = election(leases, 'a', clock, log);
    const b = election(leases, 'b', clock, log);
    await a.start(false);
    await b.start(false);
    assert.equal(a.isLeader, true);
    assert.equal(b.isLeader, false);
    assert.deepEqual(log, ['a.a:start', 'a.b:start']);
    assert.equal(await leases.holder(LEADER_LEASE), 'a');
    // Renewals keep it with a; b keeps trying in vain.
    for (let i = 0; i < 6; i++) {
      clock.now += a.periodMs;
      await a.tick();
      await b.tick();
    }
    assert.equal(a.isLeader, true);
    assert.equal(b.isLeader, false);
    await a.stop();
    await b.stop();
  });

  it('the leader died (stops renewing): another takes over once the lease lapsed, not before', async () => {
    const clock = { now: 0 };
    const leases = new FakeLeases(clock);
    const log: string[] = [];
    const a = election(leases, 'a', clock, log);
    const b = election(leases, 'b', clock, log);
    await a.start(false);
    await b.start(false);
    // a is killed: no more ticks from it.
    clock.now += TTL - 1;
    await b.tick();
    assert.equal(b.isLeader, false, 'the lease has not lapsed yet');
    clock.now += 2;
    await b.tick();
    assert.equal(b.isLeader, true);
    assert.deepEqual(log, ['a.a:start', 'a.b:start', 'b.a:start', 'b.b:start']);
  });

  it('a leader that cannot renew (database away) stops its duties before the lease could lapse, then leads again when it can', async () => {
    const clock = { now: 0 };
    const leases = new FakeLeases(clock);
    const log: string[] = [];
    const a = election(leases, 'a', clock, log);
    await a.start(false);
    assert.equal(a.isLeader, true);
    leases.down = true;
    clock.now += a.periodMs;
    await a.tick();
    assert.equal(a.isLeader, true, 'one failed renewal: the lease still has time left');
    clock.now += a.periodMs;
    await a.tick();
    assert.equal(a.isLeader, false, 'stepped down');
    assert.ok(clock.now < TTL, 'before the lease could be taken by another');
    assert.deepEqual(log, ['a.a:start', 'a.b:start', 'a.b:stop', 'a.a:stop']);
    leases.down = false;
    clock.now += a.periodMs;
    await a.tick();
    assert.equal(a.isLeader, true, 'the database is back: a takes its lease again');
    assert.deepEqual(log.slice(4), ['a.a:start', 'a.b:start']);
    await a.stop();
  });

  it('a leader whose lease was taken (a long pause) stops its duties at its next renewal', async () => {
    const clock = { now: 0 };
    const leases = new FakeLeases(clock);
    const log: string[] = [];
    const a = election(leases, 'a', clock, log);
    const b = election(leases, 'b', clock, log);
    await a.start(false);
    await b.start(false);
    clock.now += TTL + 1;
    await b.tick();
    assert.equal(b.isLeader, true);
    // a wakes up: its deadline passed, it stops at once; the renewal it then sends is refused.
    await a.tick();
    assert.equal(a.isLeader, false);
    assert.deepEqual(log, ['a.a:start', 'a.b:start', 'b.a:start', 'b.b:start', 'a.b:stop', 'a.a:stop']);
    assert.equal(await leases.holder(LEADER_LEASE), 'b');
  });

  it('a renewal refused (lost to another) stops the duties', async () => {
    const clock = { now: 0 };
    const leases = new FakeLeases(clock);
    const log: string[] = [];
    const a = election(leases, 'a', clock, log);
    await a.start(false);
    leases.held.set(LEADER_LEASE, { holder: 'z', until: clock.now + TTL });
    clock.now += 10;
    await a.tick();
    assert.equal(a.isLeader, false);
    assert.deepEqual(log, ['a.a:start', 'a.b:start', 'a.b:stop', 'a.a:stop']);
  });

  it('release at clean shutdown: the other replica leads at its next try, without waiting for the lease to lapse', async () => {
    const clock = { now: 0 };
    const leases = new FakeLeases(clock);
    const log: string[] = [];
    const a = election(leases, 'a', clock, log);
    const b = election(leases, 'b', clock, log);
    await a.start(false);
    await b.start(false);
    await a.stop();
    assert.equal(await leases.holder(LEADER_LEASE), undefined);
    clock.now += 1;
    await b.tick();
    assert.equal(b.isLeader, true);
    assert.deepEqual(log, ['a.a:start', 'a.b:start', 'a.b:stop', 'a.a:stop', 'b.a:start', 'b.b:start']);
    await b.stop();
    assert.equal(await leases.holder(LEADER_LEASE), undefined);
  });

  it('a duty that fails to start does not keep the others from starting', async () => {
    const log: string[] = [];
    const e = new LeaderElection({ leases: undefined, holder: 'solo', ttlMs: TTL, now: () => 0, logger: quiet });
    e.register({ name: 'broken', start: () => Promise.reject(new Error('boom')), stop: () => undefined });
    e.register(duty(log, 'ok'));
    await e.start(false);
    assert.deepEqual(log, ['ok:start']);
    await e.stop();
  });
});
